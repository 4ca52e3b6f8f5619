"""``gitward import`` translation, field by field, on Argo CD and Flux manifests
written from their documentation (declarative setup, ApplicationSet generators,
Flux source/kustomize/helm controllers)."""

from __future__ import annotations

from typing import Any

import yaml

from gitward.config import applications, appsets
from gitward.config.importing import results, translating

ARGO_APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  labels: {team: web}
  annotations:
    notifications.argoproj.io/subscribe.on-sync-succeeded.slack: my-channel
    owner: web-team
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: web
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: helm-guestbook
    helm:
      releaseName: guestbook
      valueFiles: [values-production.yaml]
      parameters:
        - {name: image.tag, value: v2}
        - {name: replicaCount, value: "3", forceString: true}
      values: |
        ingress:
          enabled: true
      valuesObject:
        service: {type: ClusterIP}
      skipCrds: true
      fileParameters:
        - {name: config, path: files/config.json}
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
  syncPolicy:
    automated: {prune: true, selfHeal: true, allowEmpty: false}
    syncOptions: [CreateNamespace=true, PruneLast=true, ServerSideApply=true]
    retry:
      limit: 5
      backoff: {duration: 5s, factor: 2, maxDuration: 3m}
    managedNamespaceMetadata:
      labels: {any: label}
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers: [/spec/replicas]
    - kind: ConfigMap
      jqPathExpressions: [.data.x]
  revisionHistoryLimit: 10
"""

ARGO_KUSTOMIZE_JSONNET = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: kustomized, namespace: argocd}
spec:
  source:
    repoURL: https://git.example.com/deploy.git
    targetRevision: v1.2.0
    path: overlays/prod
    kustomize:
      namePrefix: prod-
      nameSuffix: -v1
      namespace: shop
      images: [gcr.io/heptio-images/ks-guestbook-demo:0.2]
      commonLabels: {env: prod}
      commonAnnotations: {owner: shop}
      patches: [{target: {kind: Deployment}, patch: "[]"}]
  destination: {name: prod-cluster, namespace: shop}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: jsonnet-guestbook-tla, namespace: argocd}
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    path: jsonnet-guestbook-tla
    directory:
      recurse: true
      jsonnet:
        tlas:
          - {name: name, value: jsonnet-guestbook-tla-ui}
          - {name: replicas, value: "2", code: true}
        extVars:
          - {name: env, value: prod}
        libs: [vendor]
  destination: {server: https://kubernetes.default.svc, namespace: default}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: from-plugin, namespace: argocd}
spec:
  source:
    repoURL: https://git.example.com/deploy.git
    path: app
    plugin: {name: cdk8s}
  destination: {server: https://10.0.0.1:6443, namespace: x}
"""

ARGO_PROJECT = """\
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: web, namespace: argocd}
spec:
  description: Web team
  sourceRepos: ['https://github.com/argoproj/*']
  destinations:
    - {namespace: guestbook, server: https://kubernetes.default.svc}
    - {namespace: '*', name: prod-cluster}
  clusterResourceWhitelist:
    - {group: '', kind: Namespace}
  namespaceResourceBlacklist:
    - {group: '', kind: ResourceQuota}
  roles:
    - {name: read-only, policies: ['p, proj:web:read-only, applications, get, web/*, allow']}
  syncWindows:
    - {kind: allow, schedule: '10 1 * * *', duration: 1h}
"""

