"""What a one-shot command sets up before it runs the engine.

``gitward render|diff|sync`` fetch Git in a child process
(:mod:`gitward.source.fetching`). A one-shot command fetches once or twice,
so its fetch processes are forked from the command itself rather than from a
fork server: the server and multiprocessing's resource tracker would cost two
more Python start-ups (~0.15 CPU-seconds) on the machine's cores while the
command imports the engine. The agent needs none of this: its fork server
starts once and stays.
"""

from __future__ import annotations

from gitward.source import fetching


def one_shot() -> None:
    """Fetch processes of this process fork from it (no fork server)."""
    fetching.fork_from_here()
