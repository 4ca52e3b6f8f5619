"""Persistence of Application status, operations history, events and API tokens.

``base`` holds the :class:`~gitward.store.base.Store` Protocol the engine
composes, the records it stores and the store's errors; ``storing`` the
SQLAlchemy implementation (SQLite by default, PostgreSQL by URL);
``serialising`` the explicit to/from-dict conversions; ``schema`` and
``migrating`` the tables and their forward-only upgrades. The in-memory fake
is ``gitward.testing.stores.MemoryStore``.
"""
