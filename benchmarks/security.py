"""The whole receive path of signed BSMs on one core: SM2 (cn) and ECDSA-P256 (intl).

    .venv/bin/python benchmarks/security.py [--frames 1500] [--repeat 5]

Per profile a test PKI is made (``security.pki``), and ``--frames`` distinct BSMs are signed by
its ``obu-1`` in two signer forms: by **digest** (the certificate cache warm: the platform
knows the device's certificate) and with the **full certificate** in every frame (learned from
the first frame on; each frame's certificate is still parsed and looked up). One pass takes
every frame through, in the same process, timing CPU seconds (``time.process_time``):

  whole path    ``SecurityStage.process`` (decode the secured frame, policy, algorithm,
                freshness, replay, signer/chain, revocation, validity, AID, region, the
                signature) then ``codec.decode`` of the wrapped BSM and its SI model — what
                ``Runtime.ingest_frame`` does with a frame guard, minus the scene
  crypto alone  ``Verifier.verify`` of the same signatures with the same (hot) keys, over
                the signature input (``security.sig_input``) made beforehand
  signature input rule  ``security.sig_input.signature_input`` alone: what the IEEE 1609.2
                / YD/T 3957 input rule adds per frame (the signer certificate's hash is
                cached per digest, so a frame pays the hash of its tbs at most)
  checks, no signature  the whole path with a stand-in verifier that accepts at once: what
                the stage, the secured decode and the BSM decode cost around the crypto
  decode secured  ``security.codec.decode_secured`` alone
  BSM decode    ``codec.decode(...).to_model()`` of the payload alone
  no location   the whole path for frames without a generation location in the header (the
                region check decodes the BSM's position from the payload)

The crypto share is crypto alone ÷ whole path, per frame, from the same run. Each figure is the
best of ``--repeat`` passes (the rows take turns within a round, so load elsewhere on the
machine hits them alike); before each whole-path pass the stage's replay table is emptied (the
same frames would otherwise be replays), outside the timing.

Last, the unsigned path: ``Runtime.ingest_frame`` of an unsigned BSM without a frame guard,
and with the security stage as guard under ``verify-if-signed`` (what the stage costs a
deployment that does not sign yet).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from v2xcloud.codec import Decoded, MessageSet, decode, encode_model
from v2xcloud.geo import LocalFrame
from v2xcloud.runtime import Runtime
from v2xcloud.security.codec import decode_secured
from v2xcloud.security.pki import Pki, init_pki
from v2xcloud.security.replay import ReplayWindow
from v2xcloud.security.sig_input import signature_input
from v2xcloud.security.signing import FrameSigner
from v2xcloud.security.types import SecurityProfile, SignedFrame
from v2xcloud.security.verify import Policy, SecurityStage, Verified, stage_from_pki
from v2xcloud.twin.testing import bsm_at

__all__ = ["main"]

T = TypeVar("T")
_SET = MessageSet.CSAE2020
_FRAME = LocalFrame(origin_lat_deg=28.19, origin_lon_deg=112.97)
_TARGET = {SecurityProfile.CN: 3_000, SecurityProfile.INTL: 8_000}


def _bsms(count: int, t_ms: int) -> list[bytes]:
    return [
        encode_model(
            bsm_at(
                f"{i:016x}",
                x_m=i % 500,
                y_m=(i * 7) % 300,
                t_ms=t_ms + i,
                speed_mps=12.0,
                frame=_FRAME,
            ),
            message_set=_SET,
        )
        for i in range(count)
    ]


def _signed(pki: Pki, payloads: list[bytes], t_ms: int, **options: bool) -> list[bytes]:
    signer = FrameSigner.for_device(pki, "obu-1")
    return [signer.sign(p, generation_time_ms=t_ms + i, **options) for i, p in enumerate(payloads)]


class _Accept:
    """A verifier stand-in that accepts every signature (the 'checks, no signature' row)."""

    def verify(
        self, public_key: bytes, tbs: bytes, signature: bytes, *, sm2_id: bytes | None = None
    ) -> bool:
        return True


def _whole(stage: SecurityStage, now_ms: int) -> Callable[[bytes], object]:
    def run(raw: bytes) -> object:
        result = stage.process(raw, kind="obu", now_ms=now_ms)
        if not isinstance(result, Verified):
            raise SystemExit(f"benchmark frame refused: {result}")
        decoded = decode(result.payload, message_set=_SET)
        assert isinstance(decoded, Decoded)
        return decoded.to_model()

    return run


def _pass(fn: Callable[[T], object], items: Sequence[T], reset: Callable[[], None]) -> float:
    """Items per CPU second of one pass."""
    reset()
    began = time.process_time()
    for item in items:
        fn(item)
    return len(items) / max(time.process_time() - began, 1e-9)


def _profile_rows(profile: SecurityProfile, count: int, repeat: int, tmp: Path) -> dict[str, float]:
    now = int(time.time() * 1000)
    pki = init_pki(tmp / profile.value, profile=profile, devices=["obu-1"], now_ms=now,
                   with_tls=False)  # fmt: skip
    payloads = _bsms(count, now)
    frames = {
        "digest": _signed(pki, payloads, now),
        "certificate": _signed(pki, payloads, now, with_certificate=True),
        "no location": _signed(pki, payloads, now, with_location=False),
    }
    judge_at = now + count + 10
    stage = stage_from_pki(pki, policy=Policy.parse("require"), window_ms=3_600_000)
    verifier = stage.verifiers[pki.algorithm]
    decoded = [decode_secured(raw) for raw in frames["digest"]]
    parts = [f for f in decoded if isinstance(f, SignedFrame)]
    cert = pki.certificate("obu-1.pseudonym")
    point = cert.verification_key.point
    # the signature input by the profile's rule, made outside the timing of "crypto alone"
    inputs = {id(f): signature_input(pki.algorithm, f.tbs_bytes, cert) for f in parts}

    def fresh() -> None:
        stage.replay = ReplayWindow(window_ms=stage.replay.window_ms, capacity=1_000_000)

    no_crypto = stage_from_pki(pki, policy=Policy.parse("require"), window_ms=3_600_000)
    no_crypto.verifiers = {pki.algorithm: _Accept()}

    def fresh_no_crypto() -> None:
        no_crypto.replay = ReplayWindow(window_ms=no_crypto.replay.window_ms, capacity=1_000_000)

    def crypto(f: SignedFrame) -> object:
        message, sm2_id = inputs[id(f)]
        return verifier.verify(point, message, f.signature.r + f.signature.s, sm2_id=sm2_id)

    def rule(f: SignedFrame) -> object:
        return signature_input(pki.algorithm, f.tbs_bytes, cert)

    def bsm_only(payload: bytes) -> object:
        result = decode(payload, message_set=_SET)
        assert isinstance(result, Decoded)
        return result.to_model()

    rows: dict[str, Callable[[], float]] = {
        "whole path, digest signer": lambda: _pass(
            _whole(stage, judge_at), frames["digest"], fresh
        ),
        "whole path, full certificate": lambda: _pass(
            _whole(stage, judge_at), frames["certificate"], fresh
        ),
        "whole path, no location": lambda: _pass(
            _whole(stage, judge_at), frames["no location"], fresh
        ),
        "checks, no signature": lambda: _pass(
            _whole(no_crypto, judge_at), frames["digest"], fresh_no_crypto
        ),
        "crypto alone": lambda: _pass(crypto, parts, _nothing),
        "signature input rule": lambda: _pass(rule, parts, _nothing),
        "decode secured": lambda: _pass(decode_secured, frames["digest"], lambda: None),
        "BSM decode + model": lambda: _pass(bsm_only, payloads, lambda: None),
    }
    best = dict.fromkeys(rows, 0.0)
    for _ in range(repeat):
        for label, run in rows.items():
            best[label] = max(best[label], run())
    return best


def _nothing() -> None:
    pass


def _ingest(runtime: Runtime, now_ms: int) -> Callable[[bytes], object]:
    def run(raw: bytes) -> object:
        return runtime.ingest_frame(raw, source="obu-1", received_at_ms=now_ms, kind="obu")

    return run


def _unsigned_rows(count: int, repeat: int, tmp: Path) -> dict[str, float]:
    now = int(time.time() * 1000)
    payloads = _bsms(count, now)
    pki = init_pki(tmp / "unsigned", profile=SecurityProfile.CN, devices=["obu-1"], now_ms=now,
                   with_tls=False)  # fmt: skip
    bare = Runtime(frame=_FRAME, apps=[], detectors=())
    guarded = Runtime(
        frame=_FRAME, apps=[], detectors=(), guard=stage_from_pki(pki, policy=Policy())
    )
    rows = {
        "ingest_frame, no guard": bare,
        "ingest_frame, guard verify-if-signed": guarded,
    }
    best = dict.fromkeys(rows, 0.0)
    for _ in range(repeat):
        for label, runtime in rows.items():
            best[label] = max(best[label], _pass(_ingest(runtime, now + 5), payloads, _nothing))
    return best


def main() -> None:
    """Print the table per profile with the crypto share and the unsigned-path ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1500, help="distinct signed BSMs per form")
    parser.add_argument("--repeat", type=int, default=5, help="passes per figure (best kept)")
    args = parser.parse_args()
    print(
        f"{args.frames} distinct frames per form, best of {args.repeat} passes, CPU time of one process"
    )
    with tempfile.TemporaryDirectory() as tmp:
        _report(args.frames, args.repeat, Path(tmp))


