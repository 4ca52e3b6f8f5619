"""``gitward demo``: the whole reconcile sequence on a machine with nothing installed.

An edge like ``cli``: it composes the engine with gitward's Kubernetes API
test server (which speaks the Kubernetes API but runs no containers) and a
local git repository holding the example under ``example/``.
"""
