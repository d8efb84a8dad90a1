"""Wire compatibility of our Chinese-profile ASN.1 (``security/asn1/cn``) with the published
reference (``../shared/reference/asn1/security-cn``), both ways.

Hypothesis draws random valid values from the *reference's* type tree and from *ours*; each
value must encode to the same COER bytes under both, decode to the same value under both,
and re-encode to the same bytes. The secured data unit (``V2XSecData``, which reaches every
structure of a signed, unsigned or encrypted frame) and the certificate are checked whole,
and their main parts on their own so a failure points at the part. Failing examples print
the seed (hypothesis does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asn1tools
import pytest
from _asn1_values import ValueStrategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2xcloud.security import codec
from v2xcloud.security.types import SecurityProfile

REFERENCE_FILES = ("SecurityBaseDataTypes.asn", "SecurityDataTypes.asn")
TYPES = [
    "V2XSecData",
    "Certificate",
    "SignedData",
    "ToBeSignedData",
    "HeaderInfo",
    "SignerIdentifier",
    "ToBeSignedCertificate",
    "GeographicRegion",
    "Signature",
    "PublicVerificationKey",
]
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)


class Side:
    """One schema: its COER spec (to encode) and a UPER compile (its tree has the ranges and
    sizes the value generator needs; the values are the same for any codec). Integers without
    a range are drawn from 0 (the AIDs are ``0..MAX``); the negative ones the certificate
    allows (``chainLengthRange`` -1: any length) are in the example test below."""

    def __init__(self, oer: Any, files: list[str]) -> None:
        self.oer = oer
        self.values = ValueStrategies(asn1tools.compile_files(files, "uper"), lowest_unbounded=0)


@pytest.fixture(scope="module")
def sides(reference_dir: Path) -> dict[str, Side]:
    folder = reference_dir / "asn1" / "security-cn"
    files = [str(folder / name) for name in REFERENCE_FILES]
    ours = sorted(str(p) for p in (codec.ASN1_DIR / "cn").glob("*.asn"))
    return {
        "reference": Side(asn1tools.compile_files(files, "oer"), files),
        "ours": Side(codec.schema(SecurityProfile.CN), ours),
    }


@pytest.mark.parametrize("drawn_from", ["reference", "ours"])
@pytest.mark.parametrize("type_name", TYPES)
@SETTINGS
@given(data=st.data())
def test_same_coer_bytes_and_values_as_reference(
    type_name: str, drawn_from: str, data: st.DataObject, sides: dict[str, Side]
) -> None:
    ref, ours = sides["reference"].oer, sides["ours"].oer
    value = data.draw(sides[drawn_from].values.for_type(type_name), label=type_name)
    wire = bytes(ref.encode(type_name, value))
    assert bytes(ours.encode(type_name, value)) == wire
    decoded = ours.decode(type_name, wire)
    assert decoded == ref.decode(type_name, wire)
    assert bytes(ours.encode(type_name, decoded)) == wire


def test_negative_and_default_chain_lengths_encode_alike(sides: dict[str, Side]) -> None:
    ref, ours = sides["reference"].oer, sides["ours"].oer
    for min_length, length_range in ((1, 0), (2, -1), (-5, -(2**40)), (0, 2**40)):
        value = {
            "subjectPermissions": ("all", None),
            "minChainLength": min_length,
            "chainLengthRange": length_range,
            "eeType": (b"\xc0", 8),
        }
        wire = bytes(ref.encode("AidGroupPermissions", value))
        assert bytes(ours.encode("AidGroupPermissions", value)) == wire
        assert ours.decode("AidGroupPermissions", wire) == ref.decode("AidGroupPermissions", wire)
