"""A repository shaped like Argo CD's public example applications
(argoproj/argocd-example-apps), written for these tests: the same directories,
kinds, hook and wave annotations, delete policies, ``generateName`` hooks,
chart layout, Kustomize bases and Jsonnet features, so that a repository
written for Argo CD is what gitward is tested on. Images are placeholders (the
API test server runs no containers; an image containing "fail" fails).
"""

from __future__ import annotations

GUESTBOOK_IMAGE = "gcr.io/google-samples/gb-frontend:v5"


def _deployment(name: str, image: str = GUESTBOOK_IMAGE, label: str = "app") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {label}: {name}
  template:
    metadata:
      labels:
        {label}: {name}
    spec:
      containers:
        - image: {image}
          name: {name}
          ports:
            - containerPort: 80
"""


def _service(name: str, port: int = 80, label: str = "app") -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports:
    - port: {port}
      targetPort: 80
  selector:
    {label}: {name}
"""


def _job(name: str, annotations: dict[str, str], *, generate: bool = False, sleep: int = 2) -> str:
    naming = f"generateName: {name}" if generate else f"name: {name}"
    notes = "".join(f'    {key}: "{value}"\n' for key, value in annotations.items())
    return f"""\
apiVersion: batch/v1
kind: Job
metadata:
  {naming}
  annotations:
{notes}spec:
  template:
    spec:
      containers:
        - name: {name}
          image: alpine:latest
          command: ["sleep", "{sleep}"]
      restartPolicy: Never
  backoffLimit: 0
"""


def _replica_set(name: str, tier: str, annotations: dict[str, str] | None = None) -> str:
    notes = "".join(f'    {key}: "{value}"\n' for key, value in (annotations or {}).items())
    meta = f"  annotations:\n{notes}" if notes else ""
    return f"""\
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {name}
{meta}spec:
  replicas: 1
  selector:
    matchLabels:
      tier: {tier}
  template:
    metadata:
      labels:
        tier: {tier}
    spec:
      containers:
        - name: main
          image: nginx:latest
"""


def _tier_service(name: str, port: int, annotations: dict[str, str] | None = None) -> str:
    notes = "".join(f'    {key}: "{value}"\n' for key, value in (annotations or {}).items())
    meta = f"  annotations:\n{notes}" if notes else ""
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: {name}
{meta}spec:
  selector:
    tier: {name}
  ports:
    - protocol: TCP
      port: {port}
      targetPort: {port}
