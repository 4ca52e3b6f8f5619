"""Byte-compile gitward's modules before timing whole ``gitward`` processes.

An installed package carries its bytecode. A checkout run with
``PYTHONDONTWRITEBYTECODE=1`` (or one whose sources changed since their
bytecode was written) compiles every module it imports again in every
process: tens to hundreds of milliseconds that no user pays. The start-up
benchmarks call :func:`compile_gitward` first, so they time what a user runs.
"""

from __future__ import annotations

import compileall
import contextlib
import io
from pathlib import Path

import gitward


def compile_gitward() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        compileall.compile_dir(Path(gitward.__file__).parent, quiet=1)
