"""The HTTP edge of the agent: probes, webhooks, the REST API, live stream, metrics.

``app.create(agent, settings)`` assembles the Starlette application that
``gitward serve`` runs on uvicorn inside the agent's one asyncio process.
Thin routes over the agent and the store: ``applications`` (read),
``actions`` (refresh, sync, rollback, suspend, resume), ``operations``,
``events``, ``streaming`` (server-sent events), ``metrics`` (Prometheus) and
``openapi`` (the document); ``auth`` decides who may do what, ``problems``
shapes error answers, ``views`` the JSON of every answer.
"""
