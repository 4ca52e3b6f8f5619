"""The Jsonnet renderer: ``.jsonnet`` entry points under the Application's path.

Every ``*.jsonnet`` file under the path (recursively unless ``recurse:
false``; ``include``/``exclude`` globs as for directories) is evaluated; its
output (an object, a ``List``, or an array of objects) becomes manifests.
Plain YAML/JSON manifests beside them are rendered too, as Argo CD renders a
directory holding both. ``.libsonnet`` files are libraries: imported, never
evaluated on their own.

Imports stay inside the repository. Jsonnet import paths are string literals,
so the parent gathers every file the entry points can reach (relative to the
importing file, then each of ``libs``, which are repository paths), refusing
absolute paths and paths climbing above the repository with an error naming
the file and the import; only those files reach the evaluating process, whose
import callback resolves nothing else. The gathered files are the render's
inputs, so the cache sees a change to any library.

Options (``spec.render.jsonnet``): ``tlas`` and ``extVars`` map names to
values: a string is passed as a string, any other value (number, boolean,
list, mapping) as Jsonnet code of its JSON form; ``libs``: library
directories (repository paths, searched in order, as ``jsonnet -J``).

Evaluation runs in a child process (``render._jsonnet_child``), in its own
process group, killed at the render time limit: the Jsonnet VM cannot be
interrupted in-process. Registered as ``jsonnet``; detected when the path
holds ``.jsonnet`` files and neither a chart nor a kustomization.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitward import errors
from gitward.model import resources
from gitward.render import base, directory, loading, paths, running, sops

_OPTION_NAMES = frozenset({"tlas", "extVars", "libs", "recurse", "include", "exclude"})
# import 'x', importstr "x", importbin @'x', import |||\n x\n|||: Jsonnet
# requires literal import paths, so this finds every one (and, in comments,
# a few more: harmless, a missing file is only an error when evaluated).
_IMPORT = re.compile(r"""\bimport(?:str|bin)?\s*@?(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")""")
_ENTRY = ".jsonnet"
_MAX_STACK = 500


def _is_entry(name: str) -> bool:
    return name.endswith(_ENTRY)


@dataclass(frozen=True, slots=True)
class Options:
    tla_vars: Mapping[str, str] = field(default_factory=dict)
    tla_codes: Mapping[str, str] = field(default_factory=dict)
    ext_vars: Mapping[str, str] = field(default_factory=dict)
    ext_codes: Mapping[str, str] = field(default_factory=dict)
    libs: tuple[str, ...] = ()
    walk: directory.Options = field(default_factory=directory.Options)

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str) -> Options:
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            raise errors.RenderError(
                f"{where}: unknown jsonnet option(s) {', '.join(sorted(unknown))}"
            )
        tla_vars, tla_codes = _arguments(options.get("tlas"), "tlas", where)
        ext_vars, ext_codes = _arguments(options.get("extVars"), "extVars", where)
        libs = options.get("libs") or []
        if not isinstance(libs, list) or not all(isinstance(v, str) for v in libs):
            raise errors.RenderError(f"{where}: jsonnet option libs must be a list of paths")
        walk = directory.Options.parse(
            {k: v for k, v in options.items() if k in ("recurse", "include", "exclude")}, where
        )
        return cls(
            tla_vars=tla_vars,
            tla_codes=tla_codes,
            ext_vars=ext_vars,
            ext_codes=ext_codes,
            libs=tuple(paths.normalize(lib, what=f"{where}: jsonnet library") for lib in libs),
            walk=walk,
        )


def _arguments(value: Any, name: str, where: str) -> tuple[dict[str, str], dict[str, str]]:
    if value is None:
        return {}, {}
    if not isinstance(value, Mapping):
        raise errors.RenderError(f"{where}: jsonnet option {name} must be a mapping")
    strings: dict[str, str] = {}
    codes: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            strings[str(key)] = item
        else:
            try:
                codes[str(key)] = json.dumps(item)
            except TypeError:
                raise errors.RenderError(
                    f"{where}: jsonnet {name}.{key} is not a JSON value"
                ) from None
    return strings, codes


def _imports(text: str) -> list[str]:
    return [single if single else double for single, double in _IMPORT.findall(text)]


def _gather(
    request: base.RenderRequest, entries: Sequence[str], libs: Sequence[str]
) -> dict[str, bytes]:
    """Every repository file the entry points can import, read within the limits."""
    tree, limits = request.tree, request.limits
    files: dict[str, bytes] = {}
    total = 0
    pending = list(entries)
    while pending:
        path = pending.pop()
        if path in files:
            continue
        data = tree.read(path, max_bytes=limits.max_file_bytes)
        total += len(data)
        if total > limits.max_total_bytes:
            raise errors.UnsafeInputError(
                f"application {request.app}: Jsonnet sources exceed the"
                f" {limits.max_total_bytes}-byte total limit (at {path!r})"
            )
        files[path] = data
        if not path.endswith((".jsonnet", ".libsonnet")):
            continue  # importstr/importbin content is not scanned
        for target in _imports(data.decode("utf-8", "replace")):
            what = f"{path}: import"
            if target.startswith("/"):
                raise errors.UnsafeInputError(f"{what} {target!r}: absolute paths are refused")
            here = paths.parent(path)
            resolved = paths.join(here, target, what=what)
            if tree.kind(resolved) == base.EntryKind.FILE or (
                tree.kind(resolved) == base.EntryKind.SYMLINK
                and not directory.is_directory(tree, resolved)
            ):
                pending.append(resolved)
                continue
            for lib in libs:
                candidate = paths.join(lib, target, what=what)
                if tree.kind(candidate) is not None and not directory.is_directory(tree, candidate):
                    pending.append(candidate)
                    break
    return files


