"""Lists and watches by label selector stay right as labels change (the store's label index).

Every check compares the server's selected list with the full list filtered
here, so an index that missed a write (a label changed, an object deleted, a
namespace emptied) shows up as a difference.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gitward.testing.kubeapi import storing

from .objects import APPLY, CM_PATH, MERGE, configmap, create_namespace

ALL_CM = "/api/v1/configmaps"

Matcher = Callable[[Mapping[str, str]], bool]

# Selectors the index answers (equality terms), mixed, and ones it cannot (scan).
SELECTORS: dict[str, Matcher] = {
    "group=a": lambda labels: labels.get("group") == "a",
    "group==b": lambda labels: labels.get("group") == "b",
    "group in (a,c)": lambda labels: labels.get("group") in ("a", "c"),
    "group=a,tier=web": lambda labels: labels.get("group") == "a" and labels.get("tier") == "web",
    "group in (a,b),tier!=web": lambda labels: (
        labels.get("group") in ("a", "b") and labels.get("tier") != "web"
    ),
    "group notin (a)": lambda labels: labels.get("group") != "a",
    "tier": lambda labels: "tier" in labels,
    "!group": lambda labels: "group" not in labels,
    "group=": lambda labels: labels.get("group") == "",
    "group in ()": lambda labels: False,
}


async def _names(client: httpx.AsyncClient, path: str, **params: str) -> list[tuple[str, str]]:
    """(namespace, name) of every item, following continue tokens."""
    out: list[tuple[str, str]] = []
    token = ""
    while True:
        query = {**params, **({"continue": token} if token else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        out += [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in body["items"]]
        token = body["metadata"].get("continue", "")
        if not token:
            return out


async def _assert_selections(client: httpx.AsyncClient, path: str = ALL_CM) -> None:
    everything = (await client.get(path)).json()["items"]
    for selector, matches in SELECTORS.items():
        expected = [
            (i["metadata"].get("namespace", ""), i["metadata"]["name"])
            for i in everything
            if matches(i["metadata"].get("labels") or {})
        ]
        assert await _names(client, path, labelSelector=selector) == expected, selector
        paged = await _names(client, path, labelSelector=selector, limit="2")
        assert paged == expected, f"{selector} (paged)"


async def test_selected_lists_follow_every_kind_of_write(client: httpx.AsyncClient) -> None:
    await create_namespace(client, "other")
    other = "/api/v1/namespaces/other/configmaps"
    for i, group in enumerate(["a", "b", "c", "a", "b", "a", ""]):
        labels = {"group": group, **({"tier": "web"} if i % 2 else {})}
        await client.post(CM_PATH, json=configmap(f"cm-{i}", labels=labels))
        await client.post(other, json=configmap(f"cm-{i}", labels={"group": group}))
    await client.post(CM_PATH, json=configmap("bare"))
    await _assert_selections(client)

    # Merge patch: a label changes value, another is removed.
    patch = {"metadata": {"labels": {"group": "b", "tier": None}}}
    assert (await client.patch(f"{CM_PATH}/cm-1", json=patch, headers=MERGE)).status_code == 200
    # PUT: all labels replaced.
    current = (await client.get(f"{CM_PATH}/cm-0")).json()
    current["metadata"]["labels"] = {"tier": "web"}
    assert (await client.put(f"{CM_PATH}/cm-0", json=current)).status_code == 200
    # Server-side apply: a new object, then its label changed by the same manager.
    applied = configmap("applied", labels={"group": "a"})
    body = json.dumps(applied)
    params = {"fieldManager": "test"}
    response = await client.patch(f"{CM_PATH}/applied", content=body, headers=APPLY, params=params)
    assert response.status_code == 201
    applied["metadata"]["labels"] = {"group": "c", "tier": "web"}
    body = json.dumps(applied)
    response = await client.patch(f"{CM_PATH}/applied", content=body, headers=APPLY, params=params)
    assert response.status_code == 200
    # Labels added to an object that had none.
    patch = {"metadata": {"labels": {"group": "a"}}}
    assert (await client.patch(f"{CM_PATH}/bare", json=patch, headers=MERGE)).status_code == 200
    # Delete, then create again under the same name with other labels.
    assert (await client.delete(f"{CM_PATH}/cm-2")).status_code == 200
    assert (await client.delete(f"{other}/cm-5")).status_code == 200
    await client.post(other, json=configmap("cm-5", labels={"group": "c"}))
    await _assert_selections(client)
    await _assert_selections(client, CM_PATH)

    names = await _names(client, ALL_CM, labelSelector="group=a")
    defaults = [("default", "bare"), ("default", "cm-3"), ("default", "cm-5")]
    assert names == [*defaults, ("other", "cm-0"), ("other", "cm-3")]


async def test_finalizer_holds_object_in_selection_until_released(
    client: httpx.AsyncClient,
) -> None:
    held = configmap("held", labels={"group": "a"}, finalizers=["example.com/hold"])
    await client.post(CM_PATH, json=held)
    await client.post(CM_PATH, json=configmap("free", labels={"group": "a"}))
    assert (await client.delete(f"{CM_PATH}/held")).status_code == 202
    assert await _names(client, CM_PATH, labelSelector="group=a") == [
        ("default", "free"),
        ("default", "held"),
    ]
    # The finalizer's removal also changes the labels: the object must leave both selections.
    release = {"metadata": {"finalizers": None, "labels": {"group": "b"}}}
    assert (await client.patch(f"{CM_PATH}/held", json=release, headers=MERGE)).status_code == 200
    assert await _names(client, CM_PATH, labelSelector="group=a") == [("default", "free")]
    assert await _names(client, CM_PATH, labelSelector="group=b") == []
    await _assert_selections(client)


async def test_namespace_deletion_empties_its_selections(client: httpx.AsyncClient) -> None:
    await create_namespace(client, "team")
    team = "/api/v1/namespaces/team/configmaps"
    for i in range(5):
        await client.post(team, json=configmap(f"t-{i}", labels={"group": "a"}))
    await client.post(CM_PATH, json=configmap("kept", labels={"group": "a"}))
    assert len(await _names(client, ALL_CM, labelSelector="group=a")) == 6
    assert (await client.delete("/api/v1/namespaces/team")).status_code == 200

    async def cascaded() -> bool:
        names = await _names(client, ALL_CM, labelSelector="group=a")
        return names == [("default", "kept")]

    deadline = asyncio.get_running_loop().time() + 3
    while not await cascaded():
        assert asyncio.get_running_loop().time() < deadline, "namespace objects still listed"
        await asyncio.sleep(0.02)
    assert await _names(client, team, labelSelector="group=a") == []
    await _assert_selections(client)


async def test_selected_pages_keep_name_order_across_writes(client: httpx.AsyncClient) -> None:
    for i in range(12):
        group = "a" if i % 3 else "b"
        await client.post(CM_PATH, json=configmap(f"cm-{i:02}", labels={"group": group}))
    first = (await client.get(CM_PATH, params={"labelSelector": "group=a", "limit": "3"})).json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["cm-01", "cm-02", "cm-04"]
    token = first["metadata"]["continue"]
    # Selected lists say nothing of how many remain (as kube-apiserver with a selector).
    assert "remainingItemCount" not in first["metadata"]
    # Written between pages: one leaves the selection, one joins it after the page.
    await client.patch(
        f"{CM_PATH}/cm-05", json={"metadata": {"labels": {"group": "b"}}}, headers=MERGE
    )
    await client.patch(
        f"{CM_PATH}/cm-06", json={"metadata": {"labels": {"group": "a"}}}, headers=MERGE
    )
    rest = await _names(client, CM_PATH, labelSelector="group=a", limit="3", **{"continue": token})
    assert [name for _, name in rest] == ["cm-06", "cm-07", "cm-08", "cm-10", "cm-11"]
    second = (await client.get(CM_PATH, params={"continue": token, "limit": "3"})).json()
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    # A field selector still applies to what the index selects.
    fields = {"labelSelector": "group=a", "fieldSelector": "metadata.name!=cm-07"}
    assert [n for _, n in await _names(client, CM_PATH, **fields)] == [
        "cm-01",
        "cm-02",
        "cm-04",
        "cm-06",
        "cm-08",
        "cm-10",
        "cm-11",
    ]


async def test_watch_starts_with_selected_objects_in_name_order(
    client: httpx.AsyncClient,
) -> None:
    for name, group in [("c", "a"), ("a", "a"), ("b", "b"), ("d", "a")]:
        await client.post(CM_PATH, json=configmap(name, labels={"group": group}))
    await client.patch(f"{CM_PATH}/d", json={"metadata": {"labels": None}}, headers=MERGE)
    params = {"watch": "true", "labelSelector": "group=a", "timeoutSeconds": "1"}
    seen: list[tuple[str, str]] = []
    async with client.stream("GET", CM_PATH, params=params) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.strip():
                event: dict[str, Any] = json.loads(line)
                seen.append((event["type"], event["object"]["metadata"]["name"]))
    assert seen == [("ADDED", "a"), ("ADDED", "c")]


def test_store_index_holds_exactly_the_live_labels() -> None:
    store = storing.Store()

    def put(namespace: str, name: str, labels: Any) -> None:
        meta = {"namespace": namespace, "name": name, "labels": labels}
        store.put("", "configmaps", {"metadata": meta})

    put("b", "x", {"group": "a", "n": "1"})
    put("a", "y", {"group": "a"})
    put("a", "x", {"group": "b", "odd": 7})
    put("b", "x", {"group": "c"})
    put("a", "z", "not a mapping")
    store.remove("", "configmaps", ("a", "y"))
    bucket = store.bucket("", "configmaps")
    assert bucket.by_label == {("group", "b"): {("a", "x")}, ("group", "c"): {("b", "x")}}
    assert bucket.keys == [("a", "x"), ("a", "z"), ("b", "x")]
    assert bucket.ordered("a") == [("a", "x"), ("a", "z")]
    assert bucket.ordered("", after=("a", "x")) == [("a", "z"), ("b", "x")]
    assert bucket.ordered("", labels=[("group", frozenset({"b", "c"}))]) == [
        ("a", "x"),
        ("b", "x"),
    ]
    assert bucket.ordered("b", labels=[("group", frozenset({"b"}))]) == []
