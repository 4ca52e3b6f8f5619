"""Running a renderer's external process with a time limit and a clean environment.

Kustomize (``kubectl kustomize``) and Helm (a child Python process, because
Helm's Go code runs in-process through ctypes and cannot be interrupted) both
run through :func:`run`: their own process group, killed whole on timeout,
output to a file so its size is checked before it is read, and a memory
ceiling. Called by ``render.kustomize`` and ``render.helm``.

The ceiling is RLIMIT_DATA (private writable memory: heap and anonymous
mappings), set by util-linux ``prlimit`` in the child before it executes the
renderer. Not RLIMIT_AS: the Go runtime reserves over 512 MiB of address space
at start-up (PROT_NONE, never resident), so an address-space limit low enough
to matter kills every Go child before it runs, while RLIMIT_DATA counts only
memory that can become resident. Not ``preexec_fn``: renders run in threads of
the agent, where forking Python code before ``exec`` can deadlock. A chart
whose template is ``{{ repeat 100000000 "xxxxxxxxxx" }}`` (issue 11) reached
3.5 GB resident without it; with it the child fails at the limit and the
render is a :class:`gitward.errors.RenderMemoryExceeded`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitward import errors

_STDERR_LIMIT = 4000
_SBIN = "/usr/bin:/bin:/usr/sbin:/sbin"
# What a child prints when an allocation fails under the limit: the Go runtime
# ("fatal error: runtime: out of memory"), Python (MemoryError), C and C++.
_OUT_OF_MEMORY = ("out of memory", "MemoryError", "Cannot allocate memory", "bad_alloc")
# A Go runtime in a C host (the Helm child) aborts instead of exiting.
_OOM_SIGNALS = (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV)


def _prlimit() -> str:
    found = shutil.which("prlimit", path=os.pathsep.join((os.environ.get("PATH", ""), _SBIN)))
    if found is None:
        raise errors.RenderError(
            "cannot limit the memory of render processes: prlimit (util-linux) is not installed"
        )
    return found


def _mebibytes(size: int) -> str:
    return f"{size / (1 << 30):g} GiB" if size >= 1 << 30 else f"{size / (1 << 20):g} MiB"


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    what: str,
    memory_limit: int = 0,
) -> tuple[int, Path, str]:
    """Run ``argv`` in its own process group; kill the group after ``timeout`` seconds.

    ``memory_limit`` (bytes, 0 for none) caps the private writable memory of
    the process and of what it starts; going over it raises
    :class:`gitward.errors.RenderMemoryExceeded` naming ``what`` and the limit.
    Output goes to a file in ``cwd`` (so its size can be checked before it is
    read); returns the exit code, that file, and the end of stderr.
    """
    if memory_limit > 0:
        argv = [_prlimit(), f"--data={memory_limit}", "--", *argv]
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
    if memory_limit > 0 and code != 0 and _out_of_memory(code, stderr):
        raise errors.RenderMemoryExceeded(
            f"{what}: went over the render memory limit of {_mebibytes(memory_limit)}"
            " (renderMemoryLimit) and was stopped"
        )
    return code, out_path, stderr


def _out_of_memory(code: int, stderr: str) -> bool:
    return code in _OOM_SIGNALS or any(marker in stderr for marker in _OUT_OF_MEMORY)


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
