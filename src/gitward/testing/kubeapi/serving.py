"""Routing of the Kubernetes API test server: URLs to documents and resource verbs.

:class:`Router` is the handler of every request a connection
(:mod:`.connections`) parses: it identifies and authorizes the user
(:mod:`.auth`), maps the URL to discovery and OpenAPI (:mod:`.documents`), a
resource verb (:mod:`.handling`, :mod:`.listing`, :mod:`.deleting`), a watch
(:mod:`.watching`) or a subresource (:mod:`.subresources`), records writes
(:mod:`.auditing`), and encodes answers as JSON, Tables or Status errors.
Started by :class:`gitward.testing.kubeapi.KubeAPIServer`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import orjson

from gitward.testing.kubeapi import (
    auditing,
    auth,
    crds,
    decoding,
    deleting,
    discovery,
    documents,
    handling,
    listing,
    pruning,
    selecting,
    subresources,
    tables,
    types,
    validating,
    watching,
)
from gitward.testing.kubeapi.connections import (
    JSON,
    TABLE,
    Connection,
    Request,
    Response,
    json_response,
)


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
        write_latency: float = 0.0,
    ) -> None:
        self.server_address = server_address
        self.bookmark_interval = bookmark_interval
        self.policy = policy
        self.writes = writes or auditing.WriteLog()
        self.requests = requests or auditing.RequestCounts()
        self.write_latency = write_latency


_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Router:
    """Maps a request to discovery, OpenAPI or a resource verb and encodes the answer."""

    def __init__(self, api: handling.Api, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.documents = documents.Documents(api.registry, settings.server_address)

    @property
    def registry(self) -> crds.Registry:
        return self.api.registry

    async def __call__(self, request: Request, conn: Connection) -> Response | None:
        request.user = self.settings.policy.identify(request.headers.get("authorization", ""))
        segments = [unquote(s) for s in request.path.split("/") if s]
        if not segments:
            return json_response(200, {"paths": sorted(self.documents.paths())})
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
            return self.documents.openapi(request, segments[1:])
        if head == "api":
            if len(segments) == 1:
                return self.documents.root(request, core=True)
            if segments[1] != "v1":
                raise validating.resource_missing()
            return await self._group_version(request, conn, "", "v1", segments[2:])
        if head == "apis":
            if len(segments) == 1:
                return self.documents.root(request, core=False)
            group = segments[1]
            if len(segments) == 2:
                doc = discovery.api_group(self.registry, group)
                if doc is None:
                    raise validating.resource_missing()
                return json_response(200, doc)
            return await self._group_version(request, conn, group, segments[2], segments[3:])
        raise validating.resource_missing()

    async def _group_version(
        self, request: Request, conn: Connection, group: str, version: str, rest: list[str]
    ) -> Response | None:
        if not rest:
            return self.documents.resources(group, version)
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
        if request.method not in _WRITE_VERBS:
            return await self._serve_resource(
                request, conn, rtype, namespace, name, subresource, watch_path, warnings
            )
        started = time.time()
        if self.settings.write_latency > 0:
            await asyncio.sleep(self.settings.write_latency)
        if _dry_run(request):
            return await self._serve_resource(
                request, conn, rtype, namespace, name, subresource, watch_path, warnings
            )
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
                    return json_response(200, subresources.scale_of(rtype, obj))
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
                return json_response(
                    200, subresources.put_scale(self.api, rtype, namespace, name, body, opts)
                )
            if subresource == "finalize":
                body = decoding.decode_body(request.body, request.content_type)
                return self._object_response(
                    request,
                    rtype,
                    200,
                    subresources.finalize(self.api, namespace or name, body, opts),
                )
            body = decoding.decode_body(request.body, request.content_type)
            updated = self.api.update(rtype, namespace, name, body, opts, subresource)
            return self._object_response(request, rtype, 200, updated)
        if method == "PATCH" and name:
            opts = self._write_options(request, warnings)
            if subresource == "scale":
                return json_response(
                    200, subresources.patch_scale(self.api, rtype, namespace, name, request, opts)
                )
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
