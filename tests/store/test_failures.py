"""A damaged SQLite store is StoreCorrupt (an input error naming the file and
what to do); a store that only cannot be reached or written is
StoreUnavailable (retried). Real SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward import errors
from gitward.store import base, storing


async def made(path: Path) -> None:
    store = storing.SqlStore(f"sqlite:///{path}")
    await store.open()
    await store.save_status(base.AppRecord(name="web"))
    await store.close()


async def test_garbage_and_damaged_pages_are_corrupt_naming_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database\n" * 400)
    damaged = tmp_path / "damaged.db"
    await made(damaged)
    data = bytearray(damaged.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page
    damaged.write_bytes(bytes(data))
    for path in (garbage, damaged):
        store = storing.SqlStore(f"sqlite:///{path}")
        with pytest.raises(base.StoreCorrupt) as caught:
            await store.open()
        message = str(caught.value)
        assert isinstance(caught.value, errors.InputError)
        assert f"store {path} is damaged" in message and "\n" not in message
        assert "restore it from a backup" in message and "move it aside" in message


async def test_an_unopenable_file_is_unavailable_not_corrupt(tmp_path: Path) -> None:
    store = storing.SqlStore(f"sqlite:///{tmp_path / 'missing-dir' / 'state.db'}")
    with pytest.raises(base.StoreUnavailable) as caught:
        await store.open()
    assert "unable to open database file" in str(caught.value)
