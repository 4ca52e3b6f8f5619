"""Health of Ingresses, as Argo CD assesses them.

Registered by ``assessing`` for ``networking.k8s.io/Ingress`` (and the old
``extensions`` group): Healthy once the controller published a load balancer
address in ``status.loadBalancer.ingress``, Progressing until then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import services
from gitward.model import status


def ingress(obj: Mapping[str, Any]) -> status.HealthResult:
    addresses = services.load_balancer_addresses(obj)
    if addresses:
        return status.HealthResult(status.HealthStatus.HEALTHY, f"served at {', '.join(addresses)}")
    return status.HealthResult(
        status.HealthStatus.PROGRESSING, "Waiting for the ingress controller to publish an address"
    )
