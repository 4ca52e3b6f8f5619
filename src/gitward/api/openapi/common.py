"""Pieces every part of the OpenAPI document is made of: references, error
answers, the read and action operation shapes, shared parameters."""

from __future__ import annotations

from typing import Any

_REF = "#/components/schemas/"
_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _items(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref(name)}},
    }


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
}


def _read(summary: str, response: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": list(params),
            "responses": {"200": response, **_ERRORS},
        }
    }


def _action(
    summary: str,
    response: dict[str, Any],
    body: dict[str, Any] | None = None,
    *,
    status: str = "200",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": "Needs the admin role on the Application's Project.",
        "security": [{"bearer": []}],
        "parameters": [_NAME],
        "responses": {
            status: response,
            **_ERRORS,
            # Replicas: the owner of the Application cannot take it now (retry).
            "503": {"$ref": "#/components/responses/Unavailable"},
            **(extra or {}),
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": body}},
        }
    return {"post": operation}
