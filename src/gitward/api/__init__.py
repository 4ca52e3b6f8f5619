"""The HTTP edge of the agent: health endpoints, webhooks (and the REST API).

Thin routes over engine functions, served by uvicorn inside the agent's one
asyncio process.
"""
