"""OpenAPI documentation for routes that answer msgspec structs through ``json_response``.

FastAPI documents a response from the route's return annotation, but our routes encode with
msgspec (``api.wire``) and return a plain ``Response``. :func:`documented` turns a msgspec
type into the route's ``responses`` entry (the schema from ``msgspec.json.schema_components``,
references under ``#/components/schemas``), and :func:`install_components` adds the referenced
component schemas to the app's ``/openapi.json``.

>>> @router.get("/ev/fleet", responses=documented(EvFleet, "the fleet"))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI

__all__ = ["documented", "install_components"]

_REF = "#/components/schemas/{name}"
_COMPONENTS: dict[str, Any] = {}  # every component schema a documented route refers to


def documented(type_: Any, description: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` argument documenting a 200 answer of ``type_`` (any type msgspec
    encodes: a struct, ``list[Struct]``, ...)."""
    (schema,), components = msgspec.json.schema_components([type_], ref_template=_REF)
    _COMPONENTS.update(components)
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}


def install_components(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the component schemas the documented routes refer to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in _COMPONENTS.items():
            schemas.setdefault(name, schema)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
