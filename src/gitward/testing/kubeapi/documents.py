"""The discovery and OpenAPI documents the Kubernetes API test server serves.

The root path list, ``/api`` and ``/apis`` (legacy or aggregated discovery by
the Accept header), each group version's resource list, and OpenAPI v2 and v3
(:mod:`.openapi`). Each document is built once and encoded once per
generation of the served types (:class:`.crds.Registry`), so clients that
rediscover on every start cost the server a dictionary lookup. Called by
:class:`.serving.Router`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson

from gitward.testing.kubeapi import crds, discovery, openapi, protobufs, validating
from gitward.testing.kubeapi.connections import JSON, Request, Response, json_response


class Documents:
    """Discovery and OpenAPI answers, cached per registry generation."""

    def __init__(self, registry: crds.Registry, server_address: str) -> None:
        self.registry = registry
        self.server_address = server_address
        self._cache: dict[tuple[str, ...], tuple[int, bytes]] = {}

    def _cached(self, key: tuple[str, ...], build: Callable[[], Any]) -> bytes:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.registry.generation:
            return hit[1]
        body = orjson.dumps(build())
        self._cache[key] = (self.registry.generation, body)
        return body

    def paths(self) -> list[str]:
        paths = [
            "/api",
            "/api/v1",
            "/apis",
            "/healthz",
            "/livez",
            "/readyz",
            "/version",
            "/openapi/v2",
            "/openapi/v3",
        ]
        for group, version in discovery.group_versions(self.registry):
            if group:
                paths += [f"/apis/{group}", f"/apis/{group}/{version}"]
        return sorted(set(paths))

    def root(self, request: Request, *, core: bool) -> Response:
        accept = request.headers.get("accept", "")
        for media, api_version in (
            (discovery.AGGREGATED_V2, "apidiscovery.k8s.io/v2"),
            (discovery.AGGREGATED_V2BETA1, "apidiscovery.k8s.io/v2beta1"),
        ):
            if _accepts(accept, media):
                body = self._cached(
                    ("aggregated", str(core), api_version),
                    functools.partial(
                        discovery.aggregated, self.registry, core=core, api_version=api_version
                    ),
                )
                return Response(200, body, media, {"Vary": "Accept"})
        if core:
            return json_response(200, discovery.api_versions(self.server_address))
        return Response(
            200,
            self._cached(("groups",), lambda: discovery.api_group_list(self.registry)),
            JSON,
            {"Vary": "Accept"},
        )

    def openapi(self, request: Request, rest: list[str]) -> Response:
        served = list(self.registry.all())
        if rest == ["v2"]:
            accept = request.headers.get("accept", "")
            if protobufs.OPENAPI_V2_MEDIA_TYPE in accept:
                return Response(
                    200, protobufs.openapi_v2_document(), protobufs.OPENAPI_V2_RESPONSE_TYPE
                )
            return Response(
                200, self._cached(("openapi", "v2"), lambda: openapi.openapi_v2(served))
            )
        if rest == ["v3"]:
            return Response(
                200, self._cached(("openapi", "v3"), lambda: openapi.openapi_v3_index(served))
            )
        if len(rest) >= 2 and rest[0] == "v3":
            path = "/".join(rest[1:])
            if path == "api/v1":
                group_version = "v1"
            elif rest[1] == "apis" and len(rest) == 4:
                group_version = f"{rest[2]}/{rest[3]}"
            else:
                raise validating.resource_missing()
            of_gv = [t for t in served if t.group_version == group_version]
            if not of_gv:
                raise validating.resource_missing()
            body = self._cached(
                ("openapi", "v3", group_version),
                lambda: openapi.openapi_v3_group_version(group_version, of_gv),
            )
            return Response(
                200,
                body,
                JSON,
                {"Cache-Control": "public, immutable"} if request.param("hash") else {},
            )
        raise validating.resource_missing()

    def resources(self, group: str, version: str) -> Response:
        """The APIResourceList of one group version; 404 when it is not served."""
        body = self._cached(
            ("resources", group, version),
            lambda: discovery.api_resource_list(self.registry, group, version),
        )
        if body == b"null":
            raise validating.resource_missing()
        return Response(200, body)


def _accepts(accept: str, media: str) -> bool:
    wanted = {p.strip() for p in media.split(";")}
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")} - {""}
        params = {p for p in params if not p.startswith("q=")}
        if params == wanted:
            return True
    return False
