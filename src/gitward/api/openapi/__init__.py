"""The OpenAPI 3.1 document of the REST API, served at ``GET /api/v1/openapi.json``.

Hand-maintained beside the routes (the tests check that every route of
``gitward.api.app.create`` is described here with its methods, and nothing
more), by area: ``common`` (shapes every operation shares), ``schemas``
(the JSON views of ``gitward.api.views``), ``paths`` (the routes).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import gitward
from gitward.api.openapi import paths, schemas
from gitward.api.openapi.common import _json, _ref


def document(extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI document; ``extra_paths`` describes routes added by a hook."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gitward API",
            "version": gitward.__version__,
            "description": (
                "Applications, operations, events and actions of a gitward agent. "
                "Send 'Authorization: Bearer <token>' (see `gitward token create`). "
                "Secret data is masked in every answer."
            ),
        },
        "paths": {**paths.paths(), **(extra_paths or {})},
        "components": {
            "schemas": schemas.SCHEMAS,
            "responses": {
                name: _json(_ref("Error"), description)
                for name, description in (
                    ("BadRequest", "Malformed parameter or body."),
                    ("Unauthorized", "No valid token."),
                    ("Forbidden", "The token's role or Projects do not allow this."),
                    ("NotFound", "No such Application or operation."),
                    (
                        "Unavailable",
                        "Try again: a target or store did not answer, or (replicas) the "
                        "replica owning the Application cannot be reached or it is changing owner.",
                    ),
                )
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def routes(extra_paths: dict[str, Any] | None = None) -> list[BaseRoute]:
    doc = document(extra_paths)

    async def serve(request: Request) -> Response:
        return JSONResponse(doc)

    return [Route("/api/v1/openapi.json", serve, methods=["GET"])]
