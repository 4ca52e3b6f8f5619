"""One agent per SQLite file: a second one is refused with a clear error, the
lock goes with the process (SIGKILL included), readers are never refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gitward import errors
from gitward.store import locking, storing


def hold_in_child(url: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(
        f"""
        import sys, time
        from gitward.store import locking
        with locking.single_agent({url!r}):
            print("held", flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


async def test_a_second_agent_on_one_file_is_refused_naming_file_and_pid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    child = hold_in_child(url)
    try:
        with pytest.raises(locking.StoreInUse) as caught, locking.single_agent(url):
            pass
        message = str(caught.value)
        assert str(tmp_path / "state.db") in message
        assert f"pid {child.pid}" in message
        assert "PostgreSQL" in message
        assert isinstance(caught.value, errors.ConfigError)
        # Readers (CLI, backups) still open the database.
        store = storing.SqlStore(url)
        await store.open()
        await store.close()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert child.stdout is not None
        child.stdout.close()
    # Killed: the lock went with it.
    with locking.single_agent(url):
        pass


def test_only_sqlite_files_are_locked(tmp_path: Path) -> None:
    assert locking.lock_path("sqlite://") is None
    assert locking.lock_path("postgresql://u@h/db") is None
    assert locking.lock_path(f"sqlite:///{tmp_path}/s.db") == tmp_path / "s.db.agent-lock"
    with locking.single_agent("postgresql://u@h/db"), locking.single_agent("sqlite://"):
        pass
