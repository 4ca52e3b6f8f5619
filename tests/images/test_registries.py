"""Listing tags from a real Distribution registry: open, basic auth, token auth, pagination."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gitward.images import registries
from tests.images import registry as registry_server
from tests.images.conftest import needs_registry

pytestmark = needs_registry

TAGS = ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1", "latest"]


async def test_lists_every_tag(open_registry: registry_server.Registry) -> None:
    open_registry.push("org/web", *TAGS)
    endpoint = registries.Endpoint(open_registry.host, insecure=True)
    async with registries.RegistryClient(endpoint) as client:
        assert sorted(await client.tags("org/web")) == sorted(TAGS)


def _paged(tags: list[str], *, next_host: str = "", loop: bool = False) -> httpx.MockTransport:
    """Distribution v3 style pages (the Debian registry, 2.8, sends one page)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        size = int(request.url.params.get("n", "1000"))
        last = request.url.params.get("last", "")
        rest = [t for t in tags if t > last] if last else list(tags)
        page = rest[:size]
        headers = {}
        if len(rest) > size:
            target = f"/v2/org/web/tags/list?n={size}&last={page[-1] if not loop else ''}"
            if next_host:
                target = f"http://{next_host}{target}"
            headers["Link"] = f'<{target}>; rel="next"'
        return httpx.Response(200, json={"name": "org/web", "tags": page}, headers=headers)

    transport = httpx.MockTransport(handler)
    transport.seen = seen  # type: ignore[attr-defined]
    return transport


async def test_follows_link_headers_page_by_page() -> None:
    tags = [f"1.0.{i:02d}" for i in range(7)]
    transport = _paged(tags)
    endpoint = registries.Endpoint("registry.test", insecure=True)
    async with registries.RegistryClient(endpoint, transport=transport, page_size=3) as client:
        assert await client.tags("org/web") == tags
    assert len(transport.seen) == 3  # type: ignore[attr-defined]


async def test_a_next_page_on_another_host_is_not_followed() -> None:
    transport = _paged(["a", "b", "c"], next_host="elsewhere.test")
    endpoint = registries.Endpoint("registry.test", insecure=True)
    async with registries.RegistryClient(endpoint, transport=transport, page_size=2) as client:
        assert await client.tags("org/web") == ["a", "b"]


async def test_pages_that_loop_are_refused() -> None:
    transport = _paged(["a", "b", "c"], loop=True)
    endpoint = registries.Endpoint("registry.test", insecure=True)
    async with registries.RegistryClient(endpoint, transport=transport, page_size=2) as client:
        with pytest.raises(registries.RegistryUnavailable, match="loop"):
            await client.tags("org/web")


async def test_list_tags_by_reference(open_registry: registry_server.Registry) -> None:
    open_registry.push("org/api", "3.1.4")
    tags = await registries.list_tags(f"{open_registry.host}/org/api:ignored", insecure=True)
    assert tags == ["3.1.4"]


async def test_unknown_repository_is_image_not_found(
    open_registry: registry_server.Registry,
) -> None:
    with pytest.raises(registries.ImageNotFound, match=r"127\.0\.0\.1:\d+/org/nothing"):
        await registries.list_tags(f"{open_registry.host}/org/nothing", insecure=True)


async def test_unreachable_registry_is_retryable() -> None:
    port = registry_server.free_port()
    with pytest.raises(registries.RegistryUnavailable, match=f"127.0.0.1:{port}/org/web"):
        await registries.list_tags(f"127.0.0.1:{port}/org/web", insecure=True, timeout=2)


@pytest.mark.parametrize("mode", ["basic", "token"])
async def test_authenticated_registry(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with registry_server.running(tmp_path, mode) as server:
        server.push("org/private", "0.1.0", "0.2.0")
        monkeypatch.setenv("REGISTRY_PASSWORD", server.password)
        good = registries.Credentials(username=server.username, password_env="REGISTRY_PASSWORD")
        endpoint = registries.Endpoint(server.host, insecure=True, credentials=good)
        async with registries.RegistryClient(endpoint) as client:
            assert sorted(await client.tags("org/private")) == ["0.1.0", "0.2.0"]
            assert sorted(await client.tags("org/private")) == ["0.1.0", "0.2.0"]
        if server.tokens is not None:
            assert server.tokens.requests == 1  # the token is reused until it expires

        secret_file = tmp_path / "wrong-password"
        secret_file.write_text("wrong-password-value\n")
        wrong = registries.Credentials(username=server.username, password_file=secret_file)
        with pytest.raises(registries.RegistryAuthError) as refused:
            await registries.list_tags(
                f"{server.host}/org/private", insecure=True, credentials=wrong
            )
        assert "wrong-password-value" not in str(refused.value)
        assert server.password not in str(refused.value)
        assert "org/private" in str(refused.value)

        if mode == "basic":
            with pytest.raises(registries.RegistryAuthError, match="none are set"):
                await registries.list_tags(f"{server.host}/org/private", insecure=True)


async def test_password_from_a_missing_variable_is_a_config_error(
    open_registry: registry_server.Registry, tmp_path: Path
) -> None:
    with registry_server.running(tmp_path / "b", "basic") as server:
        creds = registries.Credentials(username="ci-bot", password_env="GITWARD_NO_SUCH_VAR")
        with pytest.raises(registries.errors.ConfigError, match="GITWARD_NO_SUCH_VAR"):
            await registries.list_tags(f"{server.host}/org/x", insecure=True, credentials=creds)


def test_challenges_are_parsed() -> None:
    scheme, params = registries.parse_challenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:org/web:pull"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example.com/token",
        "service": "registry.example.com",
        "scope": "repository:org/web:pull",
    }
    assert registries.parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})