def _entries(request: base.RenderRequest, root: str, options: Options) -> list[str]:
    return list(directory.walk(request.tree, root, options.walk, _is_entry).files)


class JsonnetRenderer:
    """``.jsonnet`` files (and plain manifests beside them) at the Application's path."""

    name = "jsonnet"
    version = "jsonnet-0.22.0/1"

    def detect(self, tree: base.Tree, path: str) -> bool:
        root = paths.normalize(path, what="application path")
        if root and tree.kind(root) is None:
            return False
        if not directory.is_directory(tree, root):
            return False
        return any(
            entry.name.endswith(_ENTRY) and entry.kind != base.EntryKind.DIRECTORY
            for entry in tree.list(root)
        )

    def confined(self, request: base.RenderRequest) -> bool:
        return True  # imports are confined to the repository and listed in inputs

    def inputs(self, request: base.RenderRequest) -> Sequence[str]:
        root = _root(request)
        options = Options.parse(request.options, f"application {request.app}")
        found = directory.walk(request.tree, root, options.walk)
        gathered = _gather(request, _entries(request, root, options), options.libs)
        return [root, *found.links, *sorted(gathered)]

    def render(self, request: base.RenderRequest) -> resources.Rendered:
        where = f"application {request.app}"
        root = _root(request)
        options = Options.parse(request.options, where)
        limits = request.limits
        warnings: list[str] = []
        found: list[resources.Manifest] = []
        entries = _entries(request, root, options)
        if entries:
            outputs = self._evaluate(request, entries, options)
            for entry in entries:
                found.extend(_manifests(entry, outputs[entry], limits, warnings))
        for path in directory.walk(request.tree, root, options.walk).files:
            data = request.tree.read(path, max_bytes=limits.max_file_bytes)
            found.extend(
                directory.manifests_from(
                    sops.load(data, path, limits, request.decryption), path, warnings
                )
            )
        if not found:
            directory.check_not_silently_empty(
                request.tree, root, options.walk, request.path, "jsonnet"
            )
        return resources.Rendered(manifests=tuple(found), warnings=tuple(warnings))

    def _evaluate(
        self, request: base.RenderRequest, entries: Sequence[str], options: Options
    ) -> Mapping[str, str]:
        limits = request.limits
        files = _gather(request, entries, options.libs)
        label = f"application {request.app}: jsonnet"
        with tempfile.TemporaryDirectory(prefix="gitward-jsonnet-") as temp:
            work = Path(temp)
            home = work / "home"
            home.mkdir()
            child_request = {
                "entries": list(entries),
                "files": {p: base64.b64encode(d).decode() for p, d in files.items()},
                "libs": list(options.libs),
                "tlaVars": dict(options.tla_vars),
                "tlaCodes": dict(options.tla_codes),
                "extVars": dict(options.ext_vars),
                "extCodes": dict(options.ext_codes),
                "maxStack": _MAX_STACK,
            }
            request_file = work / "request.json"
            request_file.write_text(json.dumps(child_request))
            env = running.isolated_env(home)
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
            code, out_path, stderr = running.run(
                [sys.executable, "-m", "gitward.render._jsonnet_child", str(request_file)],
                cwd=work,
                env=env,
                timeout=limits.timeout_seconds,
                what=label,
                memory_limit=limits.max_memory_bytes,
            )
            size = out_path.stat().st_size
            if code != 0 or size == 0:
                raise errors.RenderError(
                    f"{label}: the Jsonnet process failed (exit {code}): {stderr.strip()[-1000:]}"
                )
            if size > limits.max_total_bytes * 2:
                raise errors.UnsafeInputError(
                    f"{label}: output of {size} bytes is over the {limits.max_total_bytes}-byte"
                    " limit"
                )
            result = json.loads(out_path.read_bytes())
        if "error" in result:
            raise errors.RenderError(f"{label}: {result['message']}")
        outputs: Mapping[str, str] = result["outputs"]
        return outputs


def _root(request: base.RenderRequest) -> str:
    root = paths.normalize(request.path, what="application path")
    if root and request.tree.kind(root) is None:
        raise errors.RenderError(f"application path {request.path!r} does not exist")
    if not directory.is_directory(request.tree, root):
        raise errors.RenderError(f"application path {request.path!r} is not a directory")
    return root


def _manifests(
    entry: str, output: str, limits: base.Limits, warnings: list[str]
) -> list[resources.Manifest]:
    output_limits = dataclasses.replace(limits, max_file_bytes=limits.max_total_bytes)
    documents = loading.load(output, entry, output_limits, as_json=True)
    bodies: list[loading.Document] = []
    for document in documents:
        if isinstance(document.body, list):
            # An array of objects (the usual Jsonnet output): one document each.
            bodies.extend(
                loading.Document(body=item, index=position, line=document.line)
                for position, item in enumerate(document.body)
            )
        else:
            bodies.append(document)
    return directory.manifests_from(bodies, entry, warnings)
