"""``v2xcloud pki``, ``v2xcloud sign`` and ``v2xcloud verify``: a test PKI and signed frames.

``pki init DIR [--profile cn|intl] [--devices ID,...]`` writes a test PKI (root, enrolment and
pseudonym CAs, per device an enrolment and a pseudonym certificate, the platform's signing
certificate, keys, ``manifest.json`` and the MQTT mTLS certificates under ``tls/``; see
``security.pki``). ``pki revoke DIR NAME...`` puts certificates (by name, or all of a device)
on its revocation list.

``sign --pki DIR --device ID FILE|-`` reads hex lines of UPER MessageFrames and prints one hex
line per signed secured frame (generation time: now; AID: the message type's; the device's
pseudonym certificate by digest, or in full every ``--certificate-every`` frames).

``verify --pki DIR FILE|-`` reads hex lines of secured frames and prints one JSON object per
frame — ``{"verified": true, "device": ..., "signer": ..., "aid": ..., "payload": hex}`` or
``{"rejected": true, "reason": ..., "detail": ..., "where": ..., "line": N}`` — and goes on
after a bad one. Both stream their input a line at a time.

Exit status: 0 all went fine; 1 some frame was rejected (``verify``) or could not be signed
(``sign``, the reason on stderr); 2 usage or configuration error (no PKI, unknown device).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, TextIO

import msgspec

from v2xcloud.errors import ConfigError, EncodeError, FramingError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Attach ``pki``, ``sign`` and ``verify``."""
    pki = sub.add_parser("pki", help="create or change a test PKI for signed C-V2X frames")
    pki_sub = pki.add_subparsers(dest="pki_command", metavar="ACTION", required=True)
    init = pki_sub.add_parser("init", help="create a test PKI in an empty directory")
    init.add_argument("dir", help="directory to create it in")
    init.add_argument(
        "--profile",
        choices=("cn", "intl"),
        default="cn",
        help="cn: SM2/SM3 (YD/T 3957); intl: ECDSA-P256/SHA-256 (IEEE 1609.2)",
    )
    init.add_argument(
        "--devices",
        default="obu-1,rsu-1",
        help="comma-separated device ids (ids starting 'rsu' are RSUs)",
    )
    init.add_argument(
        "--region",
        default=None,
        metavar="LAT,LON,RADIUS_KM",
        help="a circle every certificate is limited to (default: a box around China)",
    )
    init.add_argument(
        "--pseudonym-days", type=int, default=30, help="validity of pseudonym certificates"
    )
    init.add_argument("--no-tls", action="store_true", help="skip the MQTT mTLS certificates")
    init.set_defaults(func=_pki_init)
    rev = pki_sub.add_parser("revoke", help="put certificates on the PKI's revocation list")
    rev.add_argument("dir", help="the PKI directory (from pki init)")
    rev.add_argument("names", nargs="+", help="certificate names or device ids")
    rev.add_argument("--at-ms", type=int, default=None, help="revoked from (UTC ms; default now)")
    rev.set_defaults(func=_pki_revoke)

    sign = sub.add_parser("sign", help="sign UPER frames (hex lines) as a device of a PKI")
    sign.add_argument("--pki", required=True, metavar="DIR", help="the PKI directory")
    sign.add_argument("--device", required=True, help="device id, or 'platform'")
    sign.add_argument(
        "--role",
        choices=("pseudonym", "enrolment"),
        default="pseudonym",
        help="which of the device's certificates signs",
    )
    sign.add_argument(
        "--certificate-every",
        type=int,
        default=0,
        metavar="N",
        help="send the full certificate every N frames (0: only the digest)",
    )
    sign.add_argument("--aid", type=int, default=None, help="AID (default: the message type's)")
    sign.add_argument(
        "--no-location", action="store_true", help="leave the generation location out of the header"
    )
    sign.add_argument(
        "--set", dest="message_set", default="csae2020", help="message set of the frames"
    )
    sign.add_argument("file", help="file of hex lines, or - for stdin")
    sign.set_defaults(func=_sign)

    verify = sub.add_parser("verify", help="verify signed frames (hex lines) against a PKI")
    verify.add_argument("--pki", required=True, metavar="DIR", help="the PKI directory")
    verify.add_argument(
        "--policy",
        default="require",
        help="require (default), verify-if-signed or off; per kind: 'require,radar=off'",
    )
    verify.add_argument("--kind", default="obu", help="the senders' device kind for the policy")
    verify.add_argument("--window-ms", type=int, default=5_000, help="oldest generation time taken")
    verify.add_argument("--future-ms", type=int, default=1_000, help="tolerated clock lead")
    verify.add_argument(
        "--now-ms",
        type=int,
        default=None,
        help="judge as at this time (UTC ms; default the clock at each frame)",
    )
    verify.add_argument(
        "--set", dest="message_set", default="csae2020", help="message set of the frames"
    )
    verify.add_argument("file", help="file of hex lines, or - for stdin")
    verify.set_defaults(func=_verify)


