"""Pure, typed, immutable values passed between gitward's stages.

Nothing here performs I/O or imports other gitward packages. Import the
modules (``from gitward.model import resources``) rather than their names.
"""
