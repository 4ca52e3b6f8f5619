"""Message templates: the documented context, and bounds a template from Git cannot pass."""

from __future__ import annotations

import pytest

from gitward import errors
from gitward.engine.notifications import messages
from tests.engine.notifications import helpers


def test_templates_see_event_app_and_status() -> None:
    doc = helpers.document("SyncStarted")
    text = messages.render(
        "{{ app.name }}/{{ app.project }} {{ event.reason }} {{ status }} {{ event.revision[:7] }}"
        "{% for k, v in app.labels | dictsort %} {{ k }}={{ v }}{% endfor %}",
        doc,
    )
    assert text == "web/default SyncStarted pending 0123456 team=shop"
    assert messages.render("{{ app.nothing.deeper }}x", doc) == "x"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' * 100000000 }}", "repetition too long"),
        ("{{ 9 ** 999999 }}", "exponent too large"),
        ("{% for i in range(1000000) %}{% endfor %}", "range of 1000000 items"),
        ("{{ ''.__class__.__mro__ }}", ""),
        ("{{ app.labels.clear() }}", "SecurityError"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ],
)
def test_hostile_templates_fail_their_delivery(template: str, message: str) -> None:
    rendered: str | None = None
    try:
        rendered = messages.render(template, helpers.document())
    except errors.NotificationRejected as exc:
        assert message in str(exc)
        return
    # Attribute access to internals renders nothing rather than failing.
    assert message == "" and "class" not in rendered


def test_long_text_is_cut() -> None:
    text = messages.render("{{ 'ab' * 4000 }}", helpers.document())
    assert len(text) == 4000 and text.endswith("…")
