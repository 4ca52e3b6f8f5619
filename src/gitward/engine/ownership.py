"""Which Applications this agent process reconciles.

The agent consults an :class:`Ownership` before it works on an Application
(``engine.workers``) and before it recovers an interrupted operation
(``engine.recovery``). A replica alone owns everything (:class:`Everything`);
replicas share the Applications out through a coordinator that implements
the same Protocol. Ownership may change while the agent runs: the
implementation calls its listeners, and the loop queues every Application
again so each is picked up by its new owner and dropped by the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol


class Ownership(Protocol):
    @property
    def owns_everything(self) -> bool:
        """True when this process owns every Application, whatever its name
        (start-up recovery then covers every interrupted operation at once)."""
        ...

    def owns(self, app: str) -> bool:
        """Whether this process reconciles ``app`` now."""
        ...

    def subscribe(self, listener: Callable[[], None]) -> None:
        """``listener()`` is called whenever the set of owned Applications may
        have changed; it must not block."""
        ...

    def fence(self, app: str) -> str:
        """The fencing token an Operation of ``app`` is recorded under ('' when
        alone, or when this process may not write ``app`` now)."""
        ...

    def live_fences(self) -> Collection[str]:
        """The fences of the live replicas: a Running operation recorded under
        one of them may be running right now and is never marked interrupted."""
        ...


class Everything:
    """The single-replica ownership: every Application, for ever."""

    @property
    def owns_everything(self) -> bool:
        return True

    def owns(self, app: str) -> bool:
        return True

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Nothing ever changes; the listener is never called."""

    def fence(self, app: str) -> str:
        return ""

    def live_fences(self) -> Collection[str]:
        return ()
