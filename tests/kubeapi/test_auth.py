"""Bearer tokens, namespace allow-lists and TLS."""

from __future__ import annotations

import ssl

import httpx
import pytest

from gitward.testing import kubeapi

from .objects import CM_PATH, configmap


async def test_token_required() -> None:
    async with kubeapi.KubeAPIServer(token="s3cret") as server:
        async with httpx.AsyncClient(base_url=server.url) as anonymous:
            response = await anonymous.get("/api/v1/namespaces")
            assert response.status_code == 401
            assert response.json()["reason"] == "Unauthorized"
            wrong = await anonymous.get(
                "/api/v1/namespaces", headers={"Authorization": "Bearer nope"}
            )
            assert wrong.status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as admin:
            assert (await admin.get("/api/v1/namespaces")).status_code == 200


async def test_namespace_allow_list() -> None:
    server = kubeapi.KubeAPIServer(
        tokens={"admin-token": "admin", "a-token": "user-a"},
        authorize={"user-a": {"namespaces": ["team-a"]}},
    )
    async with server:
        admin = httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": "Bearer admin-token"}
        )
        user = httpx.AsyncClient(base_url=server.url, headers={"Authorization": "Bearer a-token"})
        async with admin, user:
            for ns in ("team-a", "team-b"):
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                assert (await admin.post("/api/v1/namespaces", json=body)).status_code == 201
            allowed = await user.post(
                "/api/v1/namespaces/team-a/configmaps", json=configmap("mine")
            )
            assert allowed.status_code == 201
            assert (await user.get("/api/v1/namespaces/team-a")).status_code == 200
            denied = await user.get("/api/v1/namespaces/team-b/configmaps/x")
            assert denied.status_code == 403
            body = denied.json()
            assert body["reason"] == "Forbidden"
            assert body["message"] == (
                'configmaps "x" is forbidden: User "user-a" cannot get resource "configmaps" '
                'in API group "" in the namespace "team-b"'
            )
            cluster = await user.get("/apis/rbac.authorization.k8s.io/v1/clusterroles")
            assert cluster.status_code == 403
            assert "at the cluster scope" in cluster.json()["message"]
            everywhere = await user.get("/api/v1/configmaps")
            assert everywhere.status_code == 403
            assert (await user.get("/apis")).status_code == 200
            assert (await user.get("/openapi/v3")).status_code == 200


def test_bad_authorize_configuration() -> None:
    with pytest.raises(ValueError, match="user-a"):
        kubeapi.KubeAPIServer(authorize={"user-a": {"namespaces": "team-a"}})


async def test_tls_with_generated_ca(tmp_path: object) -> None:
    async with kubeapi.KubeAPIServer(tls=True, token="t") as server:
        assert server.url.startswith("https://127.0.0.1:")
        assert server.ca_pem is not None
        context = ssl.create_default_context(cadata=server.ca_pem.decode())
        async with httpx.AsyncClient(
            base_url=server.url, verify=context, headers={"Authorization": "Bearer t"}
        ) as client:
            response = await client.post(CM_PATH, json=configmap("over-tls"))
            assert response.status_code == 201
        async with httpx.AsyncClient(base_url=server.url) as untrusting:
            with pytest.raises(httpx.ConnectError):
                await untrusting.get("/version")
