"""What a one-shot command starts first, so it is ready when the command needs it.

``gitward render|diff|sync`` fetch Git in a child process forked from a fork
server (:mod:`gitward.source.fetching`). Starting that server (a Python
start-up and pygit2's import, ~0.2 s) before the command imports the rest of
the engine lets the two run at the same time instead of one after the other.
The agent needs none of this: its fork server starts once and stays.
"""

from __future__ import annotations

from gitward.source import fetching


def fetch_server() -> None:
    """Start the fork server git fetches run from; returns without waiting for it."""
    fetching.start_server()
