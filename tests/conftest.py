"""Registers the shared fixtures (``tests/fixtures.py``) for every test directory."""

pytest_plugins = ["tests.fixtures"]
