"""The cooperative applications: one module each, small classes that return Advisories.

May import: ``model``, ``geo``, ``twin`` (the read-only scene view only).
"""

__all__: list[str] = []
