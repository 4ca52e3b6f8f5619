"""``gitward import`` round trip: objects applied by Argo CD and Flux, their
configuration imported, and ``gitward diff`` finds nothing to change; a sync
then adopts them (tracking only) without conflicts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import argocd_examples
from tests.fixtures import Git, Gitward, create_namespace, kubectl

pytestmark = pytest.mark.slow

ARGO = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source: {{repoURL: '{url}', targetRevision: main, path: guestbook}}
  destination: {{server: 'https://kubernetes.default.svc', namespace: guestbook}}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
"""
FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: examples, namespace: flux-system}}
spec:
  interval: 1m
  url: '{url}'
  ref: {{branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: kustomize-guestbook, namespace: flux-system}}
spec:
  interval: 10m
  sourceRef: {{kind: GitRepository, name: examples}}
  path: ./kustomize-guestbook
  targetNamespace: flux-apps
  prune: true
"""


def _as_old_tool(
    gitward: Gitward,
    cluster: Any,
    app_file: Path,
    config: Path,
    manager: str,
    labels: dict[str, str],
) -> None:
    """Apply what the Application renders the way the old tool did: its field
    manager, its tracking labels, no gitward stamps."""
    rendered = gitward("render", str(app_file), "--config", str(config)).stdout
    documents = []
    for document in yaml.safe_load_all(rendered):
        document["metadata"].setdefault("labels", {}).update(labels)
        documents.append(document)
    namespace = yaml.safe_load(app_file.read_text())["spec"]["destination"]["namespace"]
    kubectl(
        cluster,
        "apply",
        "--server-side",
        f"--field-manager={manager}",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=yaml.safe_dump_all(documents),
    )


def test_import_then_diff_shows_no_changes_then_sync_adopts(
    git: Git, gitward: Gitward, cluster: Any, tmp_path: Path
) -> None:
    git.commit("examples", argocd_examples.repository())
    sources = tmp_path / "old-tools"
    sources.mkdir()
    (sources / "argocd.yaml").write_text(ARGO.format(url=git.url))
    (sources / "flux.yaml").write_text(FLUX.format(url=git.url))
    out = tmp_path / "imported"
    done = gitward("import", str(sources), "--out", str(out))
    assert "Imported 2 Application(s)" in done.stdout
    argo_app = out / "apps" / "application-guestbook.yaml"
    flux_app = out / "apps" / "application-kustomize-guestbook.yaml"
    assert argo_app.exists() and flux_app.exists()
    written = yaml.safe_load((out / "gitward.yaml").read_text())
    assert written["targets"] == {"in-cluster": {"inCluster": True}}
    # The agent's configuration: the imported target, pointed at the test cluster.
    config = tmp_path / "gitward.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "targets": {"in-cluster": {"kubeconfig": str(cluster.kubeconfig)}},
                "cacheDir": str(tmp_path / "cache"),
            }
        )
    )
    create_namespace(cluster, "guestbook")
    create_namespace(cluster, "flux-apps")
    _as_old_tool(
        gitward,
        cluster,
        argo_app,
        config,
        "argocd-controller",
        {"app.kubernetes.io/instance": "guestbook"},
    )
    _as_old_tool(
        gitward,
        cluster,
        flux_app,
        config,
        "kustomize-controller",
        {
            "kustomize.toolkit.fluxcd.io/name": "kustomize-guestbook",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        },
    )
    for app_file, count in ((argo_app, 2), (flux_app, 2)):
        diff = gitward("diff", str(app_file), "--config", str(config))  # exit 0
        assert "0 to create" in diff.stdout and "0 to prune" in diff.stdout
        assert f"In sync with Git: {count} object(s) applied by another tool" in diff.stdout
        # Adopting takes the old tool's fields over without force.
        sync = gitward("sync", str(app_file), "--config", str(config))
        assert "Succeeded" in sync.stdout
        again = gitward("diff", str(app_file), "--config", str(config))
        assert "In sync: nothing to create, update or prune." in again.stdout


def _crd(group: str, kind: str, plural: str) -> str:
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: {kind}, plural: {plural}, singular: {kind.lower()}, listKind: {kind}List}}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def test_import_from_a_live_cluster(gitward: Gitward, cluster: Any, tmp_path: Path) -> None:
    kubectl(cluster, "apply", "-f", "-", stdin=_crd("argoproj.io", "Application", "applications"))
    create_namespace(cluster, "argocd")
    application = ARGO.format(url="https://git.example.com/deploy.git")
    for _ in range(50):  # the CRD's kind is served once Established
        done = kubectl(cluster, "apply", "-f", "-", stdin=application, check=False)
        if done.returncode == 0:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(done.stderr)
    out = tmp_path / "from-cluster"
    result = gitward(
        "import", "--from-cluster", "--kubeconfig", str(cluster.kubeconfig), "--out", str(out)
    )
    assert "Imported 1 Application(s)" in result.stdout
    imported = yaml.safe_load((out / "apps" / "application-guestbook.yaml").read_text())
    assert imported["spec"]["source"] == {
        "repoURL": "https://git.example.com/deploy.git",
        "ref": "main",
        "path": "guestbook",
    }
    assert imported["spec"]["syncPolicy"]["cascadeDelete"] is True
