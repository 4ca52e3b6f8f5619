"""Commit statuses: ``github``, ``gitlab``, ``gitea`` (also ``forgejo``) and
``bitbucket``, each in the request shape its API documents.

For the commit an Application synced: ``pending`` when the sync starts,
``success`` once it is Synced and Healthy (event Deployed), ``failure`` on a
failed sync or Degraded health (``messages.status_of``). The context is
``gitward/<application>``; the repository comes from the Application's
``repoURL`` (``owner/repo``; GitLab's whole group path). Events that set no
status are not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from gitward import errors
from gitward.engine.notifications import messages, references
from gitward.engine.notifications.providers import base, posting
from gitward.source.webhooks import urls

_DESCRIPTION_LIMIT = 140
_GITLAB_STATES = {"pending": "pending", "success": "success", "failure": "failed"}
_BITBUCKET_STATES = {"pending": "INPROGRESS", "success": "SUCCESSFUL", "failure": "FAILED"}


def context(app: str) -> str:
    return f"gitward/{app}"


def repository_path(repo_url: str, api_url: str = "") -> str:
    """The repository's path on its forge (``org/repo``, ``group/sub/repo``).

    An API base with a path prefix (a forge served under ``/gitea``) is
    removed from the front of the repository path.
    """
    key = urls.normalise_url(repo_url)
    _, _, path = key.partition("/")
    prefix = urlsplit(api_url).path.strip("/") if api_url else ""
    for cut in (prefix, prefix.removesuffix("/api/v3"), prefix.removesuffix("/api")):
        if cut and path.startswith(cut + "/"):
            path = path[len(cut) + 1 :]
            break
    if path.count("/") < 1:
        raise errors.NotificationRejected(
            f"repository {repo_url}: cannot tell owner and name for a commit status"
        )
    return path


async def send(outgoing: base.Outgoing) -> None:
    document = outgoing.document
    state = document.get("status")
    if state is None:
        return
    app: Mapping[str, Any] = document.get("application", {})
    sha = str(document.get("event", {}).get("revision", ""))
    if not sha:
        raise errors.NotificationRejected(f"{outgoing.what}: the event names no commit")
    settings = outgoing.settings
    token = references.read(settings.token_env, settings.token_file, outgoing.what)
    api = settings.endpoint.rstrip("/")
    path = repository_path(str(app.get("repoURL", "")), api)
    description = messages.render(outgoing.template, document, "status")[:_DESCRIPTION_LIMIT]
    name = context(str(app.get("name", "")))
    link = str(app.get("url", "")) or None
    kind = settings.type
    if kind == "github":
        owner_repo = "/".join(path.split("/")[-2:])
        await posting.send(
            outgoing,
            "POST",
            f"{api}/repos/{owner_repo}/statuses/{sha}",
            json={"state": state, "context": name, "description": description, "target_url": link},
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
    elif kind == "gitlab":
        body: dict[str, Any] = {
            "state": _GITLAB_STATES[state],
            "name": name,
            "description": description,
        }
        if link:
            body["target_url"] = link
        await posting.send(
            outgoing,
            "POST",
            f"{api}/api/v4/projects/{quote(path, safe='')}/statuses/{sha}",
            json=body,
            headers={"PRIVATE-TOKEN": token},
        )
    elif kind in ("gitea", "forgejo"):
        owner_repo = "/".join(path.split("/")[-2:])
        await posting.send(
            outgoing,
            "POST",
            f"{api}/api/v1/repos/{owner_repo}/statuses/{sha}",
            json={"state": state, "context": name, "description": description, "target_url": link},
            headers={"Authorization": f"token {token}"},
        )
    elif kind == "bitbucket":
        workspace_repo = "/".join(path.split("/")[-2:])
        auth = (settings.username, token) if settings.username else None
        headers = {} if auth else {"Authorization": f"Bearer {token}"}
        await posting.send(
            outgoing,
            "POST",
            f"{api}/2.0/repositories/{workspace_repo}/commit/{sha}/statuses/build",
            json={
                "key": name,
                "state": _BITBUCKET_STATES[state],
                "name": name,
                "description": description,
                # Bitbucket requires a link; the repository when no UI is known.
                "url": link or str(app.get("repoURL", "")),
            },
            headers=headers,
            auth=auth,
        )
    else:  # pragma: no cover - the registry sends only these types here
        raise errors.NotificationRejected(f"{outgoing.what}: not a commit status provider")
