"""Electric-vehicle monitoring over GB/T 32960.3 (2016 and 2025): codec, server, analytics.

May import: ``model``, ``runtime``.

Modules: ``frame`` (header, BCC, reasons), ``units_2016``/``units_2025`` (data units; the
2025 table), ``realtime`` and ``commands`` (data units per command), ``codec`` (whole
messages), ``scanner`` (stream re-assembly), ``session`` and ``server`` (platform side),
``sink`` (report and alarm sinks), ``anomaly`` and ``alarms`` (battery monitoring),
``charging`` and ``scheduler`` (charging warning and scheduling), ``vehicle_sim`` and
``fleet`` (simulated terminals).
"""

from v2xcloud.ev.codec import Message, decode, encode
from v2xcloud.ev.server import Gb32960Server

__all__ = ["Gb32960Server", "Message", "decode", "encode"]
