"""Translate Argo CD and Flux configuration into gitward's (``gitward import``).

Pure: documents in, gitward documents and a report out; reading files or a
live cluster is the engine's job (``engine.importing``). ``translating`` is
the entry point; ``argocd`` and ``flux`` translate one tool each; ``results``
holds what comes out.
"""
