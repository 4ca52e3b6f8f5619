"""Schemas of what users write: Applications, Projects and the agent's settings.

Validation only: callers load YAML (safely, through ``gitward.render.loading``)
and hand the documents here. Every field is documented where it is declared.
"""
