"""SOPS decryption at render time: age keys, encrypted files, and the render hooks.

Files encrypted by `sops <https://github.com/getsops/sops>`_ with age
recipients (YAML, JSON, dotenv) are decrypted natively: the data key is
recovered with ``pyrage`` from the ``sops.age`` stanzas (Shamir key groups
included), values are opened with AES-256-GCM (``cryptography``) and the
file's MAC is verified before anything is returned. ``render._sops_metadata``
and ``render._sops_values`` hold sops's rules, ``render._sops_yaml`` reads YAML
and ``render._sops_dotenv`` dotenv files as sops did.

Where decryption happens, and who calls what:

* directory renders: :func:`decrypt_rendered`, a post-render transform
  (``rendering.add_transform``). Manifests that carry SOPS metadata are traced
  to their file (``path#index``), the whole file is decrypted (the MAC covers
  every document of it) and its manifests are replaced in place. Renderers may
  instead load files through :func:`load`, a drop-in for ``loading.load``.
* Kustomize: :func:`decrypt_tree` rewrites the encrypted files among those
  materialized for ``kubectl kustomize`` (resources, ``secretGenerator``
  files and envs) in the private temporary directory, before the build.
* Helm: values files are read with :func:`load_documents`.

Keys come from :class:`Decryption` on the render request
(``RenderRequest.decryption``), built from the Application's configuration by
the engine; nothing falls back to ``SOPS_AGE_KEY*`` of the agent's own
environment, so one Application never decrypts with another's keys.

Decrypted values stay in memory: they are never written outside the render's
temporary directory, never logged, and never part of an error message (errors
name the file, the key path and the recipients' public keys only).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import structlog
import yaml

from gitward import errors
from gitward.model import resources
from gitward.render import (
    _sops_dotenv,
    _sops_metadata,
    _sops_values,
    _sops_yaml,
    base,
    keys,
    loading,
)

_log = structlog.get_logger(__name__)

ENCRYPTED_MARKER = b"ENC[AES256_GCM,"
"""Bytes every SOPS-encrypted file contains (at least its sealed MAC)."""

_DOTENV_MAC = re.compile(rb"^sops_mac=", re.MULTILINE)


# --- keys (``render.keys``; named here too, as sops users know them) -------------

AgeKeys = keys.AgeKeys
Decryption = keys.Decryption


def decryption_of(request: base.RenderRequest) -> Decryption | None:
    """The request's :class:`Decryption` (``RenderRequest.decryption``), if any."""
    found = getattr(request, "decryption", None)
    if found is not None and not isinstance(found, Decryption):
        raise errors.RenderError(
            f"application {request.app}: decryption must be a sops.Decryption,"
            f" not {type(found).__name__}"
        )
    return found


# --- detection -------------------------------------------------------------------


def is_encrypted(body: Any) -> bool:
    """Whether a YAML/JSON document carries SOPS metadata: a top-level ``sops``
    mapping with a ``mac`` and a known key group."""
    if not isinstance(body, Mapping):
        return False
    meta = body.get("sops")
    return (
        isinstance(meta, Mapping)
        and "mac" in meta
        and any(meta.get(name) for name in (*_sops_metadata.KEY_TYPES, "key_groups"))
    )


def file_format(source: str) -> str:
    """sops's format for a file name: ``yaml``, ``json``, ``dotenv``, ``ini`` or
    ``binary`` (any other extension)."""
    name = source.rpartition("/")[2].lower()
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".env"):
        return "dotenv"
    if name.endswith(".ini"):
        return "ini"
    return "binary"


# --- decrypting ------------------------------------------------------------------


def _open_data_key(metadata: _sops_metadata.Metadata, decryption: Decryption, source: str) -> bytes:
    age_recipients = metadata.recipients
    if not age_recipients:
        kinds = ", ".join(metadata.other_key_types) or "no known key type"
        raise errors.DecryptionError(
            f"{source}: encrypted for {kinds} only; gitward decrypts SOPS files with age recipients"
        )
    key = _sops_metadata.data_key(metadata, decryption.age.identities(), source)
    if key is None:
        groups = (
            f" (needs {metadata.shamir_threshold} of {len(metadata.groups)} key groups)"
            if len(metadata.groups) > 1
            else ""
        )
        raise errors.DecryptionError(
            f"{source}: no configured age identity ({decryption.age.origin}, recipients"
            f" {', '.join(decryption.age.recipients)}) opens the file{groups}; it is encrypted"
            f" for {', '.join(age_recipients)}"
        )
    if len(key) != 32:
        raise errors.DecryptionError(f"{source}: the recovered data key is not 256 bits")
    return key


