"""Which application identifier (AID / PSID) each C-V2X message is signed under.

A signed frame's header names the application (``aid``), a certificate lists the AIDs its
holder may sign for, and a receiver refuses a frame whose AID its signer's certificate does
not permit (``NOT_PERMITTED``). One table, here, is what the PKI tool grants and the signing
tool stamps.

Source of the numbers: the IEEE 1609.12 PSID registry, whose entries the SAE J2735 messages
these CSAE messages descend from are sent under — ``psid-vehicle-to-vehicle-safety-and-
awareness`` (32) for the BSM, ``psid-intersection-safety-and-awareness`` (130) for SPAT and
MAP, ``psid-traveller-information-and-roadside-signage`` (131) for the RSI (the J2735 TIM's
role) and ``psid-vulnerable-road-users-safety-applications`` (39) for the RSM (roadside
perception of road users). The platform's own advisory to one vehicle (``ADVISORY``: a JSON
object on the cellular down-link, no published message) is signed under 0x1D, which the
registry reserves for private use (ISO 15628). The Chinese profile's AID table (YD/T 3707-2020, annex) was not
available to check here; the ``cn`` profile uses the same numbers until it is — change them
here, in one place.

>>> aid_of("BSM"), message_of(130)
(32, 'MAP/SPAT')
"""

from __future__ import annotations

__all__ = ["MESSAGE_AIDS", "aid_of", "message_of"]

#: message type → AID (PSID)
MESSAGE_AIDS: dict[str, int] = {
    "BSM": 32,
    "MAP": 130,
    "SPAT": 130,
    "RSI": 131,
    "RSM": 39,
    "ADVISORY": 0x1D,
}


def aid_of(message_type: str) -> int:
    """The AID of a message type (``"BSM"``, ``"MAP"``, ``"SPAT"``, ``"RSI"``, ``"RSM"``,
    ``"ADVISORY"``);
    ``KeyError`` naming the known ones otherwise."""
    try:
        return MESSAGE_AIDS[message_type.upper()]
    except KeyError:
        raise KeyError(f"no AID for {message_type!r}; known: {sorted(MESSAGE_AIDS)}") from None


def message_of(aid: int) -> str | None:
    """The message type(s) signed under ``aid`` (``"MAP/SPAT"`` when shared), or None."""
    names = [m for m, a in MESSAGE_AIDS.items() if a == aid]
    return "/".join(names) or None
