"""What a notification says: the documented event payload and its rendering.

:func:`payload` builds the JSON document a ``webhook`` provider POSTs (and every
other provider renders from); it is stored in the outbox, so it holds nothing
secret. :func:`render` fills an alert's Jinja2 template, or the provider's
default, in an immutable sandbox: a template in Git cannot call methods that
change state, read attributes starting with ``_`` or reach Python internals.

The payload (``version`` 1)::

    {"version": 1,
     "event": {"id": 42, "reason": "SyncSucceeded", "type": "Normal",
               "message": "...", "revision": "<sha>", "time": "<RFC 3339>"},
     "application": {"name": "web", "project": "default", "labels": {...},
                     "repoURL": "...", "path": "...", "targetRevision": "main",
                     "sync": "Synced", "health": "Healthy"},
     "status": "pending" | "success" | "failure" | null}

``status`` is the commit status the event means (``commitStatus``), null for
events that set none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jinja2
import jinja2.exceptions
import jinja2.sandbox

from gitward import errors

PAYLOAD_VERSION = 1
_MAX_TEXT = 4000

# Which events set which commit status (see statuses): pending when a sync
# starts, success once Synced and Healthy (Deployed), failure on a failed sync
# or Degraded health.
PENDING, SUCCESS, FAILURE = "pending", "success", "failure"
_STATUS_OF = {
    "SyncStarted": PENDING,
    "Deployed": SUCCESS,
    "SyncFailed": FAILURE,
    "HealthDegraded": FAILURE,
}

_DEFAULTS = {
    "title": "{{ app.name }}: {{ event.reason }}",
    "text": (
        "{{ event.reason }} of {{ app.name }}"
        "{% if event.revision %} at {{ event.revision[:12] }}{% endif %}"
        "{% if event.message %}: {{ event.message }}{% endif %}"
    ),
    "status": (
        "{% if status == 'pending' %}syncing {{ event.revision[:12] }}"
        "{% elif status == 'success' %}synced and healthy"
        "{% else %}{{ event.reason }}{% if event.message %}: {{ event.message }}{% endif %}"
        "{% endif %}"
    ),
}

# Templates may come from Git (kind: Alert): bounded so one cannot exhaust
# memory or CPU. ``range`` yields at most _MAX_RANGE items, ``*`` and ``**``
# refuse results beyond _MAX_PRODUCT, and the deliverer renders in a thread
# with a deadline (delivering.RENDER_SECONDS).
_MAX_RANGE = 100
_MAX_PRODUCT = 10_000


class _BoundedSandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if not all(isinstance(v, int | float) for v in (left, right)) or abs(right) > 64:
                raise jinja2.exceptions.SecurityError("exponent too large in a message template")
            result = left**right
            if abs(result) > 10**18:
                raise jinja2.exceptions.SecurityError("number too large in a message template")
            return result
        for value, count in ((left, right), (right, left)):
            if (
                isinstance(value, str | list | tuple)
                and isinstance(count, int)
                and len(value) * count > _MAX_PRODUCT
            ):
                raise jinja2.exceptions.SecurityError("repetition too long in a message template")
        return left * right


def _bounded_range(*args: int) -> range:
    found = range(*args)
    if len(found) > _MAX_RANGE:
        raise jinja2.exceptions.SecurityError(
            f"range of {len(found)} items in a message template (at most {_MAX_RANGE})"
        )
    return found


_environment = _BoundedSandbox(
    autoescape=False,
    undefined=jinja2.ChainableUndefined,
    keep_trailing_newline=False,
)
_environment.globals["range"] = _bounded_range


def status_of(reason: str) -> str | None:
    """The commit status an event reason sets, or None."""
    return _STATUS_OF.get(reason)


def payload(
    *,
    event_id: int | None,
    reason: str,
    type_: str,
    message: str,
    revision: str,
    time: datetime,
    application: Mapping[str, Any],
) -> dict[str, Any]:
    """The documented event document (see the module doc)."""
    return {
        "version": PAYLOAD_VERSION,
        "event": {
            "id": event_id,
            "reason": reason,
            "type": type_,
            "message": message,
            "revision": revision,
            "time": time.isoformat(),
        },
        "application": dict(application),
        "status": status_of(reason),
    }


def severity(document: Mapping[str, Any]) -> str:
    """good / warning / danger, for the colour chat services show."""
    event = document.get("event", {})
    if document.get("status") == FAILURE or event.get("type") == "Warning":
        return "danger"
    if event.get("reason") in ("SyncSucceeded", "Deployed", "DriftCorrected"):
        return "good"
    return "warning"


def render(template: str, document: Mapping[str, Any], part: str = "text") -> str:
    """``template`` (or the default for ``part``: title, text, status) over ``document``.

    The template sees ``event``, ``app`` (the ``application`` object) and
    ``status``. A template that fails to render is a NotificationRejected
    naming the error, never its data.
    """
    source = template or _DEFAULTS[part]
    try:
        compiled = _environment.from_string(source)
        text = compiled.render(
            event=document.get("event", {}),
            app=document.get("application", {}),
            application=document.get("application", {}),
            status=document.get("status"),
        )
    except jinja2.TemplateError as exc:
        raise errors.NotificationRejected(
            f"message template: {type(exc).__name__}: {exc.message or ''}"
        ) from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise errors.NotificationRejected(
            f"message template: {type(exc).__name__}: {exc}"
        ) from None
    text = text.strip()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
