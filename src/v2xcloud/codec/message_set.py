"""The message-set versions a device can speak, and the message types each one carries."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DAY2_MESSAGES", "DAY2_TYPE_NAMES", "FRAME_MESSAGES", "MessageSet", "message_set_of"]


class MessageSet(StrEnum):
    """A device's message-set version (configured per device; the wire does not say it).

    ``csae2017``: T/CSAE 53-2017. ``csae2020``: T/CSAE 53-2020 = YD/T 3709-2020 Day-1, with the
    T/CSAE 157-2020 Day-2 messages in ``MessageFrame.msgFrameExt`` and the 157-2020 extension
    additions to Day-1 types (e.g. ``Node.inLinks-ex``). A YD/T 3709 device is ``csae2020``:
    without the extension additions the wire is identical.
    """

    CSAE2017 = "csae2017"
    CSAE2020 = "csae2020"


# MessageFrame alternative -> short message type name
FRAME_MESSAGES: dict[str, str] = {
    "bsmFrame": "BSM",
    "mapFrame": "MAP",
    "rsmFrame": "RSM",
    "spatFrame": "SPAT",
    "rsiFrame": "RSI",
}

# Day-2 messageId -> (short name, ASN.1 type of the open-type value)
DAY2_MESSAGES: dict[int, tuple[str, str]] = {
    0: ("TestMsg", "TestMsg"),
    10: ("RTCM", "RTCMcorrections"),
    11: ("RSC", "RoadsideCoordination"),
    12: ("SSM", "SensorSharingMsg"),
    13: ("VIR", "VehIntentionAndRequest"),
    14: ("PAM", "PAMData"),
    15: ("PSM", "PersonalSafetyMessage"),
    16: ("CLPMM", "CLPMM"),
    17: ("VPM", "VehiclePaymentMessage"),
}

DAY2_TYPE_NAMES: dict[str, int] = {name: mid for mid, (name, _) in DAY2_MESSAGES.items()}


def message_set_of(value: str | MessageSet) -> MessageSet:
    """Parse a message-set name; raises ``ConfigError`` naming the valid choices."""
    from v2xcloud.errors import ConfigError

    try:
        return MessageSet(value)
    except ValueError:
        choices = ", ".join(m.value for m in MessageSet)
        raise ConfigError(f"unknown message set {value!r}; choose one of {choices}") from None
