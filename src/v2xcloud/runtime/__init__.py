"""Wiring: bus, tick scheduler, app host, dissemination, dead letters, configuration.

May import: everything below it (``model``, ``codec``, ``geo``, ``twin``, ``apps``, ``security``).
"""

__all__: list[str] = []
