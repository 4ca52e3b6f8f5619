"""The child process that evaluates Jsonnet for ``render.jsonnet``.

The Jsonnet VM (the official C++ bindings, ``_jsonnet``) runs without any way
to interrupt it from Python: a recursion that never ends would hold the agent.
So ``render.jsonnet`` starts this module (``python -m
gitward.render._jsonnet_child REQUEST.json``) per render, in its own process
group, and kills it on timeout. It imports only the standard library and
``_jsonnet``.

The request carries the files the entry points may import (repository path →
base64 content), gathered and checked by the parent; the import callback
resolves an import against the importing file's directory, then the library
directories, and only ever inside that set: an absolute path, a path climbing
above the repository or a file not gathered is refused. It prints one JSON
object: ``{"outputs": {entry: json text}}`` or ``{"error": class, "message": text}``.
"""

from __future__ import annotations

import base64
import json
import posixpath
import sys
from pathlib import Path
from typing import Any


class _Refused(Exception):
    pass


def _inside(directory: str, relative: str) -> str | None:
    """``relative`` joined to the repository directory ``directory``, None when it
    would leave the repository."""
    joined = posixpath.normpath(posixpath.join(directory, relative)) if directory else relative
    joined = posixpath.normpath(joined)
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None
    return "" if joined == "." else joined


def _resolver(files: dict[str, bytes], libs: list[str]) -> Any:
    def resolve(directory: str, relative: str) -> tuple[str, bytes]:
        if relative.startswith("/"):
            raise _Refused(f"import {relative!r}: absolute paths are refused")
        # The VM hands back the directory of the importing file as it was named
        # to it: repository paths, with a trailing slash.
        base = directory.rstrip("/")
        for candidate_dir in (base, *libs):
            path = _inside(candidate_dir, relative)
            if path is None:
                if candidate_dir == base:
                    raise _Refused(f"import {relative!r} escapes the repository")
                continue
            if path in files:
                return path, files[path]
        raise _Refused(f"import {relative!r} (from {base or '.'}/) not found in the repository")

    return resolve


def _evaluate(request: dict[str, Any]) -> dict[str, Any]:
    import _jsonnet

    files = {path: base64.b64decode(data) for path, data in request["files"].items()}
    resolve = _resolver(files, list(request["libs"]))
    outputs: dict[str, str] = {}
    for entry in request["entries"]:
        outputs[entry] = _jsonnet.evaluate_snippet(
            entry,
            files[entry].decode("utf-8"),
            ext_vars=request["extVars"],
            ext_codes=request["extCodes"],
            tla_vars=request["tlaVars"],
            tla_codes=request["tlaCodes"],
            import_callback=resolve,
            max_stack=request["maxStack"],
        )
    return {"outputs": outputs}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text())
    try:
        result = _evaluate(request)
    except MemoryError:
        raise  # the parent reads it from stderr: over the render memory limit
    except Exception as exc:  # reported to the parent, which raises RenderError
        result = {"error": type(exc).__name__, "message": str(exc)}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
