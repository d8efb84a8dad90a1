"""Device gateways: MQTT, UDP, TCP and in-process transports between devices and the platform.

May import: ``model``, ``codec``, ``runtime`` interfaces. A gateway turns network traffic into
``InboundFrame`` items on a bounded ``IngressQueue`` and carries deliveries back down.
"""

from v2xcloud.gateways.base import DeviceKind, Gateway, InboundFrame, IngressQueue

__all__ = ["DeviceKind", "Gateway", "InboundFrame", "IngressQueue"]
