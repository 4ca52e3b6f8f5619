"""Writing to Git: commit a generated change, or revert commits, and push with retry.

Called by the engine for GitOps rollback (:func:`revert_and_push`) and for CI's
image bumps and environment promotions (:func:`change_and_push`).

Everything runs in a temporary working copy driven by the ``git`` CLI (revert,
commit and push are what git does best), deleted afterwards whatever happens:

1. ``git init`` an empty repository whose only remote is the repository URL
   stripped of userinfo. When the Sources cache holds a mirror of the
   repository (``cache_dir``), the mirror's object store is borrowed as an
   *alternate*, so the fetch below transfers only what the mirror lacks; the
   mirror is only read (it is fetched into, never pruned of reachable objects,
   and git tolerates packs being added or repacked under a reader).
2. Fetch the branch from the real URL: ``--depth=1`` for a change when there
   is no mirror; the full history (``--filter=blob:none`` where the server
   allows it, blobs then come on demand) for a revert, which needs the
   reverted commits, their parents and their order. A change that names the
   directories it edits (``paths``) gets a sparse checkout of just those,
   and without a mirror (where the server allows partial clone) only their
   blobs are fetched: an image bump in a monorepo of thousands of files
   writes a few files, not thousands.
3. Check out the remote head, apply the edit (the caller's ``change`` callback
   or ``git revert``), commit if anything changed, and push that commit to the
   branch, never with ``--force``.
4. If the push is refused and the branch has moved (someone pushed in the
   meantime), fetch again, reset to the new head and apply the edit *again* on
   the fresh tree: for generated edits this is the robust form of a rebase (an
   image bump re-applied to the new file cannot conflict, and never drops the
   other commit). If the branch has not moved, the server refused the commit
   itself (a protected branch, a hook): :class:`PushRejected`.

Isolation: git sees no system or global configuration, no terminal, and a
temporary ``HOME``; only transports ``file``, ``git``, ``http(s)`` and
``ssh`` are allowed. Credentials never reach the command line or
``.git/config``: for HTTPS a ``GIT_ASKPASS`` script answers git's prompts from
environment variables that exist only in the git child's environment; for
SSH, ``GIT_SSH_COMMAND`` names the key, pins the known hosts and refuses
password authentication (the passphrase, if any, comes from the same askpass
script through ``SSH_ASKPASS``). Every git command is bounded by the timeout
and runs in its own process group, killed whole (ssh and remote helpers
included) at the deadline or on cancellation. Error messages name the
repository (its URL without any userinfo) and the branch, and are scrubbed of
secret values.

Lost replies: when a push fails without a verdict (timeout, dropped
connection), the branch is listed again; if it points at the commit just
pushed, the push landed and counts as done.

Modules: ``pushing`` (the public functions and the retry loop), ``workingcopies``
(the temporary working copy and its isolated git commands), ``values`` (what
goes in and out, and the errors).
"""

from gitward.source.committing.pushing import change_and_push, revert_and_push
from gitward.source.committing.values import (
    Author,
    CommitError,
    NothingToRevert,
    PushContended,
    Pushed,
    PushRejected,
    RevertConflict,
)

__all__ = [
    "Author",
    "CommitError",
    "NothingToRevert",
    "PushContended",
    "PushRejected",
    "Pushed",
    "RevertConflict",
    "change_and_push",
    "revert_and_push",
]
