"""Delivery (DORA) figures from gitward's own history: ``computing`` (pure) and
``gathering`` (store and Git)."""
