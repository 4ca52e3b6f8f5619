"""Helm charts in OCI registries (``oci://registry.example.com/charts/cert-manager``).

Follows the OCI Distribution spec through the registry client of
:mod:`gitward.images.registries` (its Basic and token authentication, CA
bundle, plain HTTP where configured): tags are listed and the highest allowed
by the version range wins (Helm stores ``+`` in a version as ``_`` in the
tag); the tag's manifest is read and its digest computed from the bytes
received; the chart layer (``application/vnd.cncf.helm.chart.content.v1.tar+gzip``)
is checked against the size limit *before* it is downloaded and against its
digest after. A digest pin (``...cert-manager@sha256:<hex>``) skips the tag
list and must equal the manifest's digest. Called by :mod:`gitward.source.charts`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from gitward import errors
from gitward.images import registries
from gitward.source import helmrepos, resolving

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
_MANIFEST_LIMIT = 4 * 1024 * 1024
_PIN = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    """``oci://host[:port]/path/name[@sha256:...]`` taken apart."""

    host: str
    repository: str  # path on the registry, chart name last
    digest: str = ""  # a pin, sha256:<hex>

    @classmethod
    def parse(cls, url: str) -> Reference:
        if not url.startswith("oci://"):
            raise errors.ConfigError(f"{url!r} is not an oci:// reference")
        rest, _, digest = url[len("oci://") :].partition("@")
        host, _, repository = rest.strip("/").partition("/")
        if not host or not repository or ".." in repository.split("/"):
            raise errors.ConfigError(f"{url!r}: expected oci://host/path/chart")
        if digest and not _PIN.match(digest):
            raise errors.ConfigError(f"{url!r}: the pin must be @sha256:<64 hex digits>")
        return cls(host=host, repository=repository, digest=digest)

    @property
    def name(self) -> str:
        return self.repository.rpartition("/")[2]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A chart version in a registry: its tag, manifest digest and chart layer."""

    version: str
    manifest_digest: str
    layer_digest: str
    layer_size: int


def endpoint(host: str, access: helmrepos.Access) -> registries.Endpoint:
    creds = None
    if access.password is not None or access.username:
        password = access.password
        creds = registries.Credentials(
            username=access.username,
            password_env=password.env if password is not None else "",
            password_file=password.file if password is not None else None,
        )
    return registries.Endpoint(
        host=host,
        insecure=access.plain_http,
        credentials=creds,
        ca_file=access.ca_file,
        timeout=access.timeout,
    )


def _wrap(exc: errors.GitwardError, where: str) -> errors.GitwardError:
    message = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
    if isinstance(exc, registries.RegistryUnavailable):
        return errors.SourceUnavailable(message)
    if isinstance(exc, registries.ImageNotFound):
        return errors.RevisionNotFound(f"{where}: no such chart repository in the registry")
    if isinstance(exc, registries.ResponseTooLarge | registries.RegistryAuthError):
        return errors.SourceRejected(message)
    return exc


async def resolve(
    client: registries.RegistryClient, ref: Reference, version: str, where: str
) -> Resolved:
    """The version ``version`` (exact, range, '' for the newest stable) or the pin."""
    try:
        if ref.digest:
            return await _manifest(client, ref, ref.digest, "", where)
        constraint = resolving.Constraint.parse(version or "*")
        tags = await client.tags(ref.repository)
        if constraint is None:
            tag = version.replace("+", "_")
            if tag not in tags:
                raise errors.RevisionNotFound(f"{where}: no version {version!r} in the registry")
        else:
            versions = {t.replace("_", "+"): t for t in tags}
            best = resolving.highest(constraint, versions)
            if best is None:
                newest = resolving.highest(
                    resolving.Constraint.parse(">=0.0.0-0") or constraint, versions
                )
                hint = f"; newest is {newest[0]}" if newest else "; it has no versions"
                raise errors.RevisionNotFound(
                    f"{where}: no version matches {version or '*'!r}{hint}"
                )
            tag = versions[best[0]]
        return await _manifest(client, ref, tag, tag.replace("_", "+"), where)
    except errors.GitwardError as exc:
        raise _wrap(exc, where) from None


async def _manifest(
    client: registries.RegistryClient, ref: Reference, reference: str, version: str, where: str
) -> Resolved:
    response = await client.get(
        f"/v2/{ref.repository}/manifests/{reference}",
        ref.repository,
        where,
        accept=", ".join(MANIFEST_TYPES),
        max_bytes=_MANIFEST_LIMIT,
    )
    if response.status_code == 404:
        raise errors.RevisionNotFound(f"{where}: no manifest {reference} in the registry")
    body = response.content
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if reference.startswith("sha256:") and digest != reference:
        raise errors.SourceRejected(
            f"{where}: the registry sent a manifest of digest {digest}, not the pinned {reference}"
        )
    try:
        manifest = json.loads(body)
        layers = manifest["layers"]
        config_type = manifest.get("config", {}).get("mediaType", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise errors.SourceRejected(f"{where}: the manifest is not an OCI image manifest") from None
    chart_layers = [
        layer
        for layer in layers
        if isinstance(layer, dict) and layer.get("mediaType") == CHART_LAYER
    ]
    if len(chart_layers) != 1:
        raise errors.SourceRejected(
            f"{where}: {reference} is not a Helm chart (config {config_type or 'none'}, "
            f"{len(chart_layers)} chart layers)"
        )
    layer = chart_layers[0]
    layer_digest, size = layer.get("digest"), layer.get("size")
    if (
        not isinstance(layer_digest, str)
        or not _PIN.match(layer_digest)
        or not isinstance(size, int)
    ):
        raise errors.SourceRejected(f"{where}: the chart layer has no valid digest and size")
    if not version:
        annotations = manifest.get("annotations") or {}
        version = str(annotations.get("org.opencontainers.image.version", "")) or reference
    return Resolved(
        version=version, manifest_digest=digest, layer_digest=layer_digest, layer_size=size
    )


async def download(
    client: registries.RegistryClient,
    ref: Reference,
    resolved: Resolved,
    *,
    max_bytes: int,
    where: str,
) -> bytes:
    """The chart archive of ``resolved``, its size and digest checked."""
    if resolved.layer_size > max_bytes:
        raise errors.SourceRejected(
            f"{where}: archive of {resolved.layer_size} bytes is over the {max_bytes}-byte limit"
        )
    try:
        response = await client.get(
            f"/v2/{ref.repository}/blobs/{resolved.layer_digest}",
            ref.repository,
            where,
            max_bytes=max_bytes,
        )
    except errors.GitwardError as exc:
        raise _wrap(exc, where) from None
    if response.status_code == 404:
        raise errors.RevisionNotFound(f"{where}: the registry lost blob {resolved.layer_digest}")
    data = response.content
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != resolved.layer_digest:
        raise errors.SourceRejected(
            f"{where}: archive digest {actual} differs from {resolved.layer_digest} in the manifest"
        )
    return data
