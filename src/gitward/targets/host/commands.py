"""Running a Command: argv, a timeout, an exit status, the tail of its output.

The command gets a small environment of its own (``PATH``, ``LANG``, the
``env`` it declares), never the agent's: the agent's environment holds its
credentials. It runs in a session of its own, so a timeout kills it and
everything it started. Output (stdout and stderr together) is kept up to
``limit`` bytes, the tail: what a failing reload says last is what matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitward.targets.host import objects

_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Run:
    exit_code: int | None  # None: killed at the timeout
    output: str
    started_at: str
    seconds: float
    truncated: bool = False

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        if self.exit_code is None:
            return f"timed out after {self.seconds:.1f}s"
        return f"exited {self.exit_code} after {self.seconds:.1f}s"

    def status(self) -> dict[str, Any]:
        """The ``status`` of a Command's live object after this run."""
        if self.exit_code is None:
            ready, reason = "False", "Timeout"
        elif self.exit_code == 0:
            ready, reason = "True", "Succeeded"
        else:
            ready, reason = "False", "ExitStatus"
        message = self.describe() + (f": {self.output.strip()[-500:]}" if self.output else "")
        return {
            "phase": "Succeeded" if self.succeeded else "Failed",
            "exitCode": self.exit_code,
            "startedAt": self.started_at,
            "seconds": round(self.seconds, 3),
            "output": self.output,
            "outputTruncated": self.truncated,
            "conditions": [
                {"type": "Ready", "status": ready, "reason": reason, "message": message}
            ],
        }


async def run(spec: objects.CommandSpec, *, limit: int) -> Run:
    """Run ``spec`` to its end or its timeout."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *spec.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=spec.working_dir or None,
            env=_environment(spec.env),
            start_new_session=True,
        )
    except OSError as exc:
        return Run(127, f"{spec.command[0]}: {exc.strerror}", started, 0.0)
    tail = bytearray()
    truncated = False

    async def collect() -> None:
        nonlocal truncated
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            tail.extend(chunk)
            if len(tail) > limit:
                del tail[: len(tail) - limit]
                truncated = True
        await process.wait()

    try:
        await asyncio.wait_for(collect(), spec.timeout)
        code: int | None = process.returncode
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        code = None
    text = tail.decode("utf-8", errors="replace")
    return Run(code, text, started, time.monotonic() - clock, truncated)


def _environment(declared: Mapping[str, str]) -> dict[str, str]:
    base = {"PATH": _PATH, "LANG": os.environ.get("LANG", "C.UTF-8")}
    return {**base, **declared}
