"""Geography: WGS-84 to a local metric frame per deployment, the spatial grid, lane matching.

May import: ``model``.
"""

__all__: list[str] = []
