"""``gitward import``: Argo CD and Flux configuration → gitward files.

A thin edge over ``engine.importing``: read files or a cluster, translate,
write the files and print the report of every field not translated.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from gitward import errors
from gitward.cli import consoles
from gitward.engine import importing, runtimes

EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3

_err = consoles.Lazy(stderr=True)


def import_(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or directories of Argo CD / Flux manifests.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write apps/, gitward.yaml and the report.")
    ] = Path("gitward-import"),
    from_cluster: Annotated[
        bool,
        typer.Option("--from-cluster", help="Read the objects from a live cluster instead."),
    ] = False,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Kubeconfig of that cluster.")
    ] = None,
    context: Annotated[str, typer.Option("--context", help="Kubeconfig context.")] = "",
    force: Annotated[bool, typer.Option("--force", help="Replace files already in --out.")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
) -> None:
    """Translate Argo CD Applications, ApplicationSets, AppProjects and Flux sources,
    Kustomizations and HelmReleases into gitward files, with a report of every
    field not translated and why."""
    try:
        if from_cluster:
            options = runtimes.RuntimeOptions(kubeconfig=kubeconfig, context=context)

            async def main() -> list[importing.Document]:
                async with runtimes.Runtime.open(options) as runtime:
                    return await importing.read_cluster(runtime, "import-source")

            documents = asyncio.run(main())
        elif paths:
            documents = importing.read_files(paths)
        else:
            raise errors.ConfigError("name files or directories to import, or --from-cluster")
        imported = importing.translate(documents)
        written = importing.write(imported, out, overwrite=force)
    except errors.InputError as exc:
        _err.line(("error:", "red"), f" {exc}")
        raise typer.Exit(EXIT_INPUT) from None
    except errors.RetryableError as exc:
        _err.line(("unavailable:", "red"), f" {exc}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    if output == "json":
        data = {
            "written": [str(p) for p in written],
            "applications": [a["metadata"]["name"] for a in imported.applications],
            "applicationSets": [a["metadata"]["name"] for a in imported.application_sets],
            "projects": [p["metadata"]["name"] for p in imported.projects],
            "notes": [
                {"source": n.source, "field": n.field, "reason": n.reason} for n in imported.notes
            ],
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    sys.stdout.write(importing.report(imported))
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
