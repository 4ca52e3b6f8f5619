"""Issue 11 (6e): security headers on every answer, the framework's own included."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.api.conftest import ServeFactory, secret_of

EXPECTED = {
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
}


def check(response: httpx.Response, **overridden: str) -> None:
    for name, value in (EXPECTED | overridden).items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)


async def test_framework_errors_and_api_json_carry_the_headers(serve: ServeFactory) -> None:
    async def page(request: Request) -> Response:
        return PlainTextResponse("ui", headers={"Content-Security-Policy": "default-src 'self'"})

    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    served = await serve(extra_routes=[Route("/ui", page), Route("/broken", broken)])
    auth = {"Authorization": f"Bearer {secret_of('admin-all')}"}
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        missing = await client.get("/no/such/page")
        assert missing.status_code == 404
        check(missing)
        wrong_method = await client.post("/healthz")
        assert wrong_method.status_code == 405
        check(wrong_method)
        listed = await client.get("/api/v1/applications", headers=auth)
        assert listed.status_code == 200
        assert listed.headers["content-type"] == "application/json"
        check(listed)
        refused = await client.get("/api/v1/applications")
        assert refused.status_code == 401
        check(refused)
        crashed = await client.get("/broken")
        assert crashed.status_code == 500
        assert "a bug" not in crashed.text
        check(crashed)
        # A route's own header wins (the UI sends its own policy).
        check(await client.get("/ui"), **{"content-security-policy": "default-src 'self'"})
