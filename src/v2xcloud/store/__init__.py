"""History: DuckDB embedded by default, PostgreSQL/PostGIS for deployments.

May import: ``model``.
"""

__all__: list[str] = []
