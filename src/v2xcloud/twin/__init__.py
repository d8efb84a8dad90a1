"""The live scene: participants, intersections and road events, as column arrays for the apps.

May import: ``model``, ``geo``.
"""

__all__: list[str] = []
