"""Applications on charts from a Helm repository and an OCI registry, synced to the
Kubernetes API test server; several sources; substitution; refusals apply nothing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest

from gitward.config import applications
from gitward.config import settings as config_settings
from gitward.engine import reconciling, runtimes
from gitward.model import operations
from tests import chartrepos
from tests.fixtures import Git, create_namespace, kubectl
from tests.images import registry as registry_server

pytestmark = pytest.mark.slow


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[chartrepos.HelmRepo]:
    with chartrepos.serving(tmp_path / "served") as served:
        for version in ("4.10.0", "4.11.2", "5.0.0"):
            served.add(
                chartrepos.package(tmp_path, "ingress", version, destination=tmp_path / "dist")
            )
        yield served


def make_settings(cluster: Any, tmp_path: Path, **extra: Any) -> config_settings.Settings:
    return config_settings.Settings.model_validate(
        {
            "targets": {"test": {"kubeconfig": str(cluster.kubeconfig), "labels": {"env": "qa"}}},
            "cacheDir": str(tmp_path / "cache"),
            **extra,
        }
    )


@pytest.fixture
async def runtime(cluster: Any, tmp_path: Path) -> AsyncIterator[runtimes.Runtime]:
    create_namespace(cluster, "web")
    settings = make_settings(
        cluster,
        tmp_path,
        repositories=[{"url": "oci://127.0.0.1:*", "plainHTTP": True}],
    )
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as opened:
        yield opened


def app(spec: dict[str, Any], name: str = "ingress") -> applications.Application:
    return applications.Application.model_validate(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {"destination": {"target": "test", "namespace": "web"}, **spec},
        }
    )


def live(cluster: Any, name: str, field: str) -> str:
    done = kubectl(
        cluster,
        "-n",
        "web",
        "get",
        "configmap",
        name,
        "-o",
        f"jsonpath={{.data.{field}}}",
        check=False,
    )
    return done.stdout


async def test_helm_repository_chart_syncs_and_a_wider_range_picks_the_newer_version(
    cluster: Any, runtime: runtimes.Runtime, repo: chartrepos.HelmRepo
) -> None:
    source = {"repoURL": repo.url, "chart": "ingress", "version": ">=4.10 <5"}
    report = await reconciling.sync(runtime, app({"source": source}), trigger="test")
    assert report.operation.phase is operations.OperationPhase.SUCCEEDED, report.operation.message
    assert live(cluster, "ingress-settings", "version") == "4.11.2"
    revision = report.operation.revision
    assert revision.sha.startswith("ingress-4.11.2@sha256:")
    assert revision.ref == "ingress 4.11.2"
    # Idempotent: planning again changes nothing.
    desired = await reconciling.desired_state(runtime, app({"source": source}))
    again = await reconciling.plan(runtime, app({"source": source}), desired)
    assert again.in_sync
    wider = {**source, "version": ">=4.10"}
    report = await reconciling.sync(runtime, app({"source": wider}), trigger="test")
    assert report.operation.revision.ref == "ingress 5.0.0"
    assert live(cluster, "ingress-settings", "version") == "5.0.0"
    # The former revision, given back, renders the former version (rollback).
    back = await reconciling.sync(
        runtime, app({"source": wider}), trigger="rollback", revision=revision.sha
    )
    assert back.operation.revision.sha == revision.sha
    assert live(cluster, "ingress-settings", "version") == "4.11.2"


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("mismatch", "differs from"),
        ("missing", "no version matches"),
        ("unreachable", "127.0.0.1:9"),
        ("oversized", "byte limit"),
        ("escaping", "climbs out of the chart"),
    ],
)
async def test_refused_chart_names_it_and_applies_and_prunes_nothing(
    cluster: Any, tmp_path: Path, repo: chartrepos.HelmRepo, case: str, error: str
) -> None:
    create_namespace(cluster, "web")
    settings = make_settings(cluster, tmp_path, charts={"maxArchiveBytes": 2048})
    async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
        good = app({"source": {"repoURL": repo.url, "chart": "ingress", "version": "4.10.0"}})
        first = await reconciling.sync(runtime, good, trigger="test", prune=True)
        assert first.operation.phase is operations.OperationPhase.SUCCEEDED
        chart, url, version = "ingress", repo.url, "5.0.0"
        if case == "mismatch":
            repo.tamper_digest("ingress", "5.0.0")
        elif case == "missing":
            version = ">=9"
        elif case == "unreachable":
            url = "http://127.0.0.1:9"
        elif case == "oversized":
            big = {"noise.yaml": "# " + secrets.token_hex(4000) + "\n"}
            repo.add(
                chartrepos.package(
                    tmp_path, "ingress", "6.0.0", templates=big, destination=tmp_path / "big"
                )
            )
            version = "6.0.0"
        else:
            chart = "evil"
            repo.add_unchecked(
                "evil", "1.0.0", chartrepos.evil_archive("evil", "1.0.0", "evil/../x")
            )
            version = "1.0.0"
        bad = app({"source": {"repoURL": url, "chart": chart, "version": version}})
        report = await reconciling.sync(runtime, bad, trigger="test", prune=True)
        assert report.operation.phase is operations.OperationPhase.FAILED
        assert report.operation.reason == "SourceFailed"
        assert f"chart {chart}" in report.operation.message
        assert error in report.operation.message
        assert not report.operation.results  # nothing applied, nothing pruned
        assert live(cluster, "ingress-settings", "version") == "4.10.0"


async def test_oci_chart_syncs_by_range_and_by_digest(
    cluster: Any, runtime: runtimes.Runtime, tmp_path: Path
) -> None:
    if not registry_server.available():
        pytest.skip(f"{registry_server.BINARY} is absent (Debian package docker-registry)")
    with registry_server.running(tmp_path / "registry", "open") as registry:
        for version in ("1.14.0", "1.15.3", "2.0.0"):
            archive = chartrepos.package(
                tmp_path, "cert-manager", version, destination=tmp_path / "oci"
            )
            helm_python.push(archive, f"oci://{registry.host}/charts", plain_http=True)
        url = f"oci://{registry.host}/charts/cert-manager"
        source = {"repoURL": url, "version": "~1.14 || ~1.15"}
        report = await reconciling.sync(
            runtime, app({"source": source}, name="cert-manager"), trigger="test"
        )
        assert report.operation.phase is operations.OperationPhase.SUCCEEDED, (
            report.operation.message
        )
        assert report.operation.revision.ref == "cert-manager 1.15.3"
        assert live(cluster, "cert-manager-settings", "version") == "1.15.3"
        manifest = helm_python.RegistryClient(plain_http=True).resolve(f"{url}:1.14.0")
        pinned = {"repoURL": f"{url}@{manifest['digest']}"}
        report = await reconciling.sync(
            runtime, app({"source": pinned}, name="cert-manager"), trigger="test"
        )
        assert report.operation.phase is operations.OperationPhase.SUCCEEDED, (
            report.operation.message
        )
        assert live(cluster, "cert-manager-settings", "version") == "1.14.0"


async def test_chart_with_values_from_git_and_substitution(
    git: Git, cluster: Any, runtime: runtimes.Runtime, repo: chartrepos.HelmRepo
) -> None:
    git.commit(
        "values",
        {
            "env/prod.yaml": "greeting: hi from ${target_env}\n",
            "extra/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"
                "data: {region: '${region:=eu-west}', size: '${size}'}\n"
            ),
        },
    )
    spec = {
        "sources": [
            {"repoURL": repo.url, "chart": "ingress", "version": "4.11.2"},
            {"repoURL": git.url, "ref": "main", "name": "values"},
            {"repoURL": git.url, "ref": "main", "path": "extra", "render": {"directory": {}}},
        ],
        "render": {"helm": {"valueFiles": ["$values/env/prod.yaml"]}},
        "postBuild": {"substitute": {"size": "large"}},
    }
    multi = app(spec)
    report = await reconciling.sync(runtime, multi, trigger="test")
    assert report.operation.phase is operations.OperationPhase.SUCCEEDED, report.operation.message
    assert live(cluster, "ingress-settings", "greeting") == "hi from qa"
    assert live(cluster, "extra", "region") == "eu-west"
    assert live(cluster, "extra", "size") == "large"
    parts = report.operation.revision.sha.split(",")
    assert parts[0].startswith("ingress-4.11.2@sha256:") and len(parts) == 3
    assert "ingress 4.11.2" in report.operation.revision.ref


async def test_chart_in_git_gets_its_remote_dependency_from_its_repository(
    git: Git, cluster: Any, runtime: runtimes.Runtime, repo: chartrepos.HelmRepo
) -> None:
    git.commit(
        "umbrella",
        {
            "platform/Chart.yaml": (
                "apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n"
                f"  - {{name: ingress, version: '~4.10', repository: '{repo.url}'}}\n"
            ),
            "platform/values.yaml": "ingress: {greeting: from the umbrella}\n",
        },
    )
    declared = app({"source": {"repoURL": git.url, "ref": "main", "path": "platform"}}, "platform")
    report = await reconciling.sync(runtime, declared, trigger="test")
    assert report.operation.phase is operations.OperationPhase.SUCCEEDED, report.operation.message
    assert live(cluster, "platform-settings", "version") == "4.10.0"
    assert live(cluster, "platform-settings", "greeting") == "from the umbrella"
    sha, _, dependency = report.operation.revision.sha.partition("+")
    assert len(sha) == 40 and dependency.startswith("sha256:")
    # The dependency's repository must be allowed by the Project.
    project = applications.Project.model_validate(
        {
            "apiVersion": "gitward.dev/v1",
            "kind": "Project",
            "metadata": {"name": "default"},
            "spec": {"sourceRepos": [git.url]},
        }
    )
    refused = await reconciling.sync(runtime, declared, trigger="test", project=project)
    assert refused.operation.reason == "PolicyViolation"
    assert repo.url in refused.operation.message
