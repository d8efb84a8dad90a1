"""Signatures per second on one core: SM2-with-SM3 and ECDSA-P256-SHA256, native and pure Python.

For each algorithm, in one run (so the ratios compare like with like on a noisy machine):

* ``sign``: ``Signer.sign`` of a BSM-sized message (hash included);
* ``verify (hot key)``: ``Verifier.verify`` of a key verified before (the platform's steady
  state: the key's own fixed-base table is built; P-256 builds it after 800 verifications,
  which the set-up does before timing);
* ``verify (first use)``: ``prepare`` + ``verify`` of a key never seen (point check, SM2 ``Z``);
* SM2 only, ``verify (OpenSSL EVP)``: OpenSSL's own ``EVP_PKEY_verify`` on the same digest,
  the baseline the fixed-base path is compared with; P-256 only, ``verify (cryptography)``:
  ``cryptography``'s verify of the same signature, the baseline of the key tables;
* ``pure Python``: ``gmssl`` (SM2) and ``ecdsa`` (P-256), the test-only cross-check libraries;
* GB/T 32960-2025: real-time reports through the platform session (decode, login check,
  dedupe, store in memory), SM2-signed and verified against the VIN's key, beside the same
  reports unsigned with no check.

Rates are per CPU second of this process (``time.process_time``: other load on the machine
does not count against it, one thread). Each figure is the best of ``--repeat`` rounds of
``--seconds`` (CPU) each, the rows taking turns within a round::

    python benchmarks/security_crypto.py [--seconds 0.5] [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from ecdsa import NIST256p
from ecdsa import SigningKey as EcdsaSigningKey
from ecdsa.util import sigdecode_string, sigencode_string
from gmssl import sm2 as gm_sm2

from v2xcloud.ev.codec import Message, encode
from v2xcloud.ev.commands import VehicleLogin
from v2xcloud.ev.realtime import encode_report
from v2xcloud.ev.session import PlatformSession, SessionRegistry
from v2xcloud.ev.sink import MemoryReportSink
from v2xcloud.ev.vehicle_sim import SimulatedVehicle
from v2xcloud.model.ev import EvSignature
from v2xcloud.security._openssl import OPENSSL_VERSION, sm2_public_key
from v2xcloud.security._p256_fixed import TABLE_AFTER_USES
from v2xcloud.security.crypto import Verifier, generate_signer, sm2_z, sm3
from v2xcloud.security.terminal_keys import TerminalSignatures
from v2xcloud.security.types import SignatureAlgorithm

__all__ = ["main"]

MESSAGE = bytes(range(256))[:120]  # about a signed BSM's to-be-signed data


def _once(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of ``fn`` over about ``seconds`` of CPU time."""
    n, began = 0, time.process_time()
    deadline = began + seconds
    while True:
        for _ in range(10):
            fn()
        n += 10
        now = time.process_time()
        if now >= deadline:
            return n / (now - began)


def _rates(fns: dict[str, Callable[[], object]], seconds: float, repeat: int) -> dict[str, float]:
    """Best calls per second of each function; the functions take turns in each of ``repeat``
    rounds, so a burst of load elsewhere on the machine hits them all alike. Pure-Python rows
    run one round (they are slower by orders of magnitude)."""
    best = dict.fromkeys(fns, 0.0)
    for round_ in range(repeat):
        for label, fn in fns.items():
            if round_ == 0 or "pure Python" not in label:
                best[label] = max(best[label], _once(fn, seconds))
    return best


def _first_use(algorithm: SignatureAlgorithm, count: int) -> Callable[[], object]:
    """A call that verifies with a key the verifier has not prepared yet (cycled)."""
    signers = [generate_signer(algorithm) for _ in range(count)]
    pairs = [(s.public_key, s.sign(MESSAGE)) for s in signers]
    state = {"i": 0, "verifier": Verifier(algorithm, cache_size=count)}

    def call() -> object:
        i = state["i"] = (state["i"] + 1) % count  # type: ignore[operator]
        if i == 0:
            state["verifier"] = Verifier(algorithm, cache_size=count)
        key, sig = pairs[i]  # type: ignore[index]
        return state["verifier"].verify(key, MESSAGE, sig)  # type: ignore[attr-defined]

    return call


def _sm2_rows(seconds: float, repeat: int) -> dict[str, float]:
    alg = SignatureAlgorithm.SM2_SM3
    signer = generate_signer(alg)
    sig = signer.sign(MESSAGE)
    verifier = Verifier(alg)
    assert verifier.verify(signer.public_key, MESSAGE, sig)
    evp = sm2_public_key(signer.public_key)
    z = hashlib.new("sm3", sm2_z(signer.public_key))

    def evp_verify() -> bool:
        h = z.copy()
        h.update(MESSAGE)
        return evp.verify_digest(h.digest(), sig)

    assert evp_verify()
    gm = gm_sm2.CryptSM2(
        private_key=signer.private_raw().hex(), public_key=signer.public_key[1:].hex()
    )
    gm_sig = sig.hex()
    assert gm.verify_with_sm3(gm_sig, MESSAGE)
    fns: dict[str, Callable[[], object]] = {
        "sign": lambda: signer.sign(MESSAGE),
        "verify (hot key)": lambda: verifier.verify(signer.public_key, MESSAGE, sig),
        "verify (first use)": _first_use(alg, 200),
        "verify (OpenSSL EVP)": evp_verify,
        "sign (pure Python)": lambda: gm.sign_with_sm3(MESSAGE),
        "verify (pure Python)": lambda: gm.verify_with_sm3(gm_sig, MESSAGE),
    }
    return _rates(fns, seconds, repeat)


