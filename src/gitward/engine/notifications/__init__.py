"""Notifications: route recorded events to providers through a persistent outbox.

``running`` starts the two tasks (``routing``: event log -> outbox;
``delivering``: outbox -> providers); ``messages`` builds the documented
event payload and renders templates; ``providers/`` holds one module per
service family; ``addresses`` and ``references`` guard URLs and secrets.
"""
