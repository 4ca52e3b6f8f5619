"""``gitward import``: read Argo CD and Flux configuration, write gitward's.

Called by ``cli.import_commands``. Reads manifests from files and
directories (through the render stage's guarded YAML loader) or from a live
cluster (every namespace, through the Target seam), translates them with
``config.importing`` and writes the result as files: one per Application,
ApplicationSet and Project under ``apps/`` (the root path the agent reads),
``gitward.yaml`` with the targets, repository credentials and decryption keys
they refer to (references only), and ``import-report.txt`` listing every field
not translated and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gitward import errors
from gitward.config.importing import results, translating
from gitward.engine import runtimes
from gitward.render import base as render_base
from gitward.render import loading

_LIMITS = render_base.Limits(max_file_bytes=16 * 1024 * 1024, max_documents=100_000)
_EXTENSIONS = (".yaml", ".yml", ".json")
_LIST_LIMIT = 10_000

Document = Mapping[str, Any]


def read_files(paths: Sequence[Path]) -> list[Mapping[str, Any]]:
    """Every document of the YAML/JSON files at ``paths`` (directories walked)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in _EXTENSIONS))
        elif path.exists():
            files.append(path)
        else:
            raise errors.ConfigError(f"{path}: no such file or directory")
    documents: list[Mapping[str, Any]] = []
    for file in files:
        data = file.read_bytes()
        if len(data) > _LIMITS.max_file_bytes:
            raise errors.ConfigError(f"{file}: over the {_LIMITS.max_file_bytes}-byte limit")
        try:
            bodies = loading.load_documents(data, str(file), _LIMITS)
        except errors.RenderError as exc:
            raise errors.ConfigError(str(exc)) from None
        documents.extend(_flatten(bodies))
    return documents


def _flatten(bodies: Iterable[Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for body in bodies:
        if not isinstance(body, Mapping):
            continue
        if str(body.get("kind") or "").endswith("List") and isinstance(body.get("items"), list):
            out.extend(item for item in body["items"] if isinstance(item, Mapping))
        else:
            out.append(body)
    return out


async def read_cluster(runtime: runtimes.Runtime, target: str) -> list[Mapping[str, Any]]:
    """Every Argo CD and Flux object the target's cluster holds, all namespaces."""
    cluster = runtime.target(target)
    documents: list[Mapping[str, Any]] = []
    for group, kind in translating.KINDS:
        found, more = await cluster.list_objects(group, kind, "", limit=_LIST_LIMIT)
        if more:
            raise errors.ConfigError(
                f"more than {_LIST_LIMIT} {kind}.{group} objects: import them from files"
            )
        documents.extend(found)
    return documents


def translate(documents: Iterable[Mapping[str, Any]]) -> results.Imported:
    return translating.translate(documents)


def report(imported: results.Imported) -> str:
    """The import report: what was written, then every note."""
    lines = [
        f"Imported {len(imported.applications)} Application(s), "
        f"{len(imported.application_sets)} ApplicationSet(s), {len(imported.projects)} "
        f"Project(s); {len(imported.notes)} field(s) not translated as they were."
    ]
    for note in imported.notes:
        lines.append(f"- {note.source}: {note.field}: {note.reason}")
    return "\n".join(lines) + "\n"


def write(imported: results.Imported, out: Path, *, overwrite: bool = False) -> list[Path]:
    """Write the import under ``out``; refuses to replace files unless ``overwrite``."""
    planned: dict[Path, str] = {}
    for kind, documents in (
        ("application", imported.applications),
        ("applicationset", imported.application_sets),
        ("project", imported.projects),
    ):
        for document in documents:
            name = document["metadata"]["name"]
            path = out / "apps" / f"{kind}-{name}.yaml"
            if path in planned:
                raise errors.ConfigError(
                    f"two imported objects become the {kind} {name!r} (gitward names are "
                    "unique per agent): rename one before importing"
                )
            planned[path] = yaml.safe_dump(document, sort_keys=False)
    settings = imported.settings()
    if settings:
        header = (
            "# gitward.yaml entries the imported objects refer to (references, no secrets);\n"
            "# merge them into the agent's configuration.\n"
        )
        planned[out / "gitward.yaml"] = header + yaml.safe_dump(settings, sort_keys=False)
    planned[out / "import-report.txt"] = report(imported)
    existing = [path for path in planned if path.exists()]
    if existing and not overwrite:
        listed = ", ".join(str(p) for p in existing[:5])
        raise errors.ConfigError(f"would replace {listed}: choose another --out or --force")
    for path, text in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(planned)
