"""Bearer tokens, TLS, least-privilege identities and a server that goes away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from kubeobjects import configmap, deploy, namespace

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import ForbiddenError, KubernetesTarget, connecting
from gitward.testing import kubeapi

ADMIN = "admin-token-1234"
TEAM = "team-token-5678"


@pytest.fixture
async def secured() -> AsyncIterator[kubeapi.KubeAPIServer]:
    async with kubeapi.KubeAPIServer(
        token=ADMIN,
        tls=True,
        tokens={TEAM: "team-a"},
        authorize={"team-a": {"namespaces": ["team-a", "team-b"]}},
    ) as running:
        yield running


def _kubeconfig(server: kubeapi.KubeAPIServer, path: Path, token: str) -> Path:
    server.write_kubeconfig(path)
    config = yaml.safe_load(path.read_text())
    for user in config["users"]:
        user["user"]["token"] = token
    path.write_text(yaml.safe_dump(config))
    return path


async def test_token_and_tls(secured: kubeapi.KubeAPIServer, tmp_path: Path) -> None:
    assert secured.url.startswith("https://")
    path = _kubeconfig(secured, tmp_path / "admin", ADMIN)
    target = KubernetesTarget.connect("secure", kubeconfig=path, timeout=5)
    try:
        [_, cm] = await deploy(target, "shop", "web", namespace("web"), configmap("a"))
        assert (await target.apply(cm, force=False)).outcome is base.ApplyOutcome.UNCHANGED
        assert [o["metadata"]["name"] for o in await target.inventory("shop")] == ["a", "web"]
    finally:
        await target.close()


async def test_tls_without_the_ca_is_unavailable(
    secured: kubeapi.KubeAPIServer, tmp_path: Path
) -> None:
    path = _kubeconfig(secured, tmp_path / "no-ca", ADMIN)
    config = yaml.safe_load(path.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"].pop("certificate-authority-data", None)
        cluster["cluster"].pop("certificate-authority", None)
    path.write_text(yaml.safe_dump(config))
    target = KubernetesTarget.connect("secure", kubeconfig=path, timeout=5)
    try:
        with pytest.raises(errors.TargetUnavailable) as caught:
            await target.read([resources.ResourceKey("", "ConfigMap", "default", "a")])
    finally:
        await target.close()
    assert secured.url in str(caught.value)


async def test_wrong_token_is_refused_without_leaking_it(
    secured: kubeapi.KubeAPIServer, tmp_path: Path
) -> None:
    path = _kubeconfig(secured, tmp_path / "wrong", "not-a-valid-token")
    target = KubernetesTarget.connect("secure", kubeconfig=path, timeout=5)
    try:
        with pytest.raises(errors.GitwardError) as caught:
            await target.prepare([configmap("a")], app="shop", namespace="web")
    finally:
        await target.close()
    assert isinstance(caught.value, errors.ConfigError)
    assert "401 Unauthorized" in str(caught.value)
    assert secured.url in str(caught.value)
    assert "not-a-valid-token" not in str(caught.value)


async def test_identity_limited_to_one_namespace(
    secured: kubeapi.KubeAPIServer, tmp_path: Path
) -> None:
    admin = KubernetesTarget.connect("a", kubeconfig=_kubeconfig(secured, tmp_path / "a", ADMIN))
    team = KubernetesTarget.connect(
        "t", kubeconfig=_kubeconfig(secured, tmp_path / "t", TEAM), watch_namespace_poll=0.1
    )
    try:
        await deploy(admin, "ops", "", *(namespace(n) for n in ("team-a", "team-b", "other")))
        [cm] = await deploy(team, "team", "team-a", configmap("a", color="blue"))
        # Listing ConfigMaps cluster-wide is forbidden: the inventory lists
        # in team-a only.
        [listed] = await team.inventory("team")
        assert resources.ResourceKey.of(listed) == cm.key
        assert (await team.read([cm.key]))[cm.key] is not None

        events = team.watch("", "ConfigMap")
        try:
            async with asyncio.timeout(5):
                first = await anext(events)
            assert (first.type, first.key) == (base.WatchEventType.ADDED, cm.key)
            await deploy(team, "team", "team-a", configmap("b"))
            async with asyncio.timeout(5):
                second = await anext(events)
            assert second.key.name == "b"
            # A namespace the Application starts using later is watched too.
            [later] = await deploy(team, "team", "team-b", configmap("c"))
            async with asyncio.timeout(5):
                third = await anext(events)
            assert third.key == later.key
        finally:
            await events.aclose()

        [outside] = await team.prepare([configmap("x", "other")], app="team", namespace="team-a")
        with pytest.raises(errors.ApplyError) as caught:
            await team.apply(outside, force=False)
        assert "ConfigMap other/x" in str(caught.value)
        assert "forbidden" in str(caught.value).lower()
        with pytest.raises(ForbiddenError) as read_error:
            await team.read([outside.key])
        assert "ConfigMap other/x" in str(read_error.value)
        assert await team.delete(cm.key, uid=str(listed["metadata"]["uid"])) is True
    finally:
        await team.close()
        await admin.close()


async def test_server_going_away_is_unavailable_and_watches_recover(tmp_path: Path) -> None:
    server = kubeapi.KubeAPIServer(history_size=3)
    await server.start()
    try:
        # Reconnecting waits at least a second: the test changes the cluster
        # in that gap, more than the server's history can replay.
        target = KubernetesTarget.connect(
            "t",
            kubeconfig=server.write_kubeconfig(tmp_path / "kc"),
            timeout=1,
            watch_backoff=(1.0, 2.0),
        )
        other = KubernetesTarget.connect("o", kubeconfig=tmp_path / "kc", timeout=1)
        try:
            await deploy(target, "shop", "web", namespace("web"), configmap("doomed"))
            events = target.watch("", "ConfigMap")
            async with asyncio.timeout(5):
                while (await anext(events)).key.name != "doomed":
                    pass
            watch = target.watches.active("", "ConfigMap")
            assert watch is not None
            url = server.url
            await server.stop()
            with pytest.raises(errors.TargetUnavailable) as caught:
                await target.read([resources.ResourceKey("", "ConfigMap", "web", "doomed")])
            assert url in str(caught.value)
            await server.start()
            # Changes the watch cannot replay: more than history_size events,
            # one of them a deletion.
            await other.delete(resources.ResourceKey("", "ConfigMap", "web", "doomed"))
            await deploy(other, "shop", "web", *(configmap(f"new-{i}") for i in range(5)))
            seen: dict[str, base.WatchEventType] = {}
            async with asyncio.timeout(10):
                while len(seen) < 6 or seen.get("doomed") is not base.WatchEventType.DELETED:
                    event = await anext(events)
                    seen[event.key.name] = event.type
            assert watch.lists >= 2  # 410 Gone made it list again
            await events.aclose()
        finally:
            await other.close()
            await target.close()
    finally:
        await server.stop()


async def test_in_cluster_service_account(
    secured: kubeapi.KubeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(TEAM)
    (account / "namespace").write_text("team-a")
    assert secured.ca_pem is not None
    (account / "ca.crt").write_bytes(secured.ca_pem)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", secured.host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(secured.port))
    target = KubernetesTarget.connect("in", in_cluster=True, service_account_dir=account)
    try:
        assert target.connection.namespace == "team-a"
        assert target.server == secured.url
        admin = KubernetesTarget.connect(
            "a", kubeconfig=_kubeconfig(secured, tmp_path / "a", ADMIN)
        )
        try:
            await deploy(admin, "ops", "", namespace("team-a"))
        finally:
            await admin.close()
        [cm] = await deploy(target, "team", "team-a", configmap("a"))
        assert (await target.read([cm.key]))[cm.key] is not None
    finally:
        await target.close()


def test_in_cluster_outside_a_cluster_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(errors.ConfigError) as caught:
        KubernetesTarget.connect("in", in_cluster=True, service_account_dir=tmp_path)
    assert "KUBERNETES_SERVICE_HOST" in str(caught.value)


async def test_in_cluster_files_and_environment_are_injectable(
    secured: kubeapi.KubeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pod's files and the service address come from where the caller says, and a
    rotated token (projected tokens are replaced hourly) is used from the next request."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("not-a-valid-token")
    assert secured.ca_pem is not None
    (account / "ca.crt").write_bytes(secured.ca_pem)
    settings = connecting.Settings(
        in_cluster=True,
        service_account_dir=account,
        environ={
            "KUBERNETES_SERVICE_HOST": secured.host,
            "KUBERNETES_SERVICE_PORT": str(secured.port),
        },
    )
    connection = connecting.connect(settings)
    try:
        assert connection.namespace == "default"  # no namespace file
        code, _, _ = await connection.api.request(
            "GET", "/api/v1/namespaces", what="listing namespaces", allow=frozenset({401})
        )
        assert code == 401
        (account / "token").write_text(ADMIN + "\n")
        code, body, _ = await connection.api.request("GET", "/api/v1/namespaces", what="listing")
        assert code == 200 and body["items"]
    finally:
        await connection.close()


def test_in_cluster_without_the_ca_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(ADMIN)
    settings = connecting.Settings(
        in_cluster=True,
        service_account_dir=tmp_path,
        environ={"KUBERNETES_SERVICE_HOST": "127.0.0.1"},
    )
    with pytest.raises(errors.ConfigError) as caught:
        connecting.connect(settings)
    assert "ca.crt missing" in str(caught.value) and str(tmp_path) in str(caught.value)