def _report(count: int, repeat: int, tmp: Path) -> None:
    for profile in SecurityProfile:
        rows = _profile_rows(profile, count, repeat, tmp)
        algorithm = "SM2-SM3" if profile is SecurityProfile.CN else "ECDSA-P256-SHA256"
        print(f"\n{profile.value} ({algorithm}), target {_TARGET[profile]:,} BSM/s")
        for label, rate in rows.items():
            print(f"  {label:<30} {rate:>9,.0f} /s  {1e6 / rate:>8,.1f} us")
        whole = rows["whole path, digest signer"]
        share = (1 / rows["crypto alone"]) / (1 / whole)
        rest = 1e6 / rows["checks, no signature"]
        print(
            f"  crypto share of the whole path (digest signer): {share:.0%}; "
            f"crypto alone {1e6 / rows['crypto alone']:.1f} us + the rest {rest:.1f} us "
            f"= {1e6 / rows['crypto alone'] + rest:.1f} us vs {1e6 / whole:.1f} us measured whole"
        )
        print(
            f"  signature input rule (hash of the tbs; signer certificate hash cached per "
            f"digest): {1e6 / rows['signature input rule']:.2f} us per frame, "
            f"{rows['whole path, digest signer'] / rows['signature input rule']:.1%} of the whole path"
        )
        status = "meets" if whole >= _TARGET[profile] else "MISSES"
        print(
            f"  whole path, digest signer {status} the target: {whole:,.0f} vs {_TARGET[profile]:,}"
        )
    rows = _unsigned_rows(count, repeat, tmp)
    print("\nunsigned BSMs into Runtime.ingest_frame (decode + validity + scene queue)")
    for label, rate in rows.items():
        print(f"  {label:<38} {rate:>9,.0f} /s  {1e6 / rate:>8,.1f} us")
    ratio = rows["ingest_frame, guard verify-if-signed"] / rows["ingest_frame, no guard"]
    print(f"  with guard / without: {ratio:.2f}")


if __name__ == "__main__":
    main()
