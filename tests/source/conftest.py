"""Fixtures for the source stage tests: isolated git environment, upstream
repositories made with the git CLI, and git servers on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitward.source import base

from .gitservers import GIT_ENV, GitDaemon, SmartHTTP, Upstream


@pytest.fixture(autouse=True)
def _isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GNUPGHOME", str(home / "no-gnupg"))


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    root = tmp_path / "upstream"
    root.mkdir()
    return Upstream(root)


@pytest.fixture
def sources(tmp_path: Path) -> base.Sources:
    return base.Sources(tmp_path / "cache", fetch_timeout=10.0)


@pytest.fixture
def daemon(upstream: Upstream) -> Iterator[GitDaemon]:
    server = GitDaemon(upstream.root)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(upstream: Upstream) -> Iterator[SmartHTTP]:
    server = SmartHTTP(upstream.root)
    try:
        yield server
    finally:
        server.stop()


def cache_files(cache: Path) -> Iterator[Path]:
    for dirpath, _, filenames in os.walk(cache):
        for filename in filenames:
            yield Path(dirpath, filename)