def _p256_rows(seconds: float, repeat: int) -> dict[str, float]:
    alg = SignatureAlgorithm.ECDSA_P256_SHA256
    signer = generate_signer(alg)
    sig = signer.sign(MESSAGE)
    verifier = Verifier(alg)
    hot = verifier.prepare(signer.public_key)
    for _ in range(TABLE_AFTER_USES):  # the key's table is built in the background from here
        hot.verify(MESSAGE, sig)
    deadline = time.monotonic() + 30
    while not hot._key.has_table and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    theirs = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), signer.public_key)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    sk = EcdsaSigningKey.from_string(signer.private_raw(), curve=NIST256p)
    vk = sk.get_verifying_key()
    assert vk.verify(sig, MESSAGE, hashfunc=hashlib.sha256, sigdecode=sigdecode_string)
    fns: dict[str, Callable[[], object]] = {
        "sign": lambda: signer.sign(MESSAGE),
        "verify (hot key)": lambda: verifier.verify(signer.public_key, MESSAGE, sig),
        "verify (first use)": _first_use(alg, 200),
        "verify (cryptography)": lambda: theirs.verify(der, MESSAGE, ec.ECDSA(hashes.SHA256())),
        "sign (pure Python)": lambda: sk.sign(
            MESSAGE, hashfunc=hashlib.sha256, sigencode=sigencode_string
        ),
        "verify (pure Python)": lambda: vk.verify(
            sig, MESSAGE, hashfunc=hashlib.sha256, sigdecode=sigdecode_string
        ),
    }
    return _rates(fns, seconds, repeat)


def _gb32960_rows(repeat: int, count: int = 300) -> dict[str, float]:
    """Reports per second through ``PlatformSession``: signed + verified vs unsigned."""
    signer = generate_signer(SignatureAlgorithm.SM2_SM3)
    vin, t0 = "LBENCH00000000001", 1_700_000_000_000
    car = SimulatedVehicle(vin, seed=3, start_ms=t0)
    unsigned, signed = [], []
    for _ in range(count):
        report = msgspec.structs.replace(car.step(), layout=2025, signature=None)
        unsigned.append(encode(Message(command=0x02, vin=vin, body=report, layout=2025)))
        sig = signer.sign(encode_report(report))
        block = EvSignature(algorithm=1, r=sig[:32], s=sig[32:])
        body = msgspec.structs.replace(report, signature=block)
        signed.append(encode(Message(command=0x02, vin=vin, body=body, layout=2025)))
    login = encode(
        Message(
            command=0x01, vin=vin, body=VehicleLogin(at_ms=t0, serial=1, iccid="8986"), layout=2025
        )
    )

    def run(frames: list[bytes], check: TerminalSignatures | None) -> float:
        session = PlatformSession(
            SessionRegistry(),
            report_sink=MemoryReportSink(),
            monitor=None,
            clock=lambda: t0,
            signatures=check,
        )
        session.handle(login)
        began = time.process_time()
        for frame in frames:
            session.handle(frame)
        rate = len(frames) / (time.process_time() - began)
        assert session.registry.stats["reports_stored"] == len(frames), session.registry.stats
        return rate

    check = TerminalSignatures({vin: signer.public_key})
    best = {"reports, SM2-signed, verified": 0.0, "reports, unsigned, no check": 0.0}
    for _ in range(repeat):
        best["reports, SM2-signed, verified"] = max(
            best["reports, SM2-signed, verified"], run(signed, check)
        )
        best["reports, unsigned, no check"] = max(
            best["reports, unsigned, no check"], run(unsigned, None)
        )
    return best


def main() -> None:
    """Print the per-algorithm table and the same-run ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (best kept)")
    args = parser.parse_args()
    print(
        f"{OPENSSL_VERSION}; SM3 via hashlib: {sm3(b'abc').hex()[:16]}...; one process, one thread"
    )
    for name, rows in (
        ("SM2-SM3", _sm2_rows(args.seconds, args.repeat)),
        ("ECDSA-P256-SHA256", _p256_rows(args.seconds, args.repeat)),
    ):
        print(f"\n{name}")
        for label, rate in rows.items():
            print(f"  {label:<24} {rate:>10,.0f} /s   {1e6 / rate:>9,.1f} us")
        print(
            f"  native/pure-Python verify  {rows['verify (hot key)'] / rows['verify (pure Python)']:>8,.0f}x"
        )
        print(f"  native/pure-Python sign    {rows['sign'] / rows['sign (pure Python)']:>8,.0f}x")
        for base in ("OpenSSL EVP", "cryptography"):
            if f"verify ({base})" in rows:
                ratio = rows["verify (hot key)"] / rows[f"verify ({base})"]
                print(f"  hot-key tables / {base} verify {ratio:>5.2f}x")
    rows = _gb32960_rows(args.repeat)
    print("\nGB/T 32960-2025 reports through PlatformSession (one VIN, its key hot)")
    for label, rate in rows.items():
        print(f"  {label:<32} {rate:>10,.0f} /s   {1e6 / rate:>9,.1f} us")
    signed, plain = rows["reports, SM2-signed, verified"], rows["reports, unsigned, no check"]
    print(f"  verification share of the signed path  {1 - signed / plain:>6.0%}")


if __name__ == "__main__":
    main()
