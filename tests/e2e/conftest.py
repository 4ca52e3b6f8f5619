"""The shared fixtures live in ``tests/fixtures.py`` (registered by ``tests/conftest.py``);
importing helpers from here keeps working."""

from tests.fixtures import Git, Gitward, create_namespace, kget, kubectl

__all__ = ["Git", "Gitward", "create_namespace", "kget", "kubectl"]
