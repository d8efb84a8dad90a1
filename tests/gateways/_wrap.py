"""Builders of IEEE 1609.3 WSMP and IEEE 1609.2 wrappers for the tests (from the standards'
structure, like the parser in ``gateways.ieee1609``)."""

from __future__ import annotations

from v2xcloud.gateways.ieee1609 import encode_psid

CHANNEL, DATA_RATE, TX_POWER = 15, 16, 4  # WAVE element ids of the N-Header extension


def var(n: int) -> bytes:
    """1609.3 length/count: one octet below 128, else 0b10 + 14 bits."""
    return bytes([n]) if n < 128 else (0x8000 | n).to_bytes(2, "big")


def elements(items: list[tuple[int, bytes]]) -> bytes:
    return var(len(items)) + b"".join(bytes([eid]) + var(len(c)) + c for eid, c in items)


def wsm(
    data: bytes,
    *,
    psid: int = 0x20,
    n_ext: list[tuple[int, bytes]] | None = None,
    t_ext: list[tuple[int, bytes]] | None = None,
    version: int = 3,
) -> bytes:
    """A WSMP datagram: N-Header (+ extensions), TPID 0/1, p-encoded PSID, length, data."""
    out = bytes([version | (0x08 if n_ext else 0)])
    if n_ext:
        out += elements(n_ext)
    out += bytes([1 if t_ext else 0]) + encode_psid(psid)
    if t_ext:
        out += elements(t_ext)
    return out + var(len(data)) + data


def coer_length(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    size = (n.bit_length() + 7) // 8
    return bytes([0x80 | size]) + n.to_bytes(size, "big")


def unsecured(data: bytes, *, version: int = 3) -> bytes:
    """Ieee1609Dot2Data { protocolVersion 3, content unsecuredData } in COER."""
    return bytes([version, 0x80]) + coer_length(len(data)) + data


def signed(data: bytes, *, psid: int = 0x20) -> bytes:
    """Ieee1609Dot2Data with signedData: sha256, the payload as unsecured data, a header with
    the PSID, a digest signer and an x-only ECDSA P-256 signature (not a valid one)."""
    payload = b"\x40" + unsecured(data)  # SignedDataPayload: data present
    psid_int = psid.to_bytes((psid.bit_length() + 7) // 8 or 1, "big")
    header = b"\x00" + bytes([len(psid_int)]) + psid_int  # HeaderInfo: no optional fields
    signer = b"\x80" + bytes(range(8))  # digest HashedId8
    signature = b"\x80" + b"\x80" + bytes(32) + bytes(32)  # ecdsaNistP256, x-only r, s
    return b"\x03\x81\x00" + payload + header + signer + signature


def encrypted(data: bytes) -> bytes:
    return b"\x03\x82" + coer_length(len(data)) + data
