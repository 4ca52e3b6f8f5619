"""The one exception hierarchy of gitward, sorted by what the caller should do.

Every stage raises these (wrapping third-party errors at its boundary with
``raise X(...) from exc``); only the edges (CLI, API) turn them into exit codes
or HTTP statuses. Each message names the object involved (a repository URL, a
file path, a resource key) and never carries a secret value.

Two families matter to callers:

* :class:`RetryableError` — something outside gitward is unavailable or slow
  (a git server, the Kubernetes API). The same call may succeed later; the
  engine backs off and keeps the last good state.
* :class:`InputError` — what Git or the user declared is wrong (malformed YAML,
  a path escaping the repository, a conflict that needs ``force``). Retrying
  without a new commit will not help; the status names the reason.
"""

from __future__ import annotations


class GitwardError(Exception):
    """Base of every error gitward raises on purpose.

    ``reason`` is the status-condition reason this error maps to (one per stage
    failure, shared by CLI, API and UI).
    """

    reason: str = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class RetryableError(GitwardError):
    """A dependency is unavailable; retry later with backoff."""


class InputError(GitwardError):
    """The declared input is invalid; fix it in Git (or in the request)."""


# --- configuration -----------------------------------------------------------


class ConfigError(InputError):
    """An Application, Project, Target or agent setting is invalid."""

    reason = "InvalidSpec"


# --- source -------------------------------------------------------------------


class SourceUnavailable(RetryableError):
    """A git server could not be reached, refused us, or timed out."""

    reason = "SourceFailed"


class RepositoryNotFound(InputError):
    """A local (``file://``) repository does not exist: the URL is wrong, no
    server can come back. (A remote server that cannot be reached is
    :class:`SourceUnavailable`: it may.)"""

    reason = "SourceFailed"


class RevisionNotFound(InputError):
    """A ref, tag, semver range or commit does not exist in the repository."""

    reason = "SourceFailed"


class SourcePathError(InputError):
    """A path inside a repository is missing or escapes the repository."""

    reason = "SourceFailed"


class SourceRejected(InputError):
    """What a source served fails a check: a chart archive whose digest differs
    from the one its index or manifest names, one over a size limit, or one
    holding a path that leaves the chart. Nothing of it is rendered."""

    reason = "SourceFailed"


class SignatureError(InputError):
    """A commit's signature is missing, invalid or from a key not allowed."""

    reason = "SignatureFailed"


# --- render -------------------------------------------------------------------


class RenderError(InputError):
    """The files under an Application's path could not become manifests."""

    reason = "RenderFailed"


class UnsafeInputError(RenderError):
    """Input refused for safety: escaping paths or symlinks, oversized files,
    alias bombs, excessive nesting, remote bases that are not allowed."""


class RenderTimeout(RenderError):
    """A renderer (Kustomize, Helm) ran longer than its time limit."""


class RenderMemoryExceeded(RenderError):
    """A renderer's process (Kustomize, Helm) went over the render memory limit."""


class DecryptionError(RenderError):
    """An encrypted (SOPS) file could not be decrypted or failed its MAC check."""

    reason = "DecryptionFailed"


# --- plan / policy --------------------------------------------------------------


class PlanError(InputError):
    """The desired state cannot be planned (duplicates, invalid objects)."""

    reason = "PlanFailed"


class PolicyViolation(InputError):
    """A manifest is outside what the Application's Project allows."""

    reason = "PolicyViolation"


class EmptyRenderError(PlanError):
    """The render produced nothing while the target holds managed objects.

    Pruning everything because a render came back empty is how outages happen;
    an Application must opt in with ``syncPolicy.allowEmpty``.
    """

    reason = "EmptyRender"


# --- target -------------------------------------------------------------------


class TargetUnavailable(RetryableError):
    """The target's API could not be reached or answered 5xx / timed out."""

    reason = "TargetUnavailable"


class ApplyError(InputError):
    """The target refused an object (invalid, forbidden, unknown kind)."""

    reason = "ApplyFailed"


class ApplyConflict(ApplyError):
    """Server-side apply reported fields owned by another manager.

    ``managers`` names the field managers that own the contested fields, so
    the engine can decide whether to take them over (people's kubectl edits)
    or report the conflict (another controller's fields).
    """

    reason = "ApplyConflict"

    def __init__(self, message: str, managers: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.managers = managers


class PruneError(InputError):
    """A managed object that left Git could not be deleted."""

    reason = "PruneFailed"


# --- health -------------------------------------------------------------------


class HealthCheckError(GitwardError):
    """A health check raised while assessing an object (a bug or odd status)."""

    reason = "HealthCheckFailed"


class HealthTimeout(RetryableError):
    """Resources did not become healthy within the allowed time."""

    reason = "HealthTimeout"


# --- coordination (replicas) ------------------------------------------------------


class CoordinationUnavailable(RetryableError):
    """The coordination backend (Kubernetes Leases, PostgreSQL) could not be
    reached or timed out; the replica keeps its lease until its renew deadline."""

    reason = "CoordinationUnavailable"


class LeaseLost(RetryableError):
    """This replica no longer holds a valid lease: its renew deadline passed
    (paused, partitioned, slow) or another incarnation took the lease over.
    Every write stops; the replica joins again as a new member."""

    reason = "LeaseLost"


class FenceLost(RetryableError):
    """A write was refused before it was sent: the replica's lease is no longer
    valid, or the Application now belongs to another replica."""

    reason = "FenceLost"


# --- notifications ------------------------------------------------------------


class NotificationUnavailable(RetryableError):
    """A notification receiver could not be reached, timed out, answered 5xx or 429;
    the outbox retries with backoff."""

    reason = "NotificationRetrying"


class NotificationRejected(InputError):
    """A notification cannot be delivered as configured (a 4xx answer, a refused
    address, a missing secret, a failing template); not retried."""

    reason = "NotificationFailed"
