"""Container images in Git and in registries: the seam between CI and GitOps.

``references`` parses image references, ``locating`` finds an image in a
checked-out tree (Kustomize ``images:``, Helm values, plain manifests),
``rewriting`` edits exactly those values, ``registries`` lists tags over the
Distribution v2 API and ``policies`` picks the newest tag. The engine
(``engine.imaging``, ``engine.promoting``) composes them with
``source.committing``; this package imports only ``gitward.model``,
``gitward.errors`` and third-party libraries.
"""
