"""Same-origin checks, redirect targets and form parsing of the UI's sessions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.requests import Request

from gitward.api import auth
from gitward.config import settings as config_settings
from gitward.testing import stores
from gitward.web import sessions


def request(headers: dict[str, str], body: bytes = b"", scheme: str = "http") -> Request:
    chunks = [body]

    async def receive() -> dict[str, object]:
        data = chunks.pop() if chunks else b""
        return {"type": "http.request", "body": data, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "scheme": scheme,
        "path": "/apps/web/sync",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {"host": "ui.example:8080", **headers}.items()
        ],
        "server": ("ui.example", 8080),
    }
    return Request(scope, receive)


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({}, True),  # curl: judged by the CSRF token alone
        ({"Origin": "http://ui.example:8080", "Sec-Fetch-Site": "same-origin"}, True),
        ({"Origin": "https://ui.example:8080"}, True),  # behind a TLS-terminating proxy
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": "http://ui.example:8080.evil.example"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
        ({"Origin": "null"}, False),
    ],
)
def test_same_origin(headers: dict[str, str], ok: bool) -> None:
    assert sessions.same_origin(request(headers)) is ok


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/apps/web", "/apps/web"),
        ("/?sync=OutOfSync", "/?sync=OutOfSync"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_local_path(target: str, expected: str) -> None:
    assert sessions.local_path(target) == expected


async def test_read_form() -> None:
    form = request(
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"csrf=abc&mode=pin&to=%2F%26x&mode=revert",
    )
    assert await sessions.read_form(form) == {"csrf": "abc", "mode": "revert", "to": "/&x"}
    assert await sessions.read_form(request({"Content-Type": "application/json"}, b"{}")) == {}
    big = request(
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"a=" + b"x" * sessions.MAX_FORM_BYTES,
    )
    with pytest.raises(sessions.FormTooLarge, match="/apps/web/sync"):
        await sessions.read_form(big)


def get(cookie: str = "") -> Request:
    headers = [(b"host", b"ui.example")]
    if cookie:
        headers.append((b"cookie", f"{sessions.COOKIE}={cookie}".encode()))
    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/", "headers": headers}
    return Request(scope)


@pytest.mark.parametrize("anonymous", ["none", "read-only"])
async def test_identify_tokens_and_anonymous_readers(anonymous: str) -> None:
    store = stores.MemoryStore()
    await store.open()
    now = datetime.now(UTC)
    await store.save_token("ops", auth.hash_token("gw_ops"), "admin", ("*",), now)
    await store.save_token("odd", auth.hash_token("gw_odd"), "superuser", ("*",), now)
    settings = config_settings.parse({"auth": {"anonymous": anonymous}}, "test")
    ui = sessions.Sessions(store, settings)

    ops = await ui.identify(get("gw_ops"))
    assert ops is not None and ops.principal.name == "ops" and not ops.anonymous
    assert len(ops.csrf) == 64
    assert ops.csrf == (await ui.identify(get("gw_ops"))).csrf  # stable per session
    # Another process (restart) derives other CSRF tokens: old forms expire.
    assert ops.csrf != (await sessions.Sessions(store, settings).identify(get("gw_ops"))).csrf
    assert ui.csrf_ok(get(), ops, ops.csrf)
    wrong = ops.csrf[:-1] + ("1" if ops.csrf.endswith("0") else "0")
    assert not ui.csrf_ok(get(), ops, wrong)

    assert await ui.identify(get("gw_unknown")) is None  # never downgraded to anonymous
    assert await ui.identify(get("gw_odd")) is None  # a role nobody knows
    nobody = await ui.identify(get())
    if anonymous == "none":
        assert nobody is None
    else:
        assert nobody is not None and nobody.anonymous and nobody.csrf == ""
        assert nobody.principal.can_read("any-project")
        assert not nobody.principal.can_admin("any-project")
        assert not ui.csrf_ok(get(), nobody, "")
    with pytest.raises(auth.Unauthorized):
        await ui.check_token("x" * 600)
