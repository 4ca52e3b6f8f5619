"""Argo CD ``Application``, ``AppProject`` and ``ApplicationSet`` → gitward.

Called by ``translating``. Every field is either translated or noted (see
``results.Note``): each mapping is walked key by key, and a key without a
translation is reported with the reason, never dropped silently. Argo CD's own
objects stay in the cluster it manages: an imported Application adopts the live
objects at its next sync (``docs/migrating.md``).

One module per kind: ``applications`` (and the Application spec an
ApplicationSet's template shares), ``projects``, ``appsets``; ``sources`` (a
source and its render options), ``objects`` (metadata and destinations, alike in
every kind).
"""

from gitward.config.importing.argocd.applications import MANAGERS, app_spec, application
from gitward.config.importing.argocd.appsets import application_set
from gitward.config.importing.argocd.objects import target_of
from gitward.config.importing.argocd.projects import project

__all__ = ["MANAGERS", "app_spec", "application", "application_set", "project", "target_of"]
