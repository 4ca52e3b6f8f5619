"""What a webhook delivery means once parsed and verified: the provider that
sent it, the events it carries, and the errors that refuse it.

Built by :mod:`gitward.source.webhooks.parsing` (and the per-provider modules);
read by the agent's webhook endpoint, which matches
:attr:`PushEvent.repo_urls` against each Application's repository URL and
turns :attr:`WebhookRejected.status` into the HTTP status of its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gitward import errors
from gitward.source.webhooks import urls

# The "null" object id git forges send for the missing side of a ref creation
# or deletion (SHA-1 repositories; SHA-256 ones use 64 zeros).
ZERO_SHA = "0" * 40


class Provider(StrEnum):
    """The forge family a delivery comes from (each signs and shapes payloads its own way)."""

    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"
    FORGEJO = "forgejo"
    GOGS = "gogs"
    BITBUCKET_CLOUD = "bitbucket-cloud"
    BITBUCKET_SERVER = "bitbucket-server"


class WebhookRejected(errors.InputError):
    """A delivery was refused: bad or missing signature, malformed payload, too
    large, too slow.

    ``status`` is the HTTP status the endpoint should answer with. The message
    names the provider and the offending header or payload field, and never
    contains the secret, a signature or a token.
    """

    reason = "WebhookRejected"
    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class BodyTooLarge(WebhookRejected):
    """The request body is larger than the configured limit."""

    status = 413


class BodyTimeout(WebhookRejected):
    """The request body did not arrive within the configured time (a slow client)."""

    status = 408


def is_zero(sha: str) -> bool:
    """Whether ``sha`` is the all-zeros id forges use for "no commit"."""
    return bool(sha) and sha.strip("0") == ""


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One ref of one repository moved from ``before`` to ``after``.

    ``repo_urls`` holds every URL form the payload gives for the repository
    (HTTPS clone, SSH, git://, web), each passed through
    :func:`gitward.source.webhooks.urls.normalise_url`; use :meth:`matches`.
    ``ref`` is a full ref name (``refs/heads/main``, ``refs/tags/v1``).
    ``before`` is the zero id for a created ref and ``""`` when the provider
    does not say (Gitea/Forgejo ``delete`` events); ``after`` is the zero id
    for a deleted ref (``deleted`` is then true).

    ``changed_paths`` is the set of repository paths the pushed commits added,
    modified or removed, given only when the payload proves the list complete:
    a fast-forward (not forced, not a creation or deletion) whose commit list
    and per-commit file lists are below the provider's truncation limits.
    Otherwise it is ``None`` and the caller diffs ``before``..``after`` itself.
    In practice only GitHub payloads qualify: GitLab and Gitea do not mark
    force pushes, and Bitbucket sends no file lists.
    """

    provider: Provider
    repo_urls: frozenset[str]
    ref: str
    before: str
    after: str
    deleted: bool
    changed_paths: frozenset[str] | None
    pusher: str

    @property
    def created(self) -> bool:
        """Whether the push created the ref (there was no commit before)."""
        return is_zero(self.before)

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith("refs/tags/")

    @property
    def is_branch(self) -> bool:
        return self.ref.startswith("refs/heads/")

    def matches(self, repo_url: str) -> bool:
        """Whether ``repo_url`` (an Application's repoURL, any form) names this repository."""
        return _matches(self.repo_urls, repo_url)


@dataclass(frozen=True, slots=True)
class PingEvent:
    """A delivery that only tests the hook (GitHub ``ping``, Gitea "Test
    delivery", Bitbucket Data Center ``diagnostics:ping``).

    ``repo_urls`` is empty when the hook is not tied to one repository (an
    organisation or system hook).
    """

    provider: Provider
    repo_urls: frozenset[str]

    def matches(self, repo_url: str) -> bool:
        return _matches(self.repo_urls, repo_url)


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A well-signed delivery of an event gitward does not act on (issues, pull requests...)."""

    provider: Provider
    name: str


Event = PushEvent | PingEvent | IgnoredEvent


def _matches(repo_urls: frozenset[str], repo_url: str) -> bool:
    try:
        return urls.normalise_url(repo_url) in repo_urls
    except errors.InputError:
        return False