def _decrypt_branches(
    branches: Sequence[Mapping[str, Any]],
    sops_section: Any,
    source: str,
    decryption: Decryption | None,
) -> list[dict[str, Any]]:
    if not isinstance(sops_section, Mapping):
        raise errors.DecryptionError(f"{source}: the sops section is not a mapping")
    metadata = _sops_metadata.parse_metadata(sops_section, source)
    if decryption is None:
        raise errors.DecryptionError(
            f"{source}: the file is SOPS-encrypted (age recipients"
            f" {', '.join(metadata.recipients) or 'none'}) but no decryption keys are configured"
        )
    key = _open_data_key(metadata, decryption, source)
    out = _sops_values.decrypt_tree(branches, metadata, key, source)
    _log.debug(
        "sops.decrypted",
        source=source,
        documents=len(branches),
        recipients=list(metadata.recipients),
    )
    return out


def _decrypt_yaml(text: str, count: int, source: str, decryption: Decryption | None) -> list[Any]:
    try:
        bodies = _sops_yaml.load(text)
    except yaml.YAMLError as exc:
        raise errors.RenderError(f"{source}: invalid YAML: {exc}") from None
    if len(bodies) != count:
        raise errors.RenderError(f"{source}: documents could not be read consistently")
    present = [b for b in bodies if b is not None]
    if not present or not is_encrypted(present[0]):
        raise errors.DecryptionError(
            f"{source}: SOPS metadata must be in the file's first document"
        )
    if not all(isinstance(b, Mapping) for b in present):
        raise errors.DecryptionError(f"{source}: a SOPS-encrypted YAML file holds only mappings")
    decrypted = iter(_decrypt_branches(present, present[0]["sops"], source, decryption))
    return [None if b is None else _sops_yaml.merge_keys(next(decrypted)) for b in bodies]


def _decrypt_dotenv(text: str, source: str, decryption: Decryption | None) -> dict[str, Any]:
    values, flat = _sops_dotenv.branch(text, source)
    if "mac" not in flat:
        raise errors.DecryptionError(f"{source}: no sops_mac line")
    return _decrypt_branches([values], _sops_dotenv.unflatten(flat, source), source, decryption)[0]


