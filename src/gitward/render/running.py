"""Running a renderer's external process with a time limit and a clean environment.

Kustomize (``kubectl kustomize``) and Helm (a child Python process, because
Helm's Go code runs in-process through ctypes and cannot be interrupted) both
run through :func:`run`: their own process group, killed whole on timeout,
output to a file so its size is checked before it is read. Called by
``render.kustomize`` and ``render.helm``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitward import errors

_STDERR_LIMIT = 4000


def run(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float, what: str
) -> tuple[int, Path, str]:
    """Run ``argv`` in its own process group; kill the group after ``timeout`` seconds.

    Output goes to a file in ``cwd`` (so its size can be checked before it is
    read); returns the exit code, that file, and the end of stderr.
    """
    out_path = cwd / ".stdout"
    with out_path.open("wb") as out, tempfile.TemporaryFile(dir=cwd) as err:
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as exc:
            raise errors.RenderError(f"{what}: cannot start {argv[0]}: {exc.strerror}") from None
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # kubectl may have started git or other children; the whole group goes.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise errors.RenderTimeout(f"{what}: did not finish within {timeout:g}s") from None
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        err.seek(0, os.SEEK_END)
        size = err.tell()
        err.seek(max(0, size - _STDERR_LIMIT))
        stderr = err.read().decode("utf-8", "replace")
    return code, out_path, stderr


def isolated_env(home: Path) -> dict[str, str]:
    """An environment with nothing of the agent's: no KUBECONFIG, no credentials,
    HOME and temporary files under ``home``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        # Remote bases go through git: never prompt, never read user config.
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
