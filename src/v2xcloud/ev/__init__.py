"""Electric-vehicle monitoring over GB/T 32960.3 (2016 and 2025): codec, server, analytics.

May import: ``model``, ``runtime``, ``store``.
"""

__all__: list[str] = []