"""


def guestbook() -> dict[str, str]:
    return {
        "guestbook/guestbook-ui-deployment.yaml": _deployment("guestbook-ui"),
        "guestbook/guestbook-ui-svc.yaml": _service("guestbook-ui"),
    }


def helm_guestbook() -> dict[str, str]:
    helpers = """\
{{- define "helm-guestbook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "helm-guestbook.fullname" -}}
{{- printf "%s-%s" .Release.Name (include "helm-guestbook.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
"""
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ template "helm-guestbook.fullname" . }}
  labels:
    app: {{ template "helm-guestbook.name" . }}
    release: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app: {{ template "helm-guestbook.name" . }}
      release: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ template "helm-guestbook.name" . }}
        release: {{ .Release.Name }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: 80
"""
    service = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ template "helm-guestbook.fullname" . }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
  selector:
    app: {{ template "helm-guestbook.name" . }}
    release: {{ .Release.Name }}
"""
    return {
        "helm-guestbook/.helmignore": ".git\n*.swp\n",
        "helm-guestbook/Chart.yaml": (
            "apiVersion: v2\nname: helm-guestbook\ndescription: A Helm chart for Kubernetes\n"
            "version: 0.1.0\nappVersion: '1.0'\n"
        ),
        "helm-guestbook/values.yaml": (
            "replicaCount: 1\nimage:\n  repository: gcr.io/google-samples/gb-frontend\n"
            "  tag: v5\n  pullPolicy: IfNotPresent\nservice:\n  type: ClusterIP\n  port: 80\n"
        ),
        "helm-guestbook/values-production.yaml": "service:\n  type: LoadBalancer\n",
        "helm-guestbook/templates/NOTES.txt": "Get the application URL from the Service.\n",
        "helm-guestbook/templates/_helpers.tpl": helpers,
        "helm-guestbook/templates/deployment.yaml": deployment,
        "helm-guestbook/templates/service.yaml": service,
    }


def kustomize_guestbook() -> dict[str, str]:
    return {
        "kustomize-guestbook/guestbook-ui-deployment.yaml": _deployment("guestbook-ui"),
        "kustomize-guestbook/guestbook-ui-svc.yaml": _service("guestbook-ui"),
        "kustomize-guestbook/kustomization.yaml": (
            "namePrefix: kustomize-\n\nresources:\n"
            "- guestbook-ui-deployment.yaml\n- guestbook-ui-svc.yaml\n"
        ),
    }


def pre_post_sync() -> dict[str, str]:
    policy = "argocd.argoproj.io/hook-delete-policy"
    return {
        "pre-post-sync/kustomization.yaml": (
            "namePrefix: pre-post-sync-\n\nresources:\n- ../kustomize-guestbook\n"
            "- pre-sync-job.yaml\n- post-sync-job.yaml\n"
        ),
        "pre-post-sync/pre-sync-job.yaml": _job(
            "before", {"argocd.argoproj.io/hook": "PreSync", policy: "HookSucceeded"}
        ),
        "pre-post-sync/post-sync-job.yaml": _job(
            "after", {"argocd.argoproj.io/hook": "PostSync", policy: "HookSucceeded"}
        ),
    }


def sync_waves() -> dict[str, str]:
    hook, policy, wave = (
        "argocd.argoproj.io/hook",
        "argocd.argoproj.io/hook-delete-policy",
        "argocd.argoproj.io/sync-wave",
    )
    documents = [
        _job("upgrade-sql-schema", {hook: "PreSync"}, generate=True),
        _replica_set("backend", "backend"),
        _tier_service("backend", 8080),
        _job("maint-page-up", {hook: "Sync", policy: "BeforeHookCreation", wave: "1"}),
        _replica_set("frontend", "frontend", {wave: "2"}),
        _tier_service("frontend", 80, {wave: "2"}),
        _job("maint-page-down", {hook: "Sync", policy: "BeforeHookCreation", wave: "3"}),
    ]
    return {"sync-waves/manifests.yaml": "---\n" + "---\n".join(documents)}


def helm_hooks() -> dict[str, str]:
    hook, policy, weight = "helm.sh/hook", "helm.sh/hook-delete-policy", "helm.sh/hook-weight"
    documents = [
        _job("upgrade-sql-schema", {hook: "pre-install", weight: "-2"}, generate=True),
        _job(
            "maint-page-up",
            {hook: "pre-install", policy: "before-hook-creation", weight: "-1"},
        ),
        _replica_set("frontend", "frontend"),
        _tier_service("frontend", 80, {weight: "2"}),
        _job("maint-page-down", {hook: "post-install", policy: "before-hook-creation"}),
    ]
    return {"helm-hooks/manifests.yaml": "---\n" + "---\n".join(documents)}


_JSONNET_BODY = """\
[
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: %(name)s },
    spec: {
      ports: [{ port: %(servicePort)s, targetPort: %(containerPort)s }],
      selector: { app: %(name)s },
      type: %(type)s,
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: %(name)s },
    spec: {
      replicas: %(replicas)s,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { app: %(name)s } },
      template: {
        metadata: { labels: { app: %(name)s } },
        spec: {
          containers: [{
            image: %(image)s,
            name: %(name)s,
            ports: [{ containerPort: %(containerPort)s }],
          }],
        },
      },
    },
  },
]
"""
_FIELDS = ("name", "servicePort", "containerPort", "type", "replicas", "image")


def jsonnet_guestbook() -> dict[str, str]:
    body = _JSONNET_BODY % {field: f"params.{field}" for field in _FIELDS}
    return {
        "jsonnet-guestbook/guestbook-ui.jsonnet": "local params = import 'params.libsonnet';\n\n"
        + body,
        "jsonnet-guestbook/params.libsonnet": (
            "{\n  containerPort: 80,\n  image: 'gcr.io/google-samples/gb-frontend:v5',\n"
            "  name: 'jsonnet-guestbook-ui',\n  replicas: 1,\n  servicePort: 80,\n"
            "  type: 'LoadBalancer',\n}\n"
        ),
    }


def jsonnet_guestbook_tla() -> dict[str, str]:
    signature = (
        "function (\n    containerPort=80,\n    image='gcr.io/google-samples/gb-frontend:v5',\n"
        "    name='jsonnet-guestbook-ui',\n    replicas=1,\n    servicePort=80,\n"
        "    type='LoadBalancer'\n)\n"
    )
    body = _JSONNET_BODY % {field: field for field in _FIELDS}
    return {"jsonnet-guestbook-tla/guestbook-ui.jsonnet": signature + body}


SOCK_SHOP_SERVICES = (
    "carts-db",
    "carts",
    "catalogue-db",
    "catalogue",
    "front-end",
    "orders-db",
    "orders",
    "payment",
    "queue-master",
    "rabbitmq",
    "session-db",
    "shipping",
    "user-db",
    "user",
)


def sock_shop() -> dict[str, str]:
    files: dict[str, str] = {}
    resources: list[str] = []
    for name in SOCK_SHOP_SERVICES:
        files[f"sock-shop/base/{name}-dep.yaml"] = "---\n" + _deployment(
            name, image=f"weaveworksdemos/{name}:0.4.8", label="name"
        )
        files[f"sock-shop/base/{name}-svc.yaml"] = "---\n" + _service(name, label="name")
        resources += [f"base/{name}-dep.yaml", f"base/{name}-svc.yaml"]
        if name == "front-end":
            files["sock-shop/base/front-end-ingress.yaml"] = """\
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: front-end-ingress
  labels:
    name: front-end
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: 100M
    nginx.ingress.kubernetes.io/app-root: '/'
spec:
  ingressClassName: nginx
  rules:
    - host: sockshop.example.com
      http:
        paths:
          - path: /
            pathType: ImplementationSpecific
            backend:
              service:
                name: front-end
                port:
                  number: 80
"""
            resources.append("base/front-end-ingress.yaml")
    files["sock-shop/kustomization.yaml"] = "resources:\n" + "".join(
        f"  - {path}\n" for path in sorted(resources)
    )
    return files


WORDPRESS_TEMPLATES = {
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-wordpress
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}-wordpress}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-wordpress}
    spec:
      containers:
        - name: wordpress
          image: "docker.io/bitnami/wordpress:{{ .Values.image.tag }}"
          env:
            - {name: WORDPRESS_DATABASE_HOST, value: {{ .Values.externalDatabase.host | quote }}}
""",
    "secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-wordpress
type: Opaque
stringData:
  wordpress-password: {{ .Values.wordpressPassword | quote }}
""",
    "service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-wordpress
spec:
  selector: {app: {{ .Release.Name }}-wordpress}
  ports: [{port: 80, targetPort: 8080}]
""",
}
WORDPRESS_VALUES = {
    "image": {"tag": "5.3.2"},
    "wordpressPassword": "",
    "externalDatabase": {"host": "mariadb"},
    "mariadb": {"enabled": True},
}


