"""Every API route for every kind of caller: status codes and error bodies.

Callers: no token, an unknown token, admin and read-only on every Project,
admin and read-only on Project ``team`` only. ``web`` is in Project
``default``, ``billing`` in ``team``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gitward.api import openapi
from tests.api.conftest import Served, ServeFactory

CALLERS = (None, "bogus", "admin-all", "reader-all", "team-admin", "team-reader")
WEB = "/api/v1/applications/web"
BILLING = "/api/v1/applications/billing"

# (method, path, body, route template, expected status per caller in CALLERS order)
MATRIX: list[tuple[str, str, Any, str, tuple[int, ...]]] = [
    ("GET", "/healthz", None, "/healthz", (200,) * 6),
    ("GET", "/readyz", None, "/readyz", (200,) * 6),
    ("GET", "/api/v1/openapi.json", None, "/api/v1/openapi.json", (200,) * 6),
    ("GET", "/api/v1/applications", None, "/api/v1/applications", (401, 401, 200, 200, 200, 200)),
    ("GET", WEB, None, "/api/v1/applications/{name}", (401, 401, 200, 200, 404, 404)),
    ("GET", BILLING, None, "/api/v1/applications/{name}", (401, 401, 200, 200, 200, 200)),
    (
        "GET",
        "/api/v1/applications/nope",
        None,
        "/api/v1/applications/{name}",
        (401, 401, 404, 404, 404, 404),
    ),
    (
        "GET",
        f"{WEB}/diff",
        None,
        "/api/v1/applications/{name}/diff",
        (401, 401, 200, 200, 404, 404),
    ),
    (
        "GET",
        f"{BILLING}/diff",
        None,
        "/api/v1/applications/{name}/diff",
        (401, 401, 200, 200, 200, 200),
    ),
    (
        "GET",
        f"{WEB}/operations",
        None,
        "/api/v1/applications/{name}/operations",
        (401, 401, 200, 200, 404, 404),
    ),
    (
        "GET",
        f"{BILLING}/operations?limit=5",
        None,
        "/api/v1/applications/{name}/operations",
        (401, 401, 200, 200, 200, 200),
    ),
    (
        "GET",
        f"{WEB}/events",
        None,
        "/api/v1/applications/{name}/events",
        (401, 401, 200, 200, 404, 404),
    ),
    ("GET", "/api/v1/events", None, "/api/v1/events", (401, 401, 200, 200, 200, 200)),
    ("GET", "/api/v1/delivery", None, "/api/v1/delivery", (401, 401, 200, 200, 200, 200)),
    ("GET", "/api/v1/targets", None, "/api/v1/targets", (401, 401, 200, 200, 200, 200)),
    ("GET", "/api/v1/appsets", None, "/api/v1/appsets", (401, 401, 200, 200, 200, 200)),
    ("GET", "/api/v1/replicas", None, "/api/v1/replicas", (401, 401, 200, 200, 200, 200)),
    # No set is declared here: unknown answers 404 to every caller (tests/api/test_fleet_routes.py
    # covers sets of other Projects and the admin role).
    ("GET", "/api/v1/appsets/nope", None, "/api/v1/appsets/{name}", (401, 401, 404, 404, 404, 404)),
    *(
        (
            "POST",
            f"/api/v1/appsets/nope/{verb}",
            {},
            f"/api/v1/appsets/{{name}}/{verb}",
            (401, 401, 404, 404, 404, 404),
        )
        for verb in ("pause", "resume", "promote")
    ),
    (
        "GET",
        "/api/v1/delivery?app=web&since=7d",
        None,
        "/api/v1/delivery",
        (401, 401, 200, 200, 404, 404),
    ),
    (
        "GET",
        "/api/v1/notifications/deliveries",
        None,
        "/api/v1/notifications/deliveries",
        (401, 401, 200, 200, 200, 200),
    ),
    (
        "GET",
        "/api/v1/notifications/deliveries?app=web",
        None,
        "/api/v1/notifications/deliveries",
        (401, 401, 200, 200, 404, 404),
    ),
    ("GET", "/api/v1/events?app=web", None, "/api/v1/events", (401, 401, 200, 200, 404, 404)),
    (
        "GET",
        "/api/v1/operations/{web_op}",
        None,
        "/api/v1/operations/{id:int}",
        (401, 401, 200, 200, 404, 404),
    ),
    (
        "GET",
        "/api/v1/operations/999999",
        None,
        "/api/v1/operations/{id:int}",
        (401, 401, 404, 404, 404, 404),
    ),
    # Issue 11: past the store's 64-bit ids this was an unhandled 500.
    (
        "GET",
        "/api/v1/operations/99999999999999999999999",
        None,
        "/api/v1/operations/{id:int}",
        (401, 401, 404, 404, 404, 404),
    ),
    (
        "GET",
        f"{WEB}/operations?before=99999999999999999999999",
        None,
        "/api/v1/applications/{name}/operations",
        (401, 401, 400, 400, 404, 404),
    ),
    ("GET", "/metrics", None, "/metrics", (401, 401, 200, 200, 403, 403)),
    ("GET", "/api/v1/stream?app=web", None, "/api/v1/stream", (401, 401, 200, 200, 404, 404)),
    ("GET", "/api/v1/stream", None, "/api/v1/stream", (401, 401, 200, 200, 200, 200)),
    (
        "POST",
        f"{WEB}/refresh",
        None,
        "/api/v1/applications/{name}/refresh",
        (401, 401, 202, 403, 404, 404),
    ),
    (
        "POST",
        f"{BILLING}/refresh",
        None,
        "/api/v1/applications/{name}/refresh",
        (401, 401, 202, 403, 202, 403),
    ),
    (
        "POST",
        f"{WEB}/sync",
        {"dryRun": True},
        "/api/v1/applications/{name}/sync",
        (401, 401, 200, 403, 404, 404),
    ),
    (
        "POST",
        f"{BILLING}/sync",
        {"dryRun": True},
        "/api/v1/applications/{name}/sync",
        (401, 401, 200, 403, 200, 403),
    ),
    # Both 'to' and 'commit': refused as a bad request once the caller is allowed,
    # so the matrix checks authorisation without rolling anything back.
    (
        "POST",
        f"{BILLING}/rollback",
        {"to": "main", "commit": "abc"},
        "/api/v1/applications/{name}/rollback",
        (401, 401, 400, 403, 400, 403),
    ),
    (
        "POST",
        f"{BILLING}/suspend",
        None,
        "/api/v1/applications/{name}/suspend",
        (401, 401, 200, 403, 200, 403),
    ),
    (
        "POST",
        f"{BILLING}/resume",
        None,
        "/api/v1/applications/{name}/resume",
        (401, 401, 200, 403, 200, 403),
    ),
    (
        "POST",
        f"{WEB}/suspend",
        None,
        "/api/v1/applications/{name}/suspend",
        (401, 401, 200, 403, 404, 404),
    ),
    (
        "POST",
        f"{WEB}/resume",
        None,
        "/api/v1/applications/{name}/resume",
        (401, 401, 200, 403, 404, 404),
    ),
]


def headers_for(caller: str | None) -> dict[str, str]:
    from tests.api.conftest import secret_of

    if caller is None:
        return {}
    if caller == "bogus":
        return {"Authorization": "Bearer gw_not_a_token"}
    return {"Authorization": f"Bearer {secret_of(caller)}"}


async def call(client: httpx.AsyncClient, method: str, path: str, body: Any, caller: str | None):  # type: ignore[no-untyped-def]
    headers = headers_for(caller)
    if path.startswith("/api/v1/stream"):
        # A stream answers headers at once and never ends: read only the status.
        async with client.stream(method, path, headers=headers) as response:
            if response.status_code == 200:
                assert response.headers["content-type"].startswith("text/event-stream")
                return response.status_code, None
            await response.aread()
            return response.status_code, response
    content = json.dumps(body).encode() if body is not None else None
    response = await client.request(method, path, headers=headers, content=content)
    return response.status_code, response


async def first_operation(served: Served, app: str) -> int:
    records = await served.until(
        lambda: served.store.list_operations(app), f"an operation of {app}"
    )
    return int(records[-1].id)


async def test_every_route_and_role(serve: ServeFactory) -> None:
    served = await serve()
    web_op = await first_operation(served, "web")
    failures = []
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        for method, path, body, _, expected in MATRIX:
            path = path.replace("{web_op}", str(web_op))
            for caller, want in zip(CALLERS, expected, strict=True):
                status, response = await call(client, method, path, body, caller)
                if status != want:
                    text = response.text if response is not None else ""
                    failures.append(f"{method} {path} as {caller}: {status} != {want} {text}")
                    continue
                if response is None or status < 400:
                    continue
                error = response.json()["error"]
                assert error["status"] == status
                assert error["message"]
                if status == 401:
                    assert error["reason"] == "Unauthorized"
                    assert response.headers["www-authenticate"].startswith("Bearer")
                    # The presented token is never echoed back.
                    assert "gw_not_a_token" not in response.text
                elif status == 403:
                    assert error["reason"] == "Forbidden"
                elif status == 404:
                    assert error["reason"] == "NotFound"
    assert not failures, "\n".join(failures)


def api_routes(served: Served) -> set[tuple[str, str]]:
    found = set()
    for route in served.app.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


async def test_matrix_and_openapi_cover_every_route(serve: ServeFactory) -> None:
    served = await serve()
    routes = api_routes(served)
    tested = {(method, template) for method, _, _, template, _ in MATRIX}
    assert tested | {("POST", "/api/v1/webhooks")} == routes
    async with served.client() as client:
        document = (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    described = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert described == {(m, p.replace("{id:int}", "{id}")) for m, p in routes}
    assert described == {
        (m.upper(), p)
        for p, item in openapi.document()["paths"].items()
        for m in item
        if m in ("get", "post")
    }


async def test_extra_routes_are_served_beside_the_api(serve: ServeFactory) -> None:
    async def page(request: Request) -> Response:
        return PlainTextResponse("web ui")

    served = await serve(extra_routes=[Route("/ui", page)])
    async with served.client() as client:
        assert (await client.get("/ui")).text == "web ui"
        assert (await client.get("/api/v1/applications")).status_code == 401


async def test_lists_are_filtered_to_the_callers_projects(serve: ServeFactory) -> None:
    served = await serve()
    await served.until(lambda: served.store.list_events(app="web"), "an event of web")
    async with served.client("team-reader") as team, served.client("reader-all") as everyone:
        assert [a["name"] for a in (await team.get("/api/v1/applications")).json()["items"]] == [
            "billing"
        ]
        names = [a["name"] for a in (await everyone.get("/api/v1/applications")).json()["items"]]
        assert names == ["billing", "web"]
        team_events = (await team.get("/api/v1/events")).json()["items"]
        assert team_events and {e["app"] for e in team_events} == {"billing"}
        all_events = (await everyone.get("/api/v1/events")).json()["items"]
        assert {"web", "billing"} <= {e["app"] for e in all_events}
        metrics = await team.get("/metrics")
        assert metrics.status_code == 403


async def test_anonymous_read_only_when_configured(serve: ServeFactory) -> None:
    served = await serve(anonymous="read-only")
    async with served.client() as anonymous:
        listed = await anonymous.get("/api/v1/applications")
        assert listed.status_code == 200 and len(listed.json()["items"]) == 2
        refused = await anonymous.post(f"{WEB}/refresh")
        assert refused.status_code == 403
        assert "anonymous access has role read-only" in refused.json()["error"]["message"]
        bad = await anonymous.get("/api/v1/applications", headers={"Authorization": "Bearer wrong"})
        # A wrong token is an error, never a silent fallback to anonymous.
        assert bad.status_code == 401
        malformed = await anonymous.get(
            "/api/v1/applications", headers={"Authorization": "Basic YTpi"}
        )
        assert malformed.status_code == 401


async def test_bad_requests_name_the_problem(serve: ServeFactory) -> None:
    served = await serve()
    async with served.client("admin-all") as client:
        cases = [
            ("GET", "/api/v1/applications?sync=Sideways", None, "sync='Sideways'"),
            ("GET", "/api/v1/applications?label=tier", None, "label='tier'"),
            ("GET", f"{WEB}/operations?limit=0", None, "limit=0"),
            ("GET", f"{WEB}/operations?limit=x", None, "limit='x'"),
            ("GET", "/api/v1/events?after=-1", None, "after=-1"),
            ("GET", "/api/v1/delivery?since=soon", None, "'soon'"),
            ("GET", "/api/v1/delivery?since=900d", None, "at most 366d"),
            ("GET", "/api/v1/notifications/deliveries?state=lost", None, "'lost'"),
            ("GET", "/api/v1/notifications/deliveries?limit=0", None, "limit=0"),
            ("POST", f"{WEB}/sync", b"not json", "not valid JSON"),
            ("POST", f"{WEB}/sync", b"[1]", "JSON object"),
            ("POST", f"{WEB}/sync", b'{"prune": "yes"}', "'prune'"),
            ("POST", f"{WEB}/sync", b'{"resources": "all"}', "'resources'"),
            ("POST", f"{WEB}/sync", b'{"resources": ["ConfigMap/nope"]}', "ConfigMap/nope"),
        ]
        for method, path, content, expected in cases:
            response = await client.request(method, path, content=content)
            assert response.status_code == 400, (path, response.text)
            assert expected in response.json()["error"]["message"], response.text


async def test_unknown_and_forbidden_are_answered_alike(serve: ServeFactory) -> None:
    # Issue 11 (6d): a 403 naming the Project once told a team's token that
    # `web` exists and which Project holds it.
    served = await serve()
    web_op = await first_operation(served, "web")
    async with served.client("team-reader") as team:
        pairs = [
            (WEB, "/api/v1/applications/nope"),
            (f"{WEB}/events", "/api/v1/applications/nope/events"),
            ("/api/v1/events?app=web", "/api/v1/events?app=nope"),
            ("/api/v1/stream?app=web", "/api/v1/stream?app=nope"),
            (f"/api/v1/operations/{web_op}", "/api/v1/operations/999999999"),
        ]
        for forbidden, unknown in pairs:
            hidden, missing = await team.get(forbidden), await team.get(unknown)
            assert hidden.status_code == missing.status_code == 404, forbidden
            text = hidden.text.replace("web", "X").replace(str(web_op), "N")
            assert text == missing.text.replace("nope", "X").replace("999999999", "N")
            assert "default" not in hidden.text
