"""Request validation and the ``Status`` error bodies of the Kubernetes API.

Used by the request handlers (:mod:`.serving`) and the store: object names,
apiVersion/kind agreement with the URL, and :class:`StatusError`, the one
exception every handler raises to answer an error. Messages, reasons and codes
follow kube-apiserver (``k8s.io/apimachinery/pkg/api/errors``) because clients
branch on them: kubectl prints the message, client-go and lightkube test the
reason and code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gitward import errors
from gitward.testing.kubeapi import catalog, types


class StatusError(errors.InputError):
    """A request the API refuses; carries the ``Status`` body to answer with."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.details = dict(details or {})

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": dict(details or {}),
        "code": code,
    }
    if not reason:
        del body["reason"]
    return body


def success_body(rtype: types.ResourceType, name: str, uid: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": rtype.plural, "uid": uid}
    if rtype.group:
        details["group"] = rtype.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def qualified_resource(rtype: types.ResourceType) -> str:
    """``deployments.apps`` / ``configmaps``: how error messages name a resource."""
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


def _details(rtype: types.ResourceType, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.plural
    return details


def not_found(rtype: types.ResourceType, name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'{qualified_resource(rtype)} "{name}" not found', _details(rtype, name)
    )


def namespace_not_found(namespace: str) -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'namespaces "{namespace}" not found',
        {"name": namespace, "kind": "namespaces"},
    )


def already_exists(rtype: types.ResourceType, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{qualified_resource(rtype)} "{name}" already exists',
        _details(rtype, name),
    )


def conflict(rtype: types.ResourceType, name: str, why: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified_resource(rtype)} "{name}": {why}',
        _details(rtype, name),
    )


def modified_conflict(rtype: types.ResourceType, name: str) -> StatusError:
    return conflict(
        rtype,
        name,
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def resource_missing() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(rtype: types.ResourceType | None, verb: str) -> StatusError:
    what = f" on {qualified_resource(rtype)}" if rtype else ""
    return StatusError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource{what} ({verb})",
    )


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


# kube-apiserver's storage.NewTooLargeResourceVersionError: a 504 Timeout
# Status whose cause names the too-large version; clients (client-go's
# reflector) then list again from scratch.
TOO_LARGE_RETRY_SECONDS = 1


def too_large_resource_version(requested: int, current: int) -> StatusError:
    return StatusError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": TOO_LARGE_RETRY_SECONDS,
        },
    )


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden(
    user: str, verb: str, rtype: types.ResourceType | None, name: str, namespace: str, path: str
) -> StatusError:
    if rtype is None:
        return StatusError(
            403, "Forbidden", f'forbidden: User "{user}" cannot {verb} path "{path}"', {}
        )
    subject = f'{qualified_resource(rtype)} "{name}"' if name else qualified_resource(rtype)
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return StatusError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{rtype.plural}" '
        f'in API group "{rtype.group}"{where}',
        _details(rtype, name) if name else {"group": rtype.group, "kind": rtype.plural},
    )


class Cause:
    """One ``details.causes`` entry of an Invalid (422) answer."""

    __slots__ = ("field", "message", "reason")

    def __init__(self, reason: str, field: str, message: str) -> None:
        self.reason = reason
        self.field = field
        self.message = message


def invalid(rtype: types.ResourceType, name: str, causes: Sequence[Cause]) -> StatusError:
    summary = ", ".join(f"{c.field}: {c.message}" for c in causes)
    message = f'{rtype.kind}{"." + rtype.group if rtype.group else ""} "{name}" is invalid: '
    message += f"[{summary}]" if len(causes) > 1 else summary
    details: dict[str, Any] = {"name": name}
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = rtype.kind
    details["causes"] = [
        {"reason": c.reason, "message": c.message, "field": c.field} for c in causes
    ]
    return StatusError(422, "Invalid", message, details)


# --- names ---------------------------------------------------------------------

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(f"^{_DNS1123_LABEL}$")
_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN}$")
_DNS1035_RE = re.compile(f"^{_DNS1035_LABEL}$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _name_problems(rtype: types.ResourceType, name: str) -> list[str]:
    key = (rtype.group, rtype.kind)
    if key in catalog.PATH_SEGMENT_NAMES:
        if name in (".", ".."):
            return [f'may not be "{name}"']
        return [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    if key in catalog.DNS1035_LABEL_NAMES:
        problems = []
        if len(name) > 63:
            problems.append("must be no more than 63 characters")
        if not _DNS1035_RE.match(name):
            problems.append(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character "
                "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                f"'{_DNS1035_LABEL}')"
            )
        return problems
    if key in catalog.DNS1123_LABEL_NAMES:
        problems = []
        if len(name) > 63:
            problems.append("must be no more than 63 characters")
        if not _LABEL_RE.match(name):
            problems.append(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
                f"or '123-abc', regex used for validation is '{_DNS1123_LABEL}')"
            )
        return problems
    problems = []
    if len(name) > 253:
        problems.append("must be no more than 253 characters")
    if not _SUBDOMAIN_RE.match(name):
        problems.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            f"'example.com', regex used for validation is '{_DNS1123_SUBDOMAIN}')"
        )
    return problems


def _qualified_key_problems(key: str) -> list[str]:
    prefix, slash, name = key.rpartition("/")
    problems = []
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN_RE.match(prefix)):
        problems.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name or len(name) > 63 or not _QUALIFIED_NAME_RE.match(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return problems


def check_metadata(rtype: types.ResourceType, obj: Mapping[str, Any]) -> None:
    """Raise 422 Invalid when metadata is not what kube-apiserver accepts."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        raise invalid(
            rtype,
            "",
            [
                Cause(
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )
            ],
        )
    name = meta.get("name")
    causes: list[Cause] = []
    if not isinstance(name, str) or not name:
        causes.append(
            Cause(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
        name = ""
    else:
        causes.extend(
            Cause("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}')
            for problem in _name_problems(rtype, name)
        )
    labels = meta.get("labels") or {}
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            causes.extend(
                Cause("FieldValueInvalid", "metadata.labels", f'Invalid value: "{key}": {p}')
                for p in _qualified_key_problems(str(key))
            )
            if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE_RE.match(value):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        "metadata.labels",
                        f'Invalid value: "{value}": a valid label must be an empty string or '
                        "consist of alphanumeric characters, '-', '_' or '.', and must start "
                        "and end with an alphanumeric character (e.g. 'MyValue',  or "
                        "'my_value',  or '12345', regex used for validation is "
                        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    )
                )
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, Mapping):
        for key, value in annotations.items():
            causes.extend(
                Cause("FieldValueInvalid", "metadata.annotations", f'Invalid value: "{key}": {p}')
                for p in _qualified_key_problems(str(key))
            )
            if not isinstance(value, str):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        "metadata.annotations",
                        f'Invalid value: "{key}": annotation values must be strings',
                    )
                )
    if causes:
        raise invalid(rtype, str(name), causes)


def check_type_meta(rtype: types.ResourceType, obj: dict[str, Any]) -> None:
    """Default and check apiVersion/kind of a request body against the URL.

    Built-in kinds may omit both (the URL defines them), as kube-apiserver's
    decoder allows; custom resources must state them.
    """
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if rtype.is_custom and (not api_version or not kind):
        missing = "Kind" if not kind else "apiVersion"
        raise bad_request(f"Object '{missing}' is missing in request body")
    if api_version in (None, ""):
        obj["apiVersion"] = rtype.group_version
    elif api_version != rtype.group_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rtype.group_version})"
        )
    if kind in (None, ""):
        obj["kind"] = rtype.kind
    elif kind != rtype.kind:
        raise bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
        )
