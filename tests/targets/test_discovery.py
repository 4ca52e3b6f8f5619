"""Discovery against the test server: aggregated and legacy documents agree,
refreshes are rate-bounded and shared."""

from __future__ import annotations

import asyncio

from gitward.targets.kubernetes import KubernetesTarget
from gitward.targets.kubernetes import discovery as discovering


async def test_aggregated_and_legacy_discovery_agree(target: KubernetesTarget) -> None:
    aggregated = discovering.Discovery(target.connection.api)
    legacy = discovering.Discovery(target.connection.api, aggregated=False)
    await aggregated.refresh()
    await legacy.refresh()
    assert aggregated.known() == legacy.known()
    deployment = aggregated.known()[("apps", "Deployment")]
    assert (deployment.plural, deployment.namespaced) == ("deployments", True)
    assert deployment.preferred_version == "v1"
    assert {"get", "list", "watch", "patch", "delete"} <= deployment.verbs
    namespace = aggregated.known()[("", "Namespace")]
    assert (namespace.plural, namespace.namespaced) == ("namespaces", False)
    assert namespace.object_path("ignored", "web") == "/api/v1/namespaces/web"
    assert deployment.collection_path("web") == "/apis/apps/v1/namespaces/web/deployments"
    # Subresources (deployments/scale) are not kinds of their own.
    assert all("/" not in t.plural for t in aggregated.known().values())


async def test_misses_share_one_rate_bounded_refresh(target: KubernetesTarget) -> None:
    discovery = discovering.Discovery(target.connection.api, min_refresh_interval=0.3)
    assert await discovery.lookup("apps", "Deployment") is not None
    assert discovery.refreshes == 1
    loop = asyncio.get_running_loop()
    started = loop.time()
    found = await asyncio.gather(*(discovery.lookup("example.com", "Nope") for _ in range(10)))
    assert found == [None] * 10
    assert discovery.refreshes == 2  # ten concurrent misses, one refresh
    assert loop.time() - started >= 0.25  # waited out the minimum interval
    assert await discovery.lookup("example.com", "Nope", refresh=False) is None
    assert discovery.refreshes == 2
