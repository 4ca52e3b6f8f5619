"""gitward: a GitOps engine that keeps live systems equal to what Git declares.

The package is layered as shared/DESIGN.md describes: ``model`` holds the values
passed between stages, each stage (``source``, ``render``, ``diff``, ``health``,
``targets``, ``store``) is a package with its Protocols in ``base.py``, and the
``engine`` composes them. ``.importlinter`` keeps that layering true.
"""

__version__ = "0.1.0"
