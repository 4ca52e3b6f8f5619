"""Replica coordination: who is alive, who owns which Application, and the
fencing token every write is made under.

One Protocol (:class:`base.Coordinator`) over what already exists:
``leases`` (Kubernetes ``coordination.k8s.io/v1`` Leases) and ``advisory``
(PostgreSQL session advisory locks and a members table); the in-memory fake is
``gitward.testing.coordinators``. ``hashing`` spreads Applications over the
live members (consistent hashing with bounded loads). The engine composes
them (``gitward.engine.ownership``); nothing here knows about Applications
beyond their names.
"""
