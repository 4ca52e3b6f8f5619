"""Bearer-token authentication and a namespace allow-list authorizer.

Small but real: a request without a known token is 401 Unauthorized; an
identity limited to some namespaces gets 403 Forbidden (with kube-apiserver's
message) for anything outside them, cluster-scoped objects included, while
discovery, ``/version`` and OpenAPI stay readable by every authenticated
identity, as the ``system:discovery`` role allows. Called by :mod:`.serving`
once per request.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from gitward.testing.kubeapi import types, validating

ANONYMOUS = "system:anonymous"


class Policy:
    """Who a token is, and where that identity may act."""

    def __init__(
        self,
        tokens: Mapping[str, str] | None,
        authorize: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        self._tokens = dict(tokens or {})
        self._namespaces: dict[str, frozenset[str]] = {}
        for user, rules in (authorize or {}).items():
            allowed = rules.get("namespaces")
            if not isinstance(allowed, Sequence) or isinstance(allowed, str):
                raise ValueError(f"authorize[{user!r}].namespaces must be a list of namespaces")
            self._namespaces[user] = frozenset(str(ns) for ns in allowed)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def identify(self, authorization: str) -> str:
        """The identity of an ``Authorization`` header; 401 when tokens are set and it is wrong."""
        if not self._tokens:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            token = token.strip()
            for known, user in self._tokens.items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return user
        raise validating.unauthorized()

    def check(
        self,
        user: str,
        verb: str,
        rtype: types.ResourceType,
        namespace: str,
        name: str,
        path: str,
    ) -> None:
        """403 Forbidden when ``user`` is limited to namespaces and this is outside them."""
        allowed = self._namespaces.get(user)
        if allowed is None:
            return
        if rtype.namespaced and namespace in allowed:
            return
        # Reading one's own Namespace object is allowed: kubectl and clients check it exists.
        if (
            rtype.group == ""
            and rtype.kind == "Namespace"
            and name in allowed
            and verb in ("get", "watch")
        ):
            return
        raise validating.forbidden(user, verb, rtype, name, namespace, path)
