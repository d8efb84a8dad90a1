"""The operator API (FastAPI, REST + WebSocket) and the dashboard it serves.

May import: ``runtime``, ``store``, ``model``, the scene view.
"""

__all__: list[str] = []
