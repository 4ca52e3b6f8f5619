"""Pull request previews: what merging ``head`` into ``base`` would do, as Markdown.

For each Application reading the pull request's repository, both revisions
are rendered (``reconciling.desired_state``); an Application is *affected*
when its render inputs differ (the render's input digest, which covers every
file the renderer reads plus its options) or when one side fails to render.
Each affected Application is planned:

* against the **live** state of its target (``reconciling.plan`` on the head
  render: the same Plan a sync would carry out, server-side dry-run
  included, with the Project's policy checks);
* when the target cannot be reached (or ``live`` is False), the base render
  stands in for the live state (``diff.planning.build`` with the base
  manifests as live objects and as the inventory), and the report says so:
  it shows what the pull request changes in Git, not what the cluster would
  see.

The report has a summary table and one ``<details>`` block per Application
with the plan in ``diff`` form (``+`` create, ``~`` update with field
changes, ``-`` prune); Secret values are masked by ``diff.reports``. Errors
(render, policy) are reported per Application. Called by ``gitward plan``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gitward import errors
from gitward.config import applications
from gitward.diff import planning
from gitward.diff import reports as diff_reports
from gitward.engine import policies, reconciling, runtimes
from gitward.model import plans, resources

EXIT_IN_SYNC = 0
EXIT_CHANGES = 1
EXIT_ERRORS = 2
_MAX_DETAIL_LINES = 400


@dataclass(frozen=True, slots=True)
class AppPreview:
    """The preview of one Application."""

    app: str
    plan: plans.Plan | None = None
    # True when compared with the base render instead of the live target.
    offline: bool = False
    note: str = ""
    error: str = ""
    reason: str = ""
    removed: bool = False

    @property
    def changes(self) -> bool:
        return self.removed or (self.plan is not None and not self.plan.in_sync)


@dataclass(frozen=True, slots=True)
class Preview:
    base: str
    head: str
    apps: tuple[AppPreview, ...]
    unaffected: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """0 nothing would change, 1 something would, 2 an Application could not be planned."""
        if any(a.error for a in self.apps):
            return EXIT_ERRORS
        if any(a.changes for a in self.apps):
            return EXIT_CHANGES
        return EXIT_IN_SYNC

    @property
    def markdown(self) -> str:
        return render_markdown(self)


async def plan_pull_request(
    runtime: runtimes.Runtime,
    apps: Sequence[applications.Application],
    base: str,
    head: str,
    *,
    live: bool,
    repo_url: str | None = None,
    projects: Mapping[str, applications.Project] | None = None,
    base_apps: Sequence[applications.Application] = (),
) -> Preview:
    """Preview merging ``head`` into ``base`` for ``apps`` (the Applications at head).

    ``base`` "" means each Application's own ref (the branch it tracks, which
    is what a pull request targets).

    ``repo_url``: the pull request's repository; Applications reading another
    one are unaffected. ``base_apps``: Applications declared at the base
    revision; those gone at head are listed as removed. ``projects``: for the
    policy checks.
    """
    previews: list[AppPreview] = []
    unaffected: list[str] = []
    base_revision = head_revision = ""
    for app in sorted(apps, key=lambda a: a.name):
        if repo_url is not None and app.spec.source.repo_url != repo_url:
            unaffected.append(app.name)
            continue
        preview, revisions = await _one(runtime, app, base, head, live=live, projects=projects)
        base_revision = base_revision or revisions[0]
        head_revision = head_revision or revisions[1]
        if preview is None:
            unaffected.append(app.name)
        else:
            previews.append(preview)
    current = {a.name for a in apps}
    for gone in sorted(base_apps, key=lambda a: a.name):
        if gone.name not in current:
            cascade = gone.spec.sync_policy.cascade_delete
            note = (
                "removed from Git: cascadeDelete deletes what it manages"
                if cascade
                else "removed from Git: what it manages is left running (cascadeDelete is off)"
            )
            previews.append(AppPreview(app=gone.name, note=note, removed=True))
    return Preview(
        base=base_revision or base,
        head=head_revision or head,
        apps=tuple(previews),
        unaffected=tuple(unaffected),
    )


async def _one(
    runtime: runtimes.Runtime,
    app: applications.Application,
    base: str,
    head: str,
    *,
    live: bool,
    projects: Mapping[str, applications.Project] | None,
) -> tuple[AppPreview | None, tuple[str, str]]:
    # Decided first, so the Project's signature policy applies to both renders;
    # a refusal is reported only when the pull request affects the Application.
    refused: errors.GitwardError | None = None
    project: applications.Project | None = None
    try:
        project = policies.project_for(app, projects)
    except errors.GitwardError as exc:
        refused = exc
    try:
        head_state = await reconciling.desired_state(runtime, app, revision=head, project=project)
    except errors.GitwardError as exc:
        return AppPreview(app=app.name, error=exc.message, reason=exc.reason), ("", "")
    base_state: reconciling.Desired | None = None
    base_problem = ""
    try:
        base_state = await reconciling.desired_state(
            runtime, app, revision=base or "", project=project
        )
    except errors.SourceUnavailable:
        raise
    except errors.RevisionNotFound as exc:
        return AppPreview(app=app.name, error=exc.message, reason=exc.reason), ("", "")
    except errors.GitwardError as exc:
        base_problem = f"the base revision did not render ({exc.reason}: {exc.message})"
    revisions = (
        base_state.revision.sha if base_state is not None else "",
        head_state.revision.sha,
    )
    if (
        base_state is not None
        and base_state.rendered.input_digest == head_state.rendered.input_digest
    ):
        return None, revisions
    if refused is not None:
        return AppPreview(app=app.name, error=refused.message, reason=refused.reason), revisions
    if live:
        try:
            the_plan = await reconciling.plan(runtime, app, head_state, project=project)
            return AppPreview(app=app.name, plan=the_plan, note=base_problem), revisions
        except errors.RetryableError as exc:
            note = f"target {app.spec.destination.target} unreachable ({exc.message})"
        except errors.GitwardError as exc:
            return AppPreview(app=app.name, error=exc.message, reason=exc.reason), revisions
    else:
        note = "not compared with the live target (offline)"
    try:
        policies.check_application(app, project)
        the_plan = offline_plan(app, base_state, head_state)
    except errors.GitwardError as exc:
        return AppPreview(app=app.name, error=exc.message, reason=exc.reason), revisions
    note = f"{note}: base render compared with head render"
    if base_problem:
        note += f"; {base_problem}"
    return AppPreview(app=app.name, plan=the_plan, offline=True, note=note), revisions


def offline_plan(
    app: applications.Application,
    base: reconciling.Desired | None,
    head: reconciling.Desired,
) -> plans.Plan:
    """The Plan of going from the base render to the head render (no target involved).

    The base objects play the live objects, and the inventory: stamped with
    gitward's tracking label and annotation, so objects the head no longer
    declares are planned as prunes exactly as on a real target.
    """
    before = base.rendered.manifests if base is not None else ()
    live = {m.key: dict(m.body) for m in before}
    inventory = [_tracked(app.name, m) for m in before]
    return planning.build(
        app.name,
        head.revision.sha,
        list(head.rendered.manifests),
        live,
        inventory,
        reconciling.plan_options(app),
    )


def _tracked(app: str, manifest: resources.Manifest) -> dict[str, object]:
    body = dict(manifest.body)
    meta = dict(body.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), resources.APP_LABEL: app}
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        resources.TRACKING_ANNOTATION: planning.tracking_id(app, manifest.key),
    }
    body["metadata"] = meta
    return body


# --- Markdown --------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _status(preview: AppPreview) -> str:
    if preview.error:
        return f"❌ {preview.reason or 'Error'}"
    if preview.removed:
        return "🗑️ removed"
    if preview.plan is not None and not preview.plan.in_sync:
        return "✏️ changes" + (" (vs base render)" if preview.offline else "")
    return "✅ no change" + (" (vs base render)" if preview.offline else "")


def render_markdown(preview: Preview) -> str:
    """The report as GitHub/GitLab-flavoured Markdown, fit for a PR comment."""
    lines = [
        f"## gitward plan: `{preview.base[:12]}` → `{preview.head[:12]}`",
        "",
    ]
    if not preview.apps:
        lines.append("No Application is affected by this change.")
    else:
        changed = sum(1 for a in preview.apps if a.changes)
        failed = sum(1 for a in preview.apps if a.error)
        lines.append(
            f"{len(preview.apps)} Application(s) affected: {changed} with changes, "
            f"{failed} with errors."
        )
        lines += [
            "",
            "| Application | Create | Update | Prune | Status |",
            "|---|---:|---:|---:|---|",
        ]
        for app in preview.apps:
            counts = app.plan.summary() if app.plan is not None else None
            numbers = (
                [str(counts["create"]), str(counts["update"]), str(counts["prune"])]
                if counts
                else ["-", "-", "-"]
            )
            lines.append(f"| {_cell(app.app)} | {' | '.join(numbers)} | {_status(app)} |")
        for app in preview.apps:
            lines += ["", *_details(app)]
    if preview.unaffected:
        lines += ["", f"Unaffected: {', '.join(_cell(n) for n in preview.unaffected)}."]
    lines.extend(f"\n> {note}" for note in preview.notes)
    return "\n".join(lines) + "\n"


def _details(app: AppPreview) -> list[str]:
    summary = f"<b>{_html(app.app)}</b>: {_html(_status(app))}"
    body: list[str] = []
    if app.note:
        body += [f"> {app.note}", ""]
    if app.error:
        body += ["```text", *_fenced(app.error.splitlines()), "```"]
    elif app.plan is not None:
        text = diff_reports.text(app.plan).rstrip("\n").splitlines()
        if len(text) > _MAX_DETAIL_LINES:
            cut = len(text) - _MAX_DETAIL_LINES
            text = [*text[:_MAX_DETAIL_LINES], f"… {cut} more lines (run gitward plan locally)"]
        body += ["```diff", *_fenced(text), "```"]
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>"]


def _fenced(lines: Sequence[str]) -> list[str]:
    # A line of backticks would close the fence early.
    return [line.replace("```", "`\u200b``") for line in lines]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
