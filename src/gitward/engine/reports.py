"""JSON-ready and text views of plans, operations and manifests for the edges.

The CLI and the API print these; every view masks Secret data (through
``gitward.diff``'s masking), so no edge can leak a secret by printing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.diff import masking
from gitward.diff import reports as diff_reports
from gitward.model import operations, plans, resources


def masked_manifest(manifest: resources.Manifest) -> Mapping[str, Any]:
    """The manifest's body with Secret values masked."""
    return masking.mask_object(manifest.body)


def plan_text(plan: plans.Plan) -> str:
    return diff_reports.text(plan)


def plan_dict(plan: plans.Plan) -> dict[str, Any]:
    return diff_reports.to_dict(plan)


def revision_dict(revision: operations.Revision) -> dict[str, Any]:
    return {
        "sha": revision.sha,
        "ref": revision.ref,
        "author": revision.author,
        "message": revision.message,
        "committedAt": revision.committed_at.isoformat() if revision.committed_at else None,
    }


def operation_dict(operation: operations.Operation) -> dict[str, Any]:
    return {
        "app": operation.app,
        "revision": revision_dict(operation.revision),
        "trigger": operation.trigger,
        "phase": operation.phase.value,
        "reason": operation.reason,
        "message": operation.message,
        "dryRun": operation.dry_run,
        "startedAt": operation.started_at.isoformat(),
        "finishedAt": operation.finished_at.isoformat() if operation.finished_at else None,
        "results": [
            {
                "resource": str(result.key),
                "group": result.key.group,
                "kind": result.key.kind,
                "namespace": result.key.namespace,
                "name": result.key.name,
                "action": result.action.value,
                "result": result.code.value,
                "reason": result.reason,
                "message": result.message,
                "phase": result.phase.value,
                "wave": result.wave,
            }
            for result in operation.results
        ],
    }
