"""Live updates for the web UI: server-sent events carrying rendered HTML fragments.

``gitward.web`` subscribes one :class:`Hub` to the agent
(``Agent.subscribe``); every open page holds a :class:`Subscription` through
``/ui/stream`` and receives, as named SSE events, the fragments the htmx SSE
extension swaps in place (``sse-swap="status"``...). The agent only says
*which* Application changed; what to send is rendered per connection by the
caller's ``render`` (so each viewer sees only what their token may read).

Changes are coalesced: a reconcile saves status and adds events several times
in a few milliseconds, and one render per burst is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence

# A change of an agent-wide concern (the applications root) rather than of
# one Application: ``Agent`` reports it with an empty name.
AGENT_WIDE = ""

Render = Callable[[frozenset[str] | None], Awaitable[Sequence[tuple[str, str]]]]


class Subscription:
    """The changes one open page has not rendered yet."""

    def __init__(self) -> None:
        self._changed: set[str] = set()
        self._wake = asyncio.Event()

    def add(self, app: str) -> None:
        self._changed.add(app)
        self._wake.set()

    async def next(self, idle: float, coalesce: float) -> frozenset[str]:
        """The Applications changed since the last call; empty after ``idle``
        seconds without a change (time for a keep-alive)."""
        try:
            await asyncio.wait_for(self._wake.wait(), idle)
        except TimeoutError:
            return frozenset()
        await asyncio.sleep(coalesce)
        changed = frozenset(self._changed)
        self._changed.clear()
        self._wake.clear()
        return changed


class Hub:
    """Fans the agent's change notifications out to every open page."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def notify(self, app: str) -> None:
        """The agent's listener: called (synchronously) after every change."""
        for subscription in self._subscriptions:
            subscription.add(app)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)


def event(name: str, data: str) -> bytes:
    """One SSE message; every line of ``data`` becomes a ``data:`` line (the
    browser joins them back with newlines)."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "".join(f"data: {line}\n" for line in lines)
    return f"event: {name}\n{body}\n".encode()


async def stream(
    hub: Hub,
    render: Render,
    *,
    allowed: Callable[[], Awaitable[bool]] | None = None,
    ended: tuple[str, str] = ("notice", "<p>Your session ended: reload to log in again.</p>"),
    keepalive: float = 15.0,
    coalesce: float = 0.2,
) -> AsyncIterator[bytes]:
    """The body of one ``/ui/stream`` response.

    Starts with a full render (``render(None)``: whatever changed between the
    page load and this connection), then one render per burst of changes.
    A fragment equal to the one last sent under its name is not sent again:
    swapping an unchanged section would close what the reader opened in it
    (a dialog, a details row) and make screen readers repeat it.

    ``allowed`` is asked before every render after the first: a token revoked
    (or a login replaced) while the page is open ends the stream with the
    ``ended`` event instead of streaming on.
    """
    sent: dict[str, str] = {}
    with hub.subscribe() as subscription:
        # Reconnect after 2 s when the connection drops (agent restart).
        yield b"retry: 2000\n\n"
        changed: frozenset[str] | None = None
        while True:
            for name, data in await render(changed):
                if sent.get(name) != data:
                    sent[name] = data
                    yield event(name, data)
            changed = await subscription.next(keepalive, coalesce)
            while not changed:
                yield b": keep-alive\n\n"
                changed = await subscription.next(keepalive, coalesce)
            if allowed is not None and not await allowed():
                yield event(*ended)
                return
