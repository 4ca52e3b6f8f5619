"""The host target: a Linux host's files, reconciled by the same engine.

The agent runs on the host it manages (one agent per host, pulling from Git)
and writes only under the target's declared roots. Reached by the engine
through the target registry (``type: host``), never imported by it.

Modules: ``objects`` (the kinds, checked), ``confining`` (paths kept in the
roots, lexically and on the disk), ``disk`` (reading entries, atomic writes),
``live`` (objects as the engine sees them, the dry run), ``inventory`` (what
gitward wrote: prune removes only what it created), ``commands`` (running a
Command), ``watching`` (inotify and the hash check: drift), ``target``.
"""

from __future__ import annotations

from gitward.targets.host.target import HostTarget

__all__ = ["HostTarget"]
