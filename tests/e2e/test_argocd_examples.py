"""Issue 18 acceptance: repositories written for Argo CD sync unchanged.

A repository shaped like Argo CD's example applications (``argocd_examples``)
synced against the API test server: hooks and waves run in Argo CD's order,
hook objects are deleted per their policy, ``generateName`` hooks are created
once per run and the previous run removed before the next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitward.config import applications, settings
from gitward.engine import reconciling, runtimes
from gitward.model import operations
from tests import chartrepos
from tests.e2e import argocd_examples
from tests.fixtures import Git, Gitward, create_namespace, kget

pytestmark = pytest.mark.slow


def application(
    url: str, path: str, namespace: str, render: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": {"name": path},
        "spec": {
            "source": {"repoURL": url, "ref": "main", "path": path},
            "render": render or {},
            "destination": {"target": "test", "namespace": namespace},
            "syncPolicy": {"healthTimeout": "30s", "createNamespace": True},
        },
    }


async def sync(cluster: Any, tmp_path: Path, document: dict[str, Any]) -> reconciling.SyncReport:
    conf = settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
            "cacheDir": str(tmp_path / "cache"),
        }
    )
    app = applications.parse(document, "app.yaml")
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=conf)) as runtime:
        return await reconciling.sync(runtime, app, trigger="test", report_health=True)


def steps(report: reconciling.SyncReport) -> list[tuple[str, str, str]]:
    """(phase, kind, name) of every result, in the order things happened."""
    return [(r.phase.value, r.key.kind, r.key.name) for r in report.operation.results]


def succeeded(report: reconciling.SyncReport) -> None:
    assert report.operation.phase is operations.OperationPhase.SUCCEEDED, (
        report.operation.message,
        [(str(r.key), r.code.value, r.message) for r in report.operation.results],
    )


def jobs(cluster: Any, namespace: str) -> list[str]:
    found = kget(cluster, "-n", namespace, "jobs") or {"items": []}
    return sorted(item["metadata"]["name"] for item in found["items"])


@pytest.fixture
def examples(git: Git) -> Git:
    git.commit("argo cd examples", argocd_examples.repository())
    return git


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("guestbook", {("Deployment", "guestbook-ui"), ("Service", "guestbook-ui")}),
        (
            "helm-guestbook",
            {
                ("Deployment", "helm-guestbook-helm-guestbook"),
                ("Service", "helm-guestbook-helm-guestbook"),
            },
        ),
        (
            "kustomize-guestbook",
            {("Deployment", "kustomize-guestbook-ui"), ("Service", "kustomize-guestbook-ui")},
        ),
        (
            "jsonnet-guestbook",
            {("Deployment", "jsonnet-guestbook-ui"), ("Service", "jsonnet-guestbook-ui")},
        ),
    ],
)
async def test_guestbooks_sync_and_become_healthy(
    examples: Git, cluster: Any, tmp_path: Path, path: str, expected: set[tuple[str, str]]
) -> None:
    report = await sync(cluster, tmp_path, application(examples.url, path, path))
    succeeded(report)
    assert {(kind, name) for _, kind, name in steps(report)} >= expected
    for kind, name in expected:
        assert kget(cluster, "-n", path, kind.lower(), name) is not None
    deployment = next(k for k in report.outcome.health if k.kind == "Deployment")
    assert report.outcome.health[deployment].status.value in ("Healthy", "Progressing")


async def test_pre_post_sync_hooks_run_around_the_sync_and_are_deleted(
    examples: Git, cluster: Any, tmp_path: Path
) -> None:
    report = await sync(cluster, tmp_path, application(examples.url, "pre-post-sync", "pps"))
    succeeded(report)
    order = steps(report)
    names = [name for _, _, name in order]
    assert order[names.index("pre-post-sync-before")][0] == "PreSync"
    assert order[names.index("pre-post-sync-after")][0] == "PostSync"
    assert (
        names.index("pre-post-sync-before")
        < names.index("pre-post-sync-kustomize-guestbook-ui")
        < names.index("pre-post-sync-after")
    )
    # HookSucceeded: both Jobs are gone once they succeeded.
    assert jobs(cluster, "pps") == []
    messages = {r.key.name: r.message for r in report.operation.results}
    assert "deleted (HookSucceeded)" in messages["pre-post-sync-after"]


async def test_sync_waves_in_argo_order_with_a_generated_presync_hook(
    examples: Git, cluster: Any, tmp_path: Path
) -> None:
    document = application(examples.url, "sync-waves", "waves")
    report = await sync(cluster, tmp_path, document)
    succeeded(report)
    order = [(phase, kind, name) for phase, kind, name in steps(report) if kind != "Namespace"]
    generated = order[0]
    assert generated[0] == "PreSync" and generated[2].startswith("upgrade-sql-schema")
    assert generated[2] != "upgrade-sql-schema*"  # the server named it
    assert [(phase, kind, name) for phase, kind, name in order[1:]] == [
        ("Sync", "Service", "backend"),  # wave 0: Services before workloads
        ("Sync", "ReplicaSet", "backend"),
        ("Sync", "Job", "maint-page-up"),  # wave 1, a Sync hook
        ("Sync", "Service", "frontend"),  # wave 2
        ("Sync", "ReplicaSet", "frontend"),
        ("Sync", "Job", "maint-page-down"),  # wave 3
    ]
    first_run = jobs(cluster, "waves")
    assert generated[2] in first_run
    # Again: BeforeHookCreation (the default) removes the previous run's
    # objects, the generated one included, before creating the next.
    again = await sync(cluster, tmp_path, document)
    succeeded(again)
    second_run = jobs(cluster, "waves")
    assert len(second_run) == 3
    assert generated[2] not in second_run
    assert {"maint-page-up", "maint-page-down"} <= set(second_run)


async def test_helm_hooks_map_to_phases_and_weights_as_in_argo(
    examples: Git, cluster: Any, tmp_path: Path
) -> None:
    report = await sync(cluster, tmp_path, application(examples.url, "helm-hooks", "helm-hooks"))
    succeeded(report)
    order = [(phase, kind, name) for phase, kind, name in steps(report) if kind != "Namespace"]
    assert order[0][0] == "PreSync" and order[0][2].startswith("upgrade-sql-schema")  # weight -2
    assert order[1:] == [
        ("PreSync", "Job", "maint-page-up"),  # pre-install, weight -1
        ("Sync", "ReplicaSet", "frontend"),  # wave 0
        ("Sync", "Service", "frontend"),  # hook-weight 2 is its wave
        ("PostSync", "Job", "maint-page-down"),  # post-install
    ]
    waves = {r.key.name: r.wave for r in report.operation.results}
    assert waves["frontend"] in (0, 2) and waves["maint-page-up"] == -1
    # before-hook-creation keeps the last run's Jobs until the next sync.
    assert len(jobs(cluster, "helm-hooks")) == 3


async def test_jsonnet_guestbook_tla_with_its_arguments(
    examples: Git, cluster: Any, tmp_path: Path
) -> None:
    render = {"jsonnet": {"tlas": {"name": "jsonnet-guestbook-tla-ui", "replicas": 2}}}
    document = application(examples.url, "jsonnet-guestbook-tla", "tla", render)
    report = await sync(cluster, tmp_path, document)
    succeeded(report)
    deployment = kget(cluster, "-n", "tla", "deployment", "jsonnet-guestbook-tla-ui")
    assert deployment["spec"]["replicas"] == 2
    service = kget(cluster, "-n", "tla", "service", "jsonnet-guestbook-tla-ui")
    assert service["spec"]["type"] == "LoadBalancer"  # the function's default


async def test_sock_shop_says_its_ingress_is_still_progressing(
    examples: Git, gitward: Gitward, cluster: Any, tmp_path: Path
) -> None:
    create_namespace(cluster, "sock-shop")
    app_file = tmp_path / "sock-shop.yaml"
    import yaml

    app_file.write_text(yaml.safe_dump(application(examples.url, "sock-shop", "sock-shop")))
    config = tmp_path / "gitward.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "targets": {"test": {"kubeconfig": str(cluster.kubeconfig)}},
                "cacheDir": str(tmp_path / "cache"),
            }
        )
    )
    done = gitward("sync", str(app_file), "--config", str(config))
    output = " ".join(done.stdout.split())
    assert "Succeeded" in output
    # Deployments may still be rolling out; the Ingress stays Progressing
    # (no ingress controller publishes an address), and the output says so.
    not_healthy = output.partition("not healthy yet:")[2]
    assert "Ingress.networking.k8s.io sock-shop/front-end-ingress (Progressing)" in not_healthy
    assert (
        "health Ingress.networking.k8s.io sock-shop/front-end-ingress: Progressing Waiting for "
        "the ingress controller to publish an address" in output
    )
    for name in argocd_examples.SOCK_SHOP_SERVICES:
        assert kget(cluster, "-n", "sock-shop", "deployment", name) is not None


async def test_helm_dependency_from_a_helm_repository(
    git: Git, cluster: Any, tmp_path: Path
) -> None:
    with chartrepos.serving(tmp_path / "served") as served:
        served.add(
            chartrepos.package(
                tmp_path,
                "wordpress",
                "9.0.3",
                templates=argocd_examples.WORDPRESS_TEMPLATES,
                values=argocd_examples.WORDPRESS_VALUES,
                destination=tmp_path / "dist",
            )
        )
        git.commit("helm-dependency", argocd_examples.helm_dependency(served.url))
        render = {"helm": {"valueFiles": ["values-nomaria.yaml"]}}
        document = application(git.url, "helm-dependency", "wordpress", render)
        report = await sync(cluster, tmp_path, document)
    succeeded(report)
    assert {(kind, name) for _, kind, name in steps(report)} >= {
        ("Deployment", "helm-dependency-wordpress"),
        ("Service", "helm-dependency-wordpress"),
        ("Secret", "helm-dependency-wordpress"),
    }
    deployment = kget(cluster, "-n", "wordpress", "deployment", "helm-dependency-wordpress")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    # The umbrella's values reach the dependency (values-nomaria.yaml).
    assert container["env"] == [{"name": "WORDPRESS_DATABASE_HOST", "value": "localhost"}]
    assert container["image"] == "docker.io/bitnami/wordpress:5.3.2"
    assert "+sha256:" in report.operation.revision.sha  # the dependency's digest is recorded