@contextlib.contextmanager
def _opened(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdin
        return
    try:
        handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(f"cannot read {path!r}: {exc.strerror}") from exc
    with handle:
        yield handle


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _region(text: str | None) -> Any:
    from v2xcloud.security.pki import CHINA
    from v2xcloud.security.types import CircularRegion, GeoPoint

    if text is None:
        return CHINA
    try:
        lat, lon, km = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ConfigError(
            f"--region {text!r}: write LAT,LON,RADIUS_KM, e.g. 28.19,112.97,50"
        ) from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < km <= 65.535):
        raise ConfigError(
            f"--region {text!r}: degrees out of range or radius not in (0, 65.535] km"
        )
    return CircularRegion(center=GeoPoint(lat, lon), radius_m=km * 1000)


def _pki_init(args: argparse.Namespace) -> int:
    from v2xcloud.security.pki import init_pki
    from v2xcloud.security.types import SecurityProfile

    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    pki = init_pki(
        args.dir,
        profile=SecurityProfile(args.profile),
        devices=devices,
        now_ms=_now_ms(),
        region=_region(args.region),
        pseudonym_days=args.pseudonym_days,
        with_tls=not args.no_tls,
    )
    for name in pki.names():
        cert = pki.certificate(name)
        digest = cert.digest.hex() if cert.digest else "?"
        print(f"pki: {name:<24} {digest}  certs/{name}.cert  keys/{name}.pem")
    print(f"pki: {args.profile} PKI for {', '.join(pki.devices)} in {args.dir} (manifest.json)")
    return 0


def _pki_revoke(args: argparse.Namespace) -> int:
    from v2xcloud.security.pki import revoke

    at_ms = args.at_ms if args.at_ms is not None else _now_ms()
    added = revoke(args.dir, args.names, at_ms=at_ms)
    print(f"pki: {len(added)} certificate(s) revoked from {at_ms} ms: {' '.join(added)}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    from v2xcloud.codec import iter_hex_lines, message_set_of
    from v2xcloud.security.pki import load_pki
    from v2xcloud.security.signing import FrameSigner

    if args.certificate_every < 0:
        raise ConfigError("--certificate-every must be 0 or more")
    signer = FrameSigner.for_device(
        load_pki(args.pki),
        args.device,
        role=args.role,
        message_set=message_set_of(args.message_set),
        certificate_every=args.certificate_every,
    )
    failed = 0
    with _opened(args.file) as stream:
        for line_no, frame in iter_hex_lines(stream):
            try:
                if isinstance(frame, FramingError):
                    raise frame
                signed = signer.sign(
                    frame,
                    generation_time_ms=_now_ms(),
                    aid=args.aid,
                    with_location=not args.no_location,
                )
            except (FramingError, EncodeError, ConfigError) as exc:
                failed += 1
                print(f"sign: line {line_no}: {exc}", file=sys.stderr)
                continue
            print(signed.hex())
    if failed:
        print(f"sign: {failed} line(s) not signed", file=sys.stderr)
    return 1 if failed else 0


def _verify(args: argparse.Namespace) -> int:
    from v2xcloud.codec import iter_hex_lines, message_set_of
    from v2xcloud.security.pki import load_pki
    from v2xcloud.security.verify import Policy, Verified, stage_from_pki

    stage = stage_from_pki(
        load_pki(args.pki),
        policy=Policy.parse(args.policy),
        window_ms=args.window_ms,
        future_ms=args.future_ms,
        message_set=message_set_of(args.message_set),
    )
    reasons: Counter[str] = Counter()
    out = sys.stdout
    with _opened(args.file) as stream:
        for line_no, frame in iter_hex_lines(stream):
            if isinstance(frame, FramingError):
                doc: dict[str, Any] = {"rejected": True, "reason": frame.reason.value,
                                       "detail": frame.detail, "where": frame.where}  # fmt: skip
            else:
                now = args.now_ms if args.now_ms is not None else _now_ms()
                result = stage.process(frame, kind=args.kind, now_ms=now)
                doc = _verified(result) if isinstance(result, Verified) else {
                    "rejected": True, "reason": result.reason.value,
                    "detail": result.detail, "where": result.where,
                }  # fmt: skip
            doc["line"] = line_no
            if doc.get("rejected"):
                reasons[doc["reason"]] += 1
            out.write(msgspec.json.encode(doc).decode() + "\n")
    if reasons:
        summary = ", ".join(f"{r} {n}" for r, n in reasons.most_common())
        print(f"verify: {sum(reasons.values())} rejected ({summary})", file=sys.stderr)
    return 1 if reasons else 0


def _verified(result: Any) -> dict[str, Any]:
    return {
        "verified": result.is_signed,
        "unsigned": not result.is_signed,
        "device": result.device,
        "signer": result.signer.hex() if result.signer is not None else None,
        "aid": result.aid,
        "profile": result.profile.value if result.profile is not None else None,
        "generation_time_ms": result.generation_time_ms,
        "payload": result.payload.hex(),
    }
