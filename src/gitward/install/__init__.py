"""gitward's own installation: the Helm chart (package data) and what is generated from it.

``chart/`` is the one source: the plain manifests in ``deploy/manifests/`` and
what ``gitward bootstrap`` writes into a repository are this chart rendered by
the Helm SDK (:mod:`gitward.install.manifests`); its ``crds/`` are generated
from the config models (:mod:`gitward.config.crds`) by
:mod:`gitward.install.generating`.
"""
