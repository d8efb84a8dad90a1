"""Test PKIs (both profiles, made once per session) and a BSM to sign and tamper with; the
fixture is imported by the test modules that use it (`from ._pki import pkis`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from v2xcloud.codec import MessageSet, encode_model
from v2xcloud.geo import LocalFrame
from v2xcloud.security.pki import Pki, init_pki
from v2xcloud.security.types import SecurityProfile
from v2xcloud.twin.testing import bsm_at

#: the PKIs' creation time (UTC ms, 2026-12-01 00:00); frames are generated an hour later
PKI_MS = 1_795_910_400_000
NOW_MS = PKI_MS + 3_600_000


def uper_bsm(pid: str = "00000000000000a1", *, lat: float = 28.19, lon: float = 112.97) -> bytes:
    """A CSAE 2020 BSM at ``lat``, ``lon`` (default in Changsha, inside the PKIs' region)."""
    frame = LocalFrame(origin_lat_deg=lat, origin_lon_deg=lon)
    bsm = bsm_at(pid, x_m=0, y_m=0, t_ms=NOW_MS, speed_mps=8.0, frame=frame)
    return encode_model(bsm, message_set=MessageSet.CSAE2020)


@pytest.fixture(scope="session")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[SecurityProfile, str], Pki]:
    """Per profile a PKI ("main", devices obu-1 and rsu-1) and an unrelated one ("other",
    another root) to sign frames a receiver of "main" must not trust."""
    out: dict[tuple[SecurityProfile, str], Pki] = {}
    for profile in SecurityProfile:
        for which in ("main", "other"):
            path: Path = tmp_path_factory.mktemp(f"pki-{profile.value}-{which}")
            out[profile, which] = init_pki(
                path, profile=profile, devices=["obu-1", "rsu-1"], now_ms=PKI_MS, with_tls=False
            )
    return out