def _text(data: bytes | str, source: str, limits: base.Limits) -> str:
    if isinstance(data, str):
        return data
    if len(data) > limits.max_file_bytes:
        raise errors.UnsafeInputError(
            f"{source}: {len(data)} bytes is over the {limits.max_file_bytes}-byte file limit"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.RenderError(
            f"{source}: not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None


def load(
    data: bytes | str,
    source: str,
    limits: base.Limits,
    decryption: Decryption | None,
    *,
    as_json: bool | None = None,
) -> list[loading.Document]:
    """:func:`loading.load`, decrypting the file when it is SOPS-encrypted.

    A file without SOPS metadata comes back exactly as ``loading.load`` reads
    it; an encrypted one comes back decrypted (``sops`` section removed) or
    raises :class:`errors.DecryptionError` naming the file.
    """
    documents = loading.load(data, source, limits, as_json=as_json)
    if not any(is_encrypted(d.body) for d in documents):
        return documents
    return _decrypt_documents(documents, data, source, limits, decryption, as_json)


def _decrypt_documents(
    documents: Sequence[loading.Document],
    data: bytes | str,
    source: str,
    limits: base.Limits,
    decryption: Decryption | None,
    as_json: bool | None,
) -> list[loading.Document]:
    """``documents`` (read by ``loading.load`` from ``data``, the guards passed)
    decrypted."""
    is_json = loading.is_json(source) if as_json is None else as_json
    if is_json:
        if len(documents) != 1:
            raise errors.DecryptionError(f"{source}: a SOPS-encrypted JSON file holds one object")
        body = documents[0].body
        bodies: list[Any] = _decrypt_branches([body], body["sops"], source, decryption)
    else:
        bodies = _decrypt_yaml(_text(data, source, limits), len(documents), source, decryption)
    return [
        loading.Document(index=d.index, line=d.line, body=body)
        for d, body in zip(documents, bodies, strict=True)
    ]


def load_documents(
    data: bytes | str, source: str, limits: base.Limits, decryption: Decryption | None
) -> list[Any]:
    """The bodies of :func:`load` (a drop-in for ``loading.load_documents``)."""
    return [d.body for d in load(data, source, limits, decryption)]


def _refuse(source: str, kind: str) -> errors.DecryptionError:
    return errors.DecryptionError(
        f"{source}: SOPS {kind} files are not supported; encrypt the file as YAML, JSON or dotenv"
    )


def decrypt_file(
    data: bytes, source: str, limits: base.Limits, decryption: Decryption | None
) -> bytes | None:
    """The plaintext of a SOPS-encrypted file, in its own format; ``None`` when
    ``data`` is not SOPS-encrypted.

    The format follows sops's choice by extension (``.yaml``/``.yml``,
    ``.json``, ``.env``); other names are dotenv when they hold a
    ``sops_mac=`` line, YAML when they hold a ``sops`` metadata mapping. INI
    and binary-format files are refused.
    """
    if ENCRYPTED_MARKER not in data:
        return None
    kind = file_format(source)
    if kind == "ini":
        if b"[sops]" in data:
            raise _refuse(source, "INI")
        return None
    if kind == "dotenv" or (kind == "binary" and _DOTENV_MAC.search(data)):
        if not _DOTENV_MAC.search(data):
            return None
        values = _decrypt_dotenv(_text(data, source, limits), source, decryption)
        # As sops writes dotenv: a newline inside a value becomes the two
        # characters \n (dotenv values are always strings).
        return "".join(
            f"{name}={value.replace(chr(10), chr(92) + 'n')}\n" for name, value in values.items()
        ).encode()
    try:
        documents = loading.load(data, source, limits, as_json=kind == "json")
    except errors.RenderError:
        if kind == "binary":
            return None  # not a document at all: not ours to judge
        raise
    bodies = [d.body for d in documents if d.body is not None]
    if not any(is_encrypted(b) for b in bodies):
        return None
    if kind == "binary" and len(bodies) == 1 and set(bodies[0]) == {"data", "sops"}:
        raise _refuse(source, "binary-format")
    decrypted = [
        d.body
        for d in load(data, source, limits, decryption, as_json=kind == "json")
        if d.body is not None
    ]
    if kind == "json":
        return (json.dumps(decrypted[0], indent=2, ensure_ascii=False) + "\n").encode()
    return yaml.dump_all(
        decrypted,
        Dumper=yaml.CSafeDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    ).encode()


def _files_under(root: Path, relative: str) -> list[tuple[str, Path]]:
    top = root / relative if relative else root
    if top.is_symlink() or not top.exists():
        return []
    if top.is_file():
        return [(relative, top)]
    found: list[tuple[str, Path]] = []
    for path in sorted(top.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append((path.relative_to(root).as_posix(), path))
    return found


def decrypt_tree(
    root: Path, files: Sequence[str], decryption: Decryption | None, limits: base.Limits
) -> list[str]:
    """Decrypt, in place, the SOPS-encrypted files among ``files`` under ``root``.

    ``root`` is a private temporary directory a renderer materialized the
    repository into (never a mirror or a cache); ``files`` are repository
    paths below it (directories are walked). Each decrypted file is replaced
    atomically by its plaintext, readable by its owner only. Returns the paths
    decrypted. Called by ``render.kustomize`` before ``kubectl kustomize``.
    """
    decrypted: list[str] = []
    seen: set[str] = set()
    for relative in files:
        for name, path in _files_under(root, relative):
            if name in seen:
                continue
            seen.add(name)
            plaintext = decrypt_file(path.read_bytes(), name, limits, decryption)
            if plaintext is None:
                continue
            staging = path.with_name(f".{path.name}.gitward-decrypted")
            descriptor = os.open(
                staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600
            )
            with os.fdopen(descriptor, "wb") as out:
                out.write(plaintext)
            staging.replace(path)
            decrypted.append(name)
    return decrypted


# --- the post-render transform -----------------------------------------------------


def _carries_sops(body: Mapping[str, Any]) -> bool:
    if is_encrypted(body):
        return True
    try:
        return ENCRYPTED_MARKER in orjson.dumps(body)
    except TypeError:
        return False


def _file_of(source: str, tree: base.Tree) -> tuple[str, int] | None:
    path, sep, index = source.rpartition("#")
    if not sep or not index.isdigit() or not path:
        return None
    try:
        kind = tree.kind(path)
    except errors.GitwardError:
        return None
    if kind not in (base.EntryKind.FILE, base.EntryKind.SYMLINK):
        return None
    return path, int(index)


def _objects(body: Any, where: str, warnings: list[str]) -> list[Mapping[str, Any]]:
    def is_object(value: Any) -> bool:
        return (
            isinstance(value, Mapping)
            and isinstance(value.get("apiVersion"), str)
            and isinstance(value.get("kind"), str)
            and bool(value["apiVersion"])
            and bool(value["kind"])
        )

    if body is None:
        return []
    if not is_object(body):
        warnings.append(f"{where}: skipped after decryption, not a Kubernetes object")
        return []
    items = body.get("items")
    if str(body["kind"]).endswith("List") and isinstance(items, list):
        return [item for item in items if is_object(item)]
    return [body]


def decrypt_rendered(
    request: base.RenderRequest, rendered: resources.Rendered
) -> resources.Rendered:
    """The post-render transform: decrypt manifests read from SOPS files.

    Manifests whose source is a repository file (``path#index``) and that
    carry SOPS metadata or sealed values are replaced by the decrypted
    documents of that file, in place. A SOPS document coming out of a tool
    (Kustomize, Helm) was not decrypted before the tool ran: refused, never
    passed on encrypted.
    """
    files: dict[str, int] = {}  # path -> position of its first manifest
    for position, manifest in enumerate(rendered.manifests):
        if not _carries_sops(manifest.body):
            continue
        located = _file_of(manifest.source, request.tree)
        if located is None:
            if is_encrypted(manifest.body):
                raise errors.DecryptionError(
                    f"{manifest.source or manifest.key}: a SOPS-encrypted document reached the"
                    " render output undecrypted (files a tool reads must be decrypted before"
                    " it runs)"
                )
            continue
        files.setdefault(located[0], position)
    if not files:
        return rendered
    decryption = decryption_of(request)
    limits = request.limits
    replaced: dict[str, dict[int, list[Mapping[str, Any]]]] = {}
    warnings = list(rendered.warnings)
    for path in files:
        data = request.tree.read(path, max_bytes=limits.max_file_bytes)
        documents = loading.load(data, path, limits)
        if not any(is_encrypted(d.body) for d in documents):
            continue  # sealed-looking text in a plain file: data, not ours
        by_index: dict[int, list[Mapping[str, Any]]] = {}
        for document in _decrypt_documents(documents, data, path, limits, decryption, None):
            where = f"{path}#{document.index} (line {document.line})"
            by_index[document.index] = _objects(document.body, where, warnings)
        replaced[path] = by_index
    if not replaced:
        return rendered
    manifests: list[resources.Manifest] = []
    emitted: set[tuple[str, int]] = set()
    for manifest in rendered.manifests:
        path, _, index = manifest.source.rpartition("#")
        if path not in replaced or not index.isdigit():
            manifests.append(manifest)
            continue
        located = (path, int(index))
        if located in emitted:
            continue  # the decrypted document was emitted with its first manifest
        emitted.add(located)
        for body in replaced[located[0]].get(located[1], []):
            manifests.append(resources.Manifest.from_body(body, source=manifest.source))
    return resources.Rendered(
        manifests=tuple(manifests), input_digest=rendered.input_digest, warnings=tuple(warnings)
    )
