"""Transports (MQTT, UDP, TCP, NATS, in-process): bytes in and out, nothing else.

May import: ``model``, ``codec``, ``runtime`` interfaces.
"""

__all__: list[str] = []
