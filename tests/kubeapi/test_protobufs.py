"""Protobuf request bodies as kubectl's generators send them, and the OpenAPI v2 stub."""

from __future__ import annotations

import httpx
import pytest

from gitward.testing import kubeapi
from gitward.testing.kubeapi import protobufs, validating

# Captured from `kubectl create namespace x` (client-go 1.37).
KUBECTL_NAMESPACE = (
    b'k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x19\n\x11\n\x01x\x12\x00\x1a\x00"\x00*\x002\x00'
    b'8\x00B\x00\x12\x00\x1a\x02\n\x00\x1a\x00"\x00'
)


def test_decode_namespace_as_kubectl_sends_it() -> None:
    assert protobufs.decode(KUBECTL_NAMESPACE) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x"},
        "spec": {},
        "status": {},
    }


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not protobuf", 400),
        (b"k8s\x00\n\x0f", 400),
        # a Deployment envelope: a kind whose protobuf form is not decoded
        (b"k8s\x00\n\x17\n\x07apps/v1\x12\nDeployment\x12\x00", 415),
    ],
)
def test_undecodable_bodies(raw: bytes, code: int) -> None:
    with pytest.raises(validating.StatusError) as caught:
        protobufs.decode(raw)
    assert caught.value.code == code


async def test_protobuf_create_over_http(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/namespaces",
        content=KUBECTL_NAMESPACE,
        headers={"Content-Type": protobufs.MEDIA_TYPE},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == {"phase": "Active"}


async def test_openapi_v2_protobuf_is_a_valid_empty_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi/v2", headers={"Accept": protobufs.OPENAPI_V2_MEDIA_TYPE})
    assert response.status_code == 200
    # swagger = "2.0" (field 1), info = {title, version} (field 2)
    assert response.content.startswith(b"\n\x032.0\x12")


async def test_stop_with_open_watch() -> None:
    server = kubeapi.KubeAPIServer()
    await server.start()
    client = httpx.AsyncClient(base_url=server.url)
    request = client.build_request("GET", "/api/v1/namespaces", params={"watch": "1"})
    response = await client.send(request, stream=True)
    assert response.status_code == 200
    await server.stop()
    with pytest.raises(httpx.HTTPError):
        async for _ in response.aiter_lines():
            pass
    await response.aclose()
    await client.aclose()
