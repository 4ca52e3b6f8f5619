"""The HTTP side of the Kubernetes API test server: connections, routing, encoding.

A small HTTP/1.1 server on asyncio with the ``httptools`` parser (the one
uvicorn uses), rather than an ASGI framework: a watch is then just a
registered callback that writes chunks to its transport, so 2,000 open
watches cost a few kilobytes each and no task wakes up until an event
arrives; and the server starts and stops inside a test's event loop without
touching signal handlers or logging. Requests on one connection are answered
in order; each connection runs one request at a time.

:class:`Router` maps URLs to discovery (:mod:`.discovery`), OpenAPI
(:mod:`.schemas`) and the resource verbs (:mod:`.handling`), and encodes
answers as JSON, Tables or Status errors. Started by
:class:`gitward.testing.kubeapi.KubeAPIServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast
from urllib.parse import parse_qs, unquote

import httptools
import orjson

from gitward.testing.kubeapi import (
    auditing,
    auth,
    crds,
    decoding,
    deleting,
    discovery,
    handling,
    listing,
    patching,
    protobufs,
    pruning,
    schemas,
    selecting,
    storing,
    tables,
    types,
    validating,
    watching,
)

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024 + 512 * 1024  # kube-apiserver's request size limit
JSON = "application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


class Request:
    __slots__ = ("body", "headers", "method", "path", "query", "user")

    def __init__(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.user = auth.ANONYMOUS

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return self.param(name).lower() in ("true", "1")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})


def json_response(status: int, obj: Any, content_type: str = JSON) -> Response:
    return Response(status, orjson.dumps(obj), content_type)


def status_response(error: validating.StatusError) -> Response:
    return json_response(error.code, error.body())


Handler = Callable[[Request, "Connection"], Awaitable[Response | None]]


class Connection(asyncio.Protocol):
    """One client connection: parses requests, answers them in order, streams watches."""

    def __init__(self, handler: Handler, connections: set[Connection]) -> None:
        self._handler = handler
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._pending: deque[tuple[Request, bool]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._streaming = False

    @property
    def closed(self) -> asyncio.Future[None]:
        return self._closed

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's SSL transport is not an asyncio.Transport subclass, but has its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        if not self._closed.done():
            self._closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._fail(400, "malformed HTTP request")

    def _fail(self, status: int, message: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._write_response(
                Response(
                    status, orjson.dumps(validating.status_body(status, "BadRequest", message))
                ),
                keep_alive=False,
            )

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]},{text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        # curl and other clients wait for this before sending a large body.
        if (
            self._headers.get("expect", "").lower() == "100-continue"
            and self._transport is not None
        ):
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size <= MAX_BODY_BYTES:
            self._body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self._url)
        path = url.path.decode("latin-1")
        query = parse_qs(url.query.decode("latin-1"), keep_blank_values=True) if url.query else {}
        method = self._parser.get_method().decode("ascii")
        request = Request(method, path, query, self._headers, b"".join(self._body))
        if self._body_size > MAX_BODY_BYTES:
            request.method = "TOO_LARGE"
        self._pending.append((request, self._parser.should_keep_alive()))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._serve())
        if len(self._pending) > 32 and self._transport is not None:
            self._transport.pause_reading()

    async def _serve(self) -> None:
        try:
            while self._pending and not self._closed.done():
                request, keep_alive = self._pending.popleft()
                if self._transport is not None and len(self._pending) < 8:
                    with contextlib.suppress(RuntimeError):
                        self._transport.resume_reading()
                if request.method == "TOO_LARGE":
                    error = validating.StatusError(
                        413, "RequestEntityTooLarge", "the request body is too large"
                    )
                    self._write_response(status_response(error), keep_alive=False)
                    return
                try:
                    response = await self._handler(request, self)
                except validating.StatusError as error:
                    response = status_response(error)
                except Exception as exc:  # the server must answer, not drop the connection
                    _log.exception("internal error serving %s %s", request.method, request.path)
                    response = json_response(
                        500,
                        validating.status_body(
                            500,
                            "InternalError",
                            f"Internal error occurred: {type(exc).__name__}: {exc}",
                        ),
                    )
                if response is None:  # a stream that has ended
                    if not keep_alive and self._transport is not None:
                        self._transport.close()
                    continue
                self._write_response(response, keep_alive=keep_alive)
        finally:
            self._task = None

    def _write_response(self, response: Response, *, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        head = [
            f"HTTP/1.1 {response.status} {_phrase(response.status)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Cache-Control: no-cache, private",
        ]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        if not keep_alive:
            head.append("Connection: close")
        transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
        if not keep_alive:
            transport.close()

    # streaming (watch)
    def start_stream(self, content_type: str) -> None:
        self._streaming = True
        if self._transport is None or self._transport.is_closing():
            return
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Content-Type: {content_type}\r\n"
            "Cache-Control: no-cache, private\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        self._transport.write(head.encode("latin-1"))

    def write_chunk(self, data: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > watching.MAX_BUFFERED_BYTES:
            transport.abort()
            return False
        transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        return True

    def end_stream(self) -> None:
        self._streaming = False
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"0\r\n\r\n")

    def close(self) -> asyncio.Task[None] | None:
        """Close the connection; returns the task still answering on it, if any."""
        if self._transport is not None:
            self._transport.close()
        return self._task


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Settings:
    """Behaviour knobs of one server instance (see KubeAPIServer)."""

    def __init__(
        self,
        *,
        server_address: str,
        bookmark_interval: float,
        policy: auth.Policy,
        writes: auditing.WriteLog | None = None,
        requests: auditing.RequestCounts | None = None,
    ) -> None:
        self.server_address = server_address
        self.bookmark_interval = bookmark_interval
        self.policy = policy
        self.writes = writes or auditing.WriteLog()
        self.requests = requests or auditing.RequestCounts()


_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Router:
    """Maps a request to discovery, OpenAPI or a resource verb and encodes the answer."""

    def __init__(self, api: handling.Api, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self._cache: dict[tuple[str, ...], tuple[int, bytes]] = {}

    @property
    def registry(self) -> crds.Registry:
        return self.api.registry

    def _cached(self, key: tuple[str, ...], build: Callable[[], Any]) -> bytes:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.registry.generation:
            return hit[1]
        body = orjson.dumps(build())
        self._cache[key] = (self.registry.generation, body)
        return body

    async def __call__(self, request: Request, conn: Connection) -> Response | None:
        request.user = self.settings.policy.identify(request.headers.get("authorization", ""))
        segments = [unquote(s) for s in request.path.split("/") if s]
        if not segments:
            return json_response(200, {"paths": sorted(self._paths())})
        head = segments[0]
        if head == "openapi" or (
            head in ("api", "apis") and len(segments) <= (2 if head == "api" else 3)
        ):
            self.settings.requests.add("discovery")
        if head in ("healthz", "livez", "readyz") and len(segments) == 1:
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if request.method != "GET" and head in ("version", "openapi"):
            raise validating.method_not_allowed(None, request.method)
        if head == "version" and len(segments) == 1:
            return json_response(200, discovery.VERSION_INFO)
        if head == "openapi":
            return self._openapi(request, segments[1:])
        if head == "api":
            if len(segments) == 1:
                return self._discovery_root(request, core=True)
            if segments[1] != "v1":
                raise validating.resource_missing()
            return await self._group_version(request, conn, "", "v1", segments[2:])
        if head == "apis":
            if len(segments) == 1:
                return self._discovery_root(request, core=False)
            group = segments[1]
            if len(segments) == 2:
                doc = discovery.api_group(self.registry, group)
                if doc is None:
                    raise validating.resource_missing()
                return json_response(200, doc)
            return await self._group_version(request, conn, group, segments[2], segments[3:])
        raise validating.resource_missing()

    def _paths(self) -> list[str]:
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

    def _discovery_root(self, request: Request, *, core: bool) -> Response:
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
            return json_response(200, discovery.api_versions(self.settings.server_address))
        return Response(
            200,
            self._cached(("groups",), lambda: discovery.api_group_list(self.registry)),
            JSON,
            {"Vary": "Accept"},
        )

    def _openapi(self, request: Request, rest: list[str]) -> Response:
        served = list(self.registry.all())
        if rest == ["v2"]:
            accept = request.headers.get("accept", "")
            if protobufs.OPENAPI_V2_MEDIA_TYPE in accept:
                return Response(
                    200, protobufs.openapi_v2_document(), protobufs.OPENAPI_V2_RESPONSE_TYPE
                )
            return Response(
                200, self._cached(("openapi", "v2"), lambda: schemas.openapi_v2(served))
            )
        if rest == ["v3"]:
            return Response(
                200, self._cached(("openapi", "v3"), lambda: schemas.openapi_v3_index(served))
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
                lambda: schemas.openapi_v3_group_version(group_version, of_gv),
            )
            return Response(
                200,
                body,
                JSON,
                {"Cache-Control": "public, immutable"} if request.param("hash") else {},
            )
        raise validating.resource_missing()

    async def _group_version(
        self, request: Request, conn: Connection, group: str, version: str, rest: list[str]
    ) -> Response | None:
        if not rest:
            body = self._cached(
                ("resources", group, version),
                lambda: discovery.api_resource_list(self.registry, group, version),
            )
            if body == b"null":
                raise validating.resource_missing()
            return Response(200, body)
        watch_path = False
        if rest[0] == "watch":
            watch_path = True
            rest = rest[1:]
        namespace = ""
        if (
            len(rest) >= 3
            and rest[0] == "namespaces"
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace = rest[1]
            rest = rest[2:]
        if not rest or len(rest) > 3:
            raise validating.resource_missing()
        rtype = self.registry.lookup(group, version, rest[0])
        if rtype is None:
            raise validating.resource_missing()
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if namespace and not rtype.namespaced:
            raise validating.resource_missing()
        if rtype.namespaced and name and not namespace:
            raise validating.resource_missing()
        allowed_subs = rtype.subresources + (
            ("finalize",) if rtype.kind == "Namespace" and not rtype.group else ()
        )
        if subresource and subresource not in allowed_subs:
            raise validating.resource_missing()
        warnings: list[str] = []
        response = await self._resource(
            request, conn, rtype, namespace, name, subresource, watch_path, warnings
        )
        if response is not None and warnings:
            escaped = (w.replace("\\", "\\\\").replace('"', '\\"') for w in warnings)
            response.headers["Warning"] = ", ".join(f'299 - "{w}"' for w in escaped)
        return response

    async def _resource(
        self,
        request: Request,
        conn: Connection,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        subresource: str,
        watch_path: bool,
        warnings: list[str],
    ) -> Response | None:
        if request.method not in _WRITE_VERBS or _dry_run(request):
            return await self._serve_resource(
                request, conn, rtype, namespace, name, subresource, watch_path, warnings
            )
        started = time.time()
        labels = self._labels(rtype, namespace, name) if request.method == "DELETE" else {}
        response = await self._serve_resource(
            request, conn, rtype, namespace, name, subresource, watch_path, warnings
        )
        if response is not None and response.status < 300:
            if not name and request.method == "POST" and response.content_type == JSON:
                meta = (orjson.loads(response.body) or {}).get("metadata") or {}
                name = str(meta.get("name") or "")
            if request.method != "DELETE":
                labels = self._labels(rtype, namespace, name)
            self.settings.writes.add(
                auditing.Write(
                    started=started,
                    finished=time.time(),
                    user_agent=request.headers.get("user-agent", ""),
                    verb=_WRITE_VERBS[request.method],
                    group=rtype.group,
                    kind=rtype.kind,
                    namespace=namespace,
                    name=name,
                    labels=labels,
                )
            )
        return response

    def _labels(self, rtype: types.ResourceType, namespace: str, name: str) -> dict[str, str]:
        if not name:
            return {}
        try:
            obj = self.api.get(rtype, namespace, name)
        except validating.StatusError:
            return {}
        return dict((obj.get("metadata") or {}).get("labels") or {})

    async def _serve_resource(
        self,
        request: Request,
        conn: Connection,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        subresource: str,
        watch_path: bool,
        warnings: list[str],
    ) -> Response | None:
        method = request.method
        watch = watch_path or (method == "GET" and request.flag("watch"))
        if method == "GET":
            verb = "watch" if watch else ("get" if name else "list")
        elif method == "DELETE" and not name:
            verb = "deletecollection"
        else:
            verb = _WRITE_VERBS.get(method, method.lower())
        self.settings.requests.add(f"{verb} (dry run)" if _dry_run(request) else verb)
        self.settings.policy.check(request.user, verb, rtype, namespace, name, request.path)
        if method == "GET":
            if watch:
                await self._watch(request, conn, rtype, namespace, name)
                return None
            if name:
                obj = self.api.get(rtype, namespace, name)
                if subresource == "scale":
                    return json_response(200, _scale_of(rtype, obj))
                return self._object_response(request, rtype, 200, obj)
            return self._list(request, rtype, namespace)
        if method == "POST":
            if name:
                raise validating.method_not_allowed(rtype, "create")
            body = decoding.decode_body(request.body, request.content_type)
            new = self.api.create(rtype, namespace, body, self._write_options(request, warnings))
            return self._object_response(request, rtype, 201, new)
        if method == "PUT" and name:
            opts = self._write_options(request, warnings)
            if subresource == "scale":
                body = decoding.decode_body(request.body, request.content_type)
                return json_response(200, self._put_scale(rtype, namespace, name, body, opts))
            if subresource == "finalize":
                body = decoding.decode_body(request.body, request.content_type)
                return self._object_response(
                    request, rtype, 200, self._finalize(namespace or name, body, opts)
                )
            body = decoding.decode_body(request.body, request.content_type)
            updated = self.api.update(rtype, namespace, name, body, opts, subresource)
            return self._object_response(request, rtype, 200, updated)
        if method == "PATCH" and name:
            opts = self._write_options(request, warnings)
            if subresource == "scale":
                return json_response(200, self._patch_scale(rtype, namespace, name, request, opts))
            patched, created = self.api.patch(
                rtype, namespace, name, request.content_type, request.body, opts, subresource
            )
            return self._object_response(request, rtype, 201 if created else 200, patched)
        if method == "DELETE":
            options = _delete_options(request)
            dry_run = _dry_run(request) or options.get("dryRun") == ["All"]
            if not name:
                items = deleting.delete_collection(
                    self.api,
                    rtype,
                    namespace,
                    options,
                    label_selector=request.param("labelSelector"),
                    field_selector=request.param("fieldSelector"),
                    dry_run=dry_run,
                )
                return json_response(
                    200,
                    {
                        "kind": rtype.list_kind,
                        "apiVersion": rtype.group_version,
                        "metadata": {"resourceVersion": str(self.api.store.rv)},
                        "items": items,
                    },
                )
            obj, deleted = deleting.delete(
                self.api, rtype, namespace, name, options, dry_run=dry_run
            )
            if not deleted:
                return self._object_response(
                    request, rtype, 202 if obj["metadata"].get("finalizers") else 200, obj
                )
            if rtype.is_custom or rtype.kind in (
                "CustomResourceDefinition",
                "Namespace",
                "Pod",
                "Service",
            ):
                return self._object_response(request, rtype, 200, obj)
            return json_response(200, validating.success_body(rtype, name, obj["metadata"]["uid"]))
        raise validating.method_not_allowed(rtype, method)

    def _write_options(self, request: Request, warnings: list[str]) -> handling.WriteOptions:
        manager = request.param("fieldManager")
        if not manager and request.content_type not in (
            handling.APPLY_PATCH,
            handling.APPLY_PATCH_CBOR,
        ):
            agent = request.headers.get("user-agent", "")
            manager = agent.split("/")[0][:128] or "unknown"
        if len(manager) > 128:
            raise validating.bad_request(
                "fieldManager: Too long: may not be longer than 128 characters"
            )
        force = request.param("force")
        if force and request.content_type not in (handling.APPLY_PATCH, handling.APPLY_PATCH_CBOR):
            raise validating.bad_request("force=true is only supported for server-side apply")
        opts = handling.WriteOptions(
            manager,
            dry_run=_dry_run(request),
            force=force.lower() == "true",
            field_validation=pruning.valid_mode(request.param("fieldValidation")),
        )
        opts.warnings = warnings
        return opts

    def _object_response(
        self, request: Request, rtype: types.ResourceType, status: int, obj: Mapping[str, Any]
    ) -> Response:
        accept = request.headers.get("accept", "")
        if request.method == "GET" and "as=Table" in accept:
            table = tables.table(
                rtype,
                [obj],
                printer_columns=self.registry.printer_columns(rtype),
                resource_version=obj["metadata"].get("resourceVersion", ""),
                include_object=request.param("includeObject", "Metadata"),
            )
            return json_response(status, table, TABLE)
        if obj.get("apiVersion") != rtype.group_version:
            obj = {**obj, "apiVersion": rtype.group_version}
        return json_response(status, obj)

    def _list(self, request: Request, rtype: types.ResourceType, namespace: str) -> Response:
        limit_text = request.param("limit", "0") or "0"
        try:
            limit = int(limit_text)
        except ValueError as exc:
            raise validating.bad_request(f"invalid limit: {limit_text!r}") from exc
        items, rv, token, remaining = listing.list_objects(
            self.api.store,
            rtype,
            namespace,
            label_selector=request.param("labelSelector"),
            field_selector=request.param("fieldSelector"),
            limit=max(0, limit),
            continue_token=request.param("continue"),
        )
        if "as=Table" in request.headers.get("accept", ""):
            table = tables.table(
                rtype,
                items,
                printer_columns=self.registry.printer_columns(rtype),
                resource_version=rv,
                continue_token=token,
                include_object=request.param("includeObject", "Metadata"),
            )
            return json_response(200, table, TABLE)
        meta: dict[str, Any] = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        if rtype.is_custom or any(i.get("apiVersion") != rtype.group_version for i in items[:1]):
            items = [{**i, "apiVersion": rtype.group_version} for i in items]
        prefix = orjson.dumps(
            {
                "apiVersion": rtype.group_version,
                "items": None,
                "kind": rtype.list_kind,
                "metadata": meta,
            }
        )
        # Encode the items once, straight into the envelope: lists of 10,000 objects stay cheap.
        body = prefix.replace(b'"items":null', b'"items":' + orjson.dumps(items), 1)
        return Response(200, body)

    async def _watch(
        self,
        request: Request,
        conn: Connection,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
    ) -> None:
        fields = request.param("fieldSelector")
        if name:
            fields = f"metadata.name={name}" + (f",{fields}" if fields else "")
        labels, label_terms = selecting.parse_label_selector(request.param("labelSelector"))
        field_pred = selecting.field_selector(fields, rtype)
        timeout_text = request.param("timeoutSeconds")
        try:
            timeout = float(timeout_text) if timeout_text else None
        except ValueError as exc:
            raise validating.bad_request(f"invalid timeoutSeconds: {timeout_text!r}") from exc
        as_table = "as=Table" in request.headers.get("accept", "")
        printer_columns = self.registry.printer_columns(rtype)
        include = request.param("includeObject", "Metadata")

        def build(objs: list[Mapping[str, Any]], headers: bool) -> dict[str, Any]:
            return tables.table(
                rtype,
                objs,
                printer_columns=printer_columns,
                include_object=include,
                with_headers=headers,
            )

        bucket = self.api.store.bucket(rtype.group, rtype.plural)
        stream = watching.WatchStream(
            conn,
            bucket,
            rtype,
            namespace=namespace,
            labels=labels,
            fields=field_pred,
            table=build if as_table else None,
            label_terms=label_terms,
        )
        send_initial = request.param("sendInitialEvents")
        conn.start_stream(TABLE if as_table else JSON)
        await watching.run(
            stream,
            self.api.store,
            resource_version=request.param("resourceVersion"),
            send_initial_events=send_initial.lower() == "true" if send_initial else None,
            bookmarks=request.flag("allowWatchBookmarks"),
            bookmark_interval=self.settings.bookmark_interval,
            timeout_seconds=timeout,
        )
        conn.end_stream()

    # --- subresources with their own shape ---------------------------------------

    def _put_scale(
        self,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        body: Mapping[str, Any],
        opts: handling.WriteOptions,
    ) -> dict[str, Any]:
        replicas = (body.get("spec") or {}).get("replicas")
        return self._set_replicas(
            rtype,
            namespace,
            name,
            replicas,
            opts,
            (body.get("metadata") or {}).get("resourceVersion"),
        )

    def _patch_scale(
        self,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        request: Request,
        opts: handling.WriteOptions,
    ) -> dict[str, Any]:
        current = _scale_of(rtype, self.api.get(rtype, namespace, name))
        try:
            patch = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise validating.bad_request(f"error decoding patch: {exc}") from exc
        if request.content_type == handling.JSON_PATCH and isinstance(patch, list):
            patched = patching.json_patch(storing.copy(current), patch)
        elif isinstance(patch, dict):
            patched = patching.merge_patch(storing.copy(current), patch)
        else:
            raise validating.bad_request("patch body must be a JSON object")
        return self._set_replicas(
            rtype, namespace, name, (patched.get("spec") or {}).get("replicas"), opts, None
        )

    def _set_replicas(
        self,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        replicas: Any,
        opts: handling.WriteOptions,
        rv: str | None,
    ) -> dict[str, Any]:
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise validating.invalid(
                rtype,
                name,
                [
                    validating.Cause(
                        "FieldValueInvalid",
                        "spec.replicas",
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                    )
                ],
            )
        obj = storing.copy(self.api.get(rtype, namespace, name))
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise validating.modified_conflict(rtype, name)
        obj.setdefault("spec", {})["replicas"] = replicas
        obj["metadata"].pop("resourceVersion", None)
        updated = self.api.update(rtype, namespace, name, obj, opts, "")
        return _scale_of(rtype, updated)

    def _finalize(
        self, name: str, body: Mapping[str, Any], opts: handling.WriteOptions
    ) -> dict[str, Any]:
        ns_type = self.registry.lookup("", "v1", "namespaces")
        assert ns_type is not None
        obj = storing.copy(self.api.get(ns_type, "", name))
        obj.setdefault("spec", {})["finalizers"] = list(
            (body.get("spec") or {}).get("finalizers") or []
        )
        return deleting.finalize_namespace(self.api, obj, opts)


def _scale_of(rtype: types.ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())),
        },
    }


def _accepts(accept: str, media: str) -> bool:
    wanted = {p.strip() for p in media.split(";")}
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")} - {""}
        params = {p for p in params if not p.startswith("q=")}
        if params == wanted:
            return True
    return False


def _dry_run(request: Request) -> bool:
    values = request.query.get("dryRun") or []
    for value in values:
        if value != "All":
            raise validating.bad_request(
                f'Invalid dryRun parameter: "{value}": supported values: "All"'
            )
    return bool(values)


def _delete_options(request: Request) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.body.strip():
        try:
            decoded = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise validating.bad_request(f"couldn't decode DeleteOptions: {exc}") from exc
        if not isinstance(decoded, dict):
            raise validating.bad_request("DeleteOptions must be a JSON object")
        options.update(decoded)
    if request.param("propagationPolicy"):
        options["propagationPolicy"] = request.param("propagationPolicy")
    if request.param("orphanDependents"):
        options["orphanDependents"] = request.flag("orphanDependents")
    return options


async def start(
    router: Router,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    connections: set[Connection],
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: Connection(router, connections),
        host=host,
        port=port,
        ssl=ssl_context,
        reuse_address=True,
        backlog=4096,
    )