ARGO_APPSETS = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: guestbook, namespace: argocd}
spec:
  generators:
    - clusters:
        selector:
          matchLabels: {env: staging}
  template:
    metadata:
      name: '{{name}}-guestbook'
      labels: {env: '{{metadata.labels.env}}'}
    spec:
      project: default
      source:
        repoURL: https://github.com/argoproj/argocd-example-apps.git
        targetRevision: HEAD
        path: guestbook
      destination:
        name: '{{name}}'
        namespace: guestbook
  syncPolicy:
    preserveResourcesOnDeletion: false
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: addons, namespace: argocd}
spec:
  goTemplate: true
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/argoproj/argo-cd.git
              revision: HEAD
              directories: [{path: 'addons/*'}, {path: addons/exclude-me, exclude: true}]
          - list:
              elements: [{env: dev}, {env: prod}]
  template:
    metadata:
      name: '{{.path.basename}}-{{.env}}'
    spec:
      source:
        repoURL: https://github.com/argoproj/argo-cd.git
        targetRevision: HEAD
        path: '{{.path.path}}'
      destination: {server: https://kubernetes.default.svc, namespace: '{{.path.basename}}'}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: prs, namespace: argocd}
spec:
  generators:
    - pullRequest:
        github: {owner: org, repo: app}
  template:
    metadata: {name: 'pr-{{number}}'}
    spec:
      source: {repoURL: https://github.com/org/app.git, path: deploy}
      destination: {server: https://kubernetes.default.svc, namespace: 'pr-{{number}}'}
"""

FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 5m
  url: https://github.com/stefanprodan/podinfo
  ref: {branch: master}
  secretRef: {name: git-auth}
  ignore: |
    /*
    !/kustomize
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: charts, namespace: flux-system}
spec:
  url: ssh://git@github.com/org/charts
  ref: {tag: v2.0.0}
  secretRef: {name: ssh-credentials}
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: podinfo-oci, namespace: flux-system}
spec:
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  ref: {tag: latest}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: bitnami, namespace: flux-system}
spec:
  url: https://charts.bitnami.com/bitnami
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: podinfo, namespace: flux-system}
spec:
  interval: 10m
  retryInterval: 2m
  timeout: 5m
  targetNamespace: apps
  sourceRef: {kind: GitRepository, name: podinfo}
  path: ./kustomize
  prune: true
  force: true
  wait: true
  images:
    - {name: ghcr.io/stefanprodan/podinfo, newTag: 6.5.0}
  commonMetadata:
    labels: {team: podinfo}
  decryption:
    provider: sops
    secretRef: {name: sops-age}
  dependsOn: [{name: infrastructure}]
  postBuild:
    substitute: {cluster_env: prod}
    substituteFrom:
      - {kind: ConfigMap, name: cluster-vars}
  healthChecks:
    - {kind: Deployment, name: podinfo, namespace: apps}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: from-oci, namespace: flux-system}
spec:
  interval: 10m
  sourceRef: {kind: OCIRepository, name: podinfo-oci}
  path: ./
  prune: true
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: podinfo-chart, namespace: flux-system}
spec:
  url: oci://ghcr.io/stefanprodan/charts/podinfo
  ref: {semver: 6.5.0}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo-oci, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: podinfo-chart, namespace: flux-system}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: backend, namespace: shop}
spec:
  interval: 5m
  releaseName: shop-backend
  targetNamespace: shop
  chart:
    spec:
      chart: ./charts/backend
      sourceRef: {kind: GitRepository, name: charts, namespace: flux-system}
      valuesFiles: [charts/backend/values.yaml, env/prod-values.yaml]
  values:
    replicaCount: 2
  valuesFrom:
    - {kind: ConfigMap, name: backend-values}
  install:
    crds: Skip
    createNamespace: true
  dependsOn: [{name: database}]
  suspend: true
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: redis, namespace: shop}
spec:
  chart:
    spec:
      chart: redis
      version: 18.x
      sourceRef: {kind: HelmRepository, name: bitnami, namespace: flux-system}
"""


def _translate(*texts: str) -> results.Imported:
    documents = [d for text in texts for d in yaml.safe_load_all(text)]
    return translating.translate(documents)


def _notes(imported: results.Imported, source: str) -> dict[str, str]:
    return {n.field: n.reason for n in imported.notes if n.source == source}


def _app(imported: results.Imported, name: str) -> dict[str, Any]:
    return next(a for a in imported.applications if a["metadata"]["name"] == name)


def test_argo_application_helm_field_by_field() -> None:
    imported = _translate(ARGO_APPLICATION)
    app = _app(imported, "guestbook")
    applications.parse(app, "test")
    assert app["metadata"] == {
        "name": "guestbook",
        "project": "web",
        "labels": {"team": "web"},
        "annotations": {"owner": "web-team"},
    }
    spec = app["spec"]
    assert spec["source"] == {
        "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
        "ref": "HEAD",
        "path": "helm-guestbook",
    }
    assert spec["render"] == {
        "helm": {
            "releaseName": "guestbook",
            "valueFiles": ["values-production.yaml"],
            "values": {"ingress": {"enabled": True}, "service": {"type": "ClusterIP"}},
            "set": ["image.tag=v2", "replicaCount=3"],
            "includeCRDs": False,
        }
    }
    assert spec["destination"] == {"target": "in-cluster", "namespace": "guestbook"}
    policy = spec["syncPolicy"]
    assert policy["automated"] == {"prune": True, "selfHeal": True, "allowEmpty": False}
    assert policy["createNamespace"] is True
    assert policy["cascadeDelete"] is True  # the resources finalizer
    assert policy["retry"] == {
        "limit": 5,
        "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"},
    }
    assert "argocd-controller" in policy["takeOverFrom"]
    assert spec["ignoreDifferences"] == [
        {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
    ]
    assert imported.settings()["targets"] == {"in-cluster": {"inCluster": True}}
    notes = _notes(imported, "Application argocd/guestbook")
    assert set(notes) == {
        "metadata.annotations[notifications.argoproj.io/subscribe.on-sync-succeeded.slack]",
        "spec.source.helm.parameters[replicaCount].forceString",
        "spec.source.helm.fileParameters",
        "spec.syncPolicy.syncOptions[PruneLast=true]",
        "spec.syncPolicy.managedNamespaceMetadata",
        "spec.ignoreDifferences[1].jqPathExpressions",
        "spec.revisionHistoryLimit",
    }
    assert "jsonPointers" in notes["spec.ignoreDifferences[1].jqPathExpressions"]


def test_argo_kustomize_jsonnet_and_plugins() -> None:
    imported = _translate(ARGO_KUSTOMIZE_JSONNET)
    kustomized = _app(imported, "kustomized")
    assert kustomized["spec"]["source"]["ref"] == "v1.2.0"
    assert kustomized["spec"]["render"] == {
        "kustomize": {
            "namePrefix": "prod-",
            "nameSuffix": "-v1",
            "namespace": "shop",
            "commonLabels": {"env": "prod"},
            "commonAnnotations": {"owner": "shop"},
            "images": ["gcr.io/heptio-images/ks-guestbook-demo:0.2"],
        }
    }
    assert kustomized["spec"]["destination"] == {"target": "prod-cluster", "namespace": "shop"}
    assert imported.targets["prod-cluster"] == {"kubeconfig": "", "context": "prod-cluster"}
    notes = _notes(imported, "Application argocd/kustomized")
    assert "spec.source.kustomize.patches" in notes
    assert "spec.destination.name" in notes
    tla = _app(imported, "jsonnet-guestbook-tla")
    assert tla["spec"]["render"] == {
        "jsonnet": {
            "recurse": True,
            "tlas": {"name": "jsonnet-guestbook-tla-ui", "replicas": 2},
            "extVars": {"env": "prod"},
            "libs": ["vendor"],
        }
    }
    plugin = _app(imported, "from-plugin")
    assert plugin["spec"]["destination"]["target"] == "10-0-0-1"
    notes = _notes(imported, "Application argocd/from-plugin")
    assert "config management plugins" in notes["spec.source.plugin"]
    assert "spec.destination.server" in notes


ARGO_SOURCES = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: ingress, namespace: argocd}
spec:
  sources:
    - repoURL: https://kubernetes.github.io/ingress-nginx
      chart: ingress-nginx
      targetRevision: 4.11.2
      helm:
        valueFiles: [$values/ingress/prod.yaml]
    - repoURL: https://git.example.com/org/deploy.git
      targetRevision: main
      ref: values
  destination: {server: https://kubernetes.default.svc, namespace: ingress}
"""


def test_argo_chart_and_multiple_sources() -> None:
    imported = _translate(ARGO_SOURCES)
    app = _app(imported, "ingress")
    applications.parse(app, "test")
    assert app["spec"]["sources"] == [
        {
            "repoURL": "https://kubernetes.github.io/ingress-nginx",
            "chart": "ingress-nginx",
            "version": "4.11.2",
            "render": {"helm": {"valueFiles": ["$values/ingress/prod.yaml"]}},
        },
        {
            "repoURL": "https://git.example.com/org/deploy.git",
            "ref": "main",
            "path": "",
            "name": "values",
        },
    ]
    assert _notes(imported, "Application argocd/ingress") == {}


def test_argo_project_field_by_field() -> None:
    imported = _translate(ARGO_PROJECT)
    (project,) = imported.projects
    applications.parse_project(project, "test")
    assert project["metadata"] == {"name": "web"}
    assert project["spec"] == {
        "description": "Web team",
        "sourceRepos": ["https://github.com/argoproj/*"],
        "destinations": [
            {"target": "in-cluster", "namespace": "guestbook"},
            {"target": "prod-cluster", "namespace": "*"},
        ],
        "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
    }
    notes = _notes(imported, "AppProject argocd/web")
    assert set(notes) == {
        "spec.destination.name",  # the target's context is assumed to bear its name
        "spec.namespaceResourceBlacklist",
        "spec.roles",
        "spec.syncWindows",
    }


def test_argo_application_sets_in_gitwards_shape() -> None:
    imported = _translate(ARGO_APPSETS)
    by_name = {s["metadata"]["name"]: s for s in imported.application_sets}
    assert set(by_name) == {"guestbook", "addons"}
    for document in by_name.values():
        appsets.parse(document, "test")
    guestbook = by_name["guestbook"]["spec"]
    assert guestbook["generators"] == [
        {"targets": {"selector": {"matchLabels": {"env": "staging"}}}}
    ]
    assert guestbook["template"]["metadata"] == {
        "name": "{{target.name}}-guestbook",
        "labels": {"env": "{{target.labels.env}}"},
        "project": "default",
    }
    assert guestbook["template"]["spec"]["destination"] == {
        "target": "{{target.name}}",
        "namespace": "guestbook",
    }
    assert by_name["guestbook"]["spec"]["syncPolicy"] == {"cascadeDelete": True}
    addons = by_name["addons"]["spec"]
    assert addons["generators"] == [
        {
            "matrix": {
                "generators": [
                    {
                        "gitDirectories": {
                            "repoURL": "https://github.com/argoproj/argo-cd.git",
                            "ref": "HEAD",
                            "directories": [
                                {"path": "addons/*"},
                                {"path": "addons/exclude-me", "exclude": True},
                            ],
                        }
                    },
                    {"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}},
                ]
            }
        }
    ]
    assert addons["template"]["metadata"]["name"] == "{{path.basename}}-{{env}}"
    assert addons["template"]["spec"]["source"]["path"] == "{{path.path}}"
    notes = _notes(imported, "ApplicationSet argocd/prs")
    assert "no gitward equivalent" in notes["spec.generators[pullRequest]"]


def test_flux_kustomization_field_by_field() -> None:
    imported = _translate(FLUX)
    app = _app(imported, "podinfo")
    applications.parse(app, "test")
    spec = app["spec"]
    assert spec["source"] == {
        "repoURL": "https://github.com/stefanprodan/podinfo",
        "ref": "master",
        "path": "kustomize",
    }
    assert spec["render"] == {
        "kustomize": {
            "namespace": "apps",
            "images": ["ghcr.io/stefanprodan/podinfo=ghcr.io/stefanprodan/podinfo:6.5.0"],
            "commonLabels": {"team": "podinfo"},
        }
    }
    assert spec["destination"] == {"target": "in-cluster", "namespace": "apps"}
    assert spec["syncPolicy"] == {
        "automated": {"prune": True, "selfHeal": True},
        "takeOverFrom": ["kubectl", "kubectl-*", "before-first-apply", "kustomize-controller"],
        "interval": "10m",
        "retry": {"backoff": {"duration": "2m", "factor": 1}},
        "healthTimeout": "5m",
        "force": True,
    }
    assert spec["decryption"] == {"keyRef": "sops-age"}
    assert spec["dependsOn"] == ["infrastructure"]
    settings = imported.settings()
    assert settings["decryptionKeys"] == {"sops-age": {"ageKeyEnv": "SOPS_AGE_SOPS_AGE"}}
    assert {
        "url": "https://github.com/stefanprodan/podinfo",
        "username": "git",
        "passwordEnv": "FLUX_SYSTEM_GIT_AUTH_PASSWORD",
    } in settings["repositories"]
    assert spec["postBuild"] == {
        "substitute": {"cluster_env": "prod"},
        "substituteFrom": ["flux-system-cluster-vars"],
    }
    assert imported.settings()["variables"] == {
        "flux-system-cluster-vars": {
            "target": "in-cluster",
            "namespace": "flux-system",
            "kind": "ConfigMap",
            "name": "cluster-vars",
        }
    }
    notes = _notes(imported, "Kustomization flux-system/podinfo")
    assert {"spec.healthChecks", "spec.decryption.secretRef"} <= set(notes)
    assert "GitRepository" not in str(_notes(imported, "GitRepository flux-system/podinfo"))
    assert "spec.ignore" in _notes(imported, "GitRepository flux-system/podinfo")


def test_flux_helm_release_and_unsupported_sources() -> None:
    imported = _translate(FLUX)
    backend = _app(imported, "backend")
    applications.parse(backend, "test")
    spec = backend["spec"]
    assert spec["source"] == {
        "repoURL": "ssh://git@github.com/org/charts",
        "ref": "v2.0.0",
        "path": "charts/backend",
    }
    assert spec["render"] == {
        "helm": {
            # Flux names values files from the repository root, gitward from the chart.
            "valueFiles": ["values.yaml", "../../env/prod-values.yaml"],
            "values": {"replicaCount": 2},
            "releaseName": "shop-backend",
            "includeCRDs": False,
        }
    }
    assert spec["destination"] == {"target": "in-cluster", "namespace": "shop"}
    assert spec["syncPolicy"]["createNamespace"] is True
    assert spec["syncPolicy"]["takeOverFrom"][-1] == "helm-controller"
    assert spec["dependsOn"] == ["database"] and spec["suspend"] is True
    assert {
        "url": "ssh://git@github.com/org/charts",
        "sshKeyFile": "/run/secrets/ssh-credentials/identity",
        "knownHostsFile": "/run/secrets/ssh-credentials/known_hosts",
    } in imported.repositories
    assert "spec.valuesFrom" in _notes(imported, "HelmRelease shop/backend")
    names = {a["metadata"]["name"] for a in imported.applications}
    assert names == {"podinfo", "backend", "redis", "podinfo-oci"}  # not from-oci: manifests
    redis = _app(imported, "redis")["spec"]
    assert redis["source"] == {
        "repoURL": "https://charts.bitnami.com/bitnami",
        "chart": "redis",
        "version": "18.x",
    }
    assert redis["render"]["helm"]["releaseName"] == "redis"
    oci = _app(imported, "podinfo-oci")["spec"]
    assert oci["source"] == {
        "repoURL": "oci://ghcr.io/stefanprodan/charts/podinfo",
        "version": "6.5.0",
    }
    notes = _notes(imported, "Kustomization flux-system/from-oci")
    assert "OCIRepository" in notes["spec.sourceRef"]


def test_other_documents_are_ignored() -> None:
    imported = _translate("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert imported.applications == [] and imported.notes == []