def helm_dependency(repository: str) -> dict[str, str]:
    """A chart in Git whose only content is a dependency on a chart of a Helm
    repository (``repository``), customised by the umbrella's values."""
    return {
        "helm-dependency/Chart.yaml": (
            "apiVersion: v2\nname: wordpress\ndescription: A Helm chart for Kubernetes\n"
            "type: application\nversion: 0.1.0\nappVersion: '1.0'\n\ndependencies:\n"
            f"- name: wordpress\n  version: 9.0.3\n  repository: {repository}\n"
        ),
        "helm-dependency/values.yaml": (
            "wordpress:\n  wordpressPassword: foo\n  mariadb:\n    db:\n      password: bar\n"
        ),
        "helm-dependency/values-nomaria.yaml": (
            "mariadb:\n  enabled: false\n\nwordpress:\n  wordpressPassword: foo\n"
            "  mariadb:\n    enabled: false\n  externalDatabase:\n    host: localhost\n"
            "    user: bn_wordpress\n    database: bitnami_wordpress\n    port: 3306\n"
        ),
        "helm-dependency/README.md": "# Helm dependencies\n",
    }


def repository() -> dict[str, str | None]:
    """Every example, at the paths Argo CD's repository has them."""
    files: dict[str, str | None] = {}
    for part in (
        guestbook,
        helm_guestbook,
        kustomize_guestbook,
        pre_post_sync,
        sync_waves,
        helm_hooks,
        jsonnet_guestbook,
        jsonnet_guestbook_tla,
        sock_shop,
    ):
        files.update(part())
    return files
