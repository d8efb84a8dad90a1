"""v2xcloud: an open vehicle-road-cloud platform.

Layers (imports point downward only, see ``shared/design/ARCHITECTURE.md``)::

    model  <-  codec  <-  gateways
    model  <-  geo    <-  twin  <-  apps
    runtime wires them; store, api, sim, ev, cli sit on top.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
