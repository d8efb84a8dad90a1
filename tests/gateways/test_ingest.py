"""The ingest path without a network: device checks, rate limits, drivers, health."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from v2xcloud.codec import MessageSet, encode_model, iter_capture_lines
from v2xcloud.errors import ConfigError
from v2xcloud.gateways.base import DeviceKind, InboundFrame, IngressQueue
from v2xcloud.gateways.ingest import Ingestor
from v2xcloud.gateways.registry import DeviceRegistry, load_devices_file
from v2xcloud.model import DeadLetter, Device, DropReason
from v2xcloud.runtime import Passed, Runtime
from v2xcloud.twin.testing import TEST_FRAME, bsm_at


def _pid(name: str) -> str:
    """A participant id on the wire is 8 bytes (16 hex digits)."""
    return name.encode().hex().ljust(16, "0")[:16]


def _bsm(pid: str, t_ms: int, message_set: MessageSet = MessageSet.CSAE2020) -> bytes:
    return encode_model(
        bsm_at(_pid(pid), x_m=0.0, y_m=5.0, t_ms=t_ms, speed_mps=8.0), message_set=message_set
    )


def _frame(
    device: str, kind: DeviceKind, mtype: str, payload: bytes, t_ms: int, sender: str | None = None
) -> InboundFrame:
    return InboundFrame(
        payload=payload,
        device_id=device,
        device_kind=kind,
        message_type=mtype,
        transport="mqtt",
        channel=f"V2X/{kind.name}/{device}/{mtype}/UP",
        received_at_ms=t_ms,
        sender_id=sender,
    )


@pytest.fixture
def setup() -> tuple[Runtime, DeviceRegistry, Ingestor, list[DeadLetter]]:
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=())
    registry = DeviceRegistry()
    registry.add(Device(device_id="car-1", kind=DeviceKind.OBU))
    registry.add(Device(device_id="car-2", kind=DeviceKind.OBU))
    registry.add(Device(device_id="R1", kind=DeviceKind.RSU, lat_deg=28.19, lon_deg=112.97))
    letters: list[DeadLetter] = []
    return runtime, registry, Ingestor(runtime, registry, dead_letter=letters.append), letters


def test_a_registered_obu_bsm_reaches_the_scene(setup) -> None:  # type: ignore[no-untyped-def]
    runtime, _, ingest, letters = setup
    t = 1_700_000_000_000
    q = IngressQueue()
    q.put(_frame("car-1", DeviceKind.OBU, "BSM", _bsm("car-1", t), t))
    assert ingest.drain(q) == 1 and letters == []
    runtime.tick(t + 100)
    assert runtime.view is not None and runtime.view.row_of(_pid("car-1")) is not None
    snap = ingest.health.snapshot("car-1", t + 100)
    assert snap["online"] and snap["messages"] == {"BSM": 1}


def test_unknown_device_rejected_and_logged_by_default(setup, caplog) -> None:  # type: ignore[no-untyped-def]
    _, registry, ingest, letters = setup
    t = 1_700_000_000_000
    with caplog.at_level(logging.WARNING, logger="v2xcloud.gateways.ingest"):
        for _ in range(3):
            assert not ingest.process(_frame("stranger", DeviceKind.OBU, "BSM", _bsm("s", t), t))
    assert [d.reason for d in letters] == [DropReason.UNKNOWN_DEVICE] * 3
    assert ingest.counts["dropped.unknown_device"] == 3
    assert sum("stranger" in r.message for r in caplog.records) == 1  # logged once, counted 3x
    assert "stranger" not in registry


def test_allow_unknown_registers_the_device(setup) -> None:  # type: ignore[no-untyped-def]
    runtime, registry, _, letters = setup
    ingest = Ingestor(runtime, registry, dead_letter=letters.append, allow_unknown=True)
    t = 1_700_000_000_000
    assert ingest.process(_frame("stranger", DeviceKind.OBU, "BSM", _bsm("s", t), t))
    device = registry.get("stranger")
    assert device is not None and device.kind is DeviceKind.OBU and device.registered_ms == t
    assert letters == [] and ingest.counts["registered"] == 1


def test_disabled_and_identity_mismatch(setup) -> None:  # type: ignore[no-untyped-def]
    _, registry, ingest, letters = setup
    t = 1_700_000_000_000
    registry.disable("car-2")
    assert not ingest.process(_frame("car-2", DeviceKind.OBU, "BSM", _bsm("car-2", t), t))
    # car-1 (the transport vouches for it) publishing as R1
    assert not ingest.process(_frame("R1", DeviceKind.RSU, "RSM", b"x", t, sender="car-1"))
    # an OBU id on an RSU topic
    assert not ingest.process(_frame("car-1", DeviceKind.RSU, "RSM", b"x", t))
    assert [d.reason for d in letters] == [
        DropReason.DEVICE_DISABLED,
        DropReason.IDENTITY_MISMATCH,
        DropReason.IDENTITY_MISMATCH,
    ]
    assert "registered obu" in letters[2].detail


def map_2017(reference_dir: Path) -> bytes:
    """The real 2017 MAP frame of the vendor captures (../shared/reference)."""
    text = (reference_dir / "captures/csae53-2017-hisense-captures.txt").read_text("utf-8")
    return [f for _, fr in iter_capture_lines(text) for f in fr][-1].frame


def test_garbage_and_wrong_version_are_dead_letters_others_unaffected(  # type: ignore[no-untyped-def]
    setup, reference_dir: Path
) -> None:
    runtime, _, ingest, letters = setup
    t = 1_700_000_000_000
    assert not ingest.process(_frame("car-2", DeviceKind.OBU, "BSM", b"\xff\x00garbage", t))
    # R1 is registered csae2020 and sends a real T/CSAE 53-2017 MAP
    assert not ingest.process(_frame("R1", DeviceKind.RSU, "MAP", map_2017(reference_dir), t))
    assert ingest.process(_frame("car-1", DeviceKind.OBU, "BSM", _bsm("car-1", t), t))
    assert [(d.source, d.reason) for d in letters] == [
        ("car-2", DropReason.MALFORMED),
        ("R1", DropReason.WRONG_VERSION),  # a 2017 MAP on a csae2020 gateway
    ]
    assert letters[0].raw == b"\xff\x00garbage" and "csae2017" in letters[1].detail
    assert ingest.health.snapshot("R1", t)["dead_letters"] == {"wrong_version": 1}
    runtime.tick(t + 100)
    assert runtime.view is not None and runtime.view.row_of(_pid("car-1")) is not None


def test_flooding_device_is_throttled_and_flagged_others_not(setup) -> None:  # type: ignore[no-untyped-def]
    _, _, ingest, letters = setup
    t0 = 1_700_000_000_000
    payload = _bsm("car-2", t0)
    accepted = 0
    for i in range(1000):  # 1000 Hz for 1 s = 100x its 10 Hz
        t = t0 + i
        accepted += ingest.process(_frame("car-2", DeviceKind.OBU, "BSM", payload, t))
        if i % 100 == 0:
            assert ingest.process(_frame("car-1", DeviceKind.OBU, "BSM", _bsm("car-1", t), t))
    assert 20 <= accepted <= 45  # the 20/s bucket: 20 burst + 20/s refill
    assert {d.reason for d in letters} == {DropReason.RATE_LIMITED}
    assert all(d.source == "car-2" for d in letters)
    assert ingest.health.snapshot("car-2", t0 + 1000)["is_flooding"]
    assert not ingest.health.snapshot("car-1", t0 + 1000)["is_flooding"]


def test_heartbeat_and_info_update_health(setup) -> None:  # type: ignore[no-untyped-def]
    _, _, ingest, letters = setup
    t = 1_700_000_000_000
    assert ingest.process(_frame("R1", DeviceKind.RSU, "HB", b"{}", t))
    info = InboundFrame(
        payload=b'{"esn": "R1", "vendor": "acme"}',
        device_id="",
        device_kind=DeviceKind.RSU,
        message_type="INFO",
        transport="mqtt",
        channel="V2X/RSU/INFO/UP",
        received_at_ms=t + 5,
    )
    assert ingest.process(info)
    snap = ingest.health.snapshot("R1", t + 14_000)
    assert snap["online"] and snap["last_heartbeat_ms"] == t and snap["info"]["vendor"] == "acme"
    assert not ingest.health.snapshot("R1", t + 15_006)["online"]  # 15 s of silence
    assert letters == []


def test_devices_file_toml_and_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "d.toml"
    toml.write_text(
        '[[device]]\ndevice_id = "R9"\nkind = "rsu"\nlat_deg = 1.0\nlon_deg = 2.0\n'
        'message_set = "csae2017"\nshape = "uper"\n'
    )
    (device,) = load_devices_file(toml)
    assert device.device_id == "R9" and device.message_set == "csae2017"
    bad = tmp_path / "d.json"
    bad.write_text('{"devices": [{"device_id": "x", "kind": "toaster"}]}')
    with pytest.raises(ConfigError, match=r"device #1.*kind"):
        load_devices_file(bad)
    registry = DeviceRegistry(max_devices=1)
    registry.seed([device])
    with pytest.raises(ConfigError, match="max_devices"):
        registry.add(Device(device_id="R10", kind=DeviceKind.RSU))
    with pytest.raises(ConfigError, match="message set"):
        registry.update("R9", {"message_set": "csae1999"})
    with pytest.raises(ConfigError, match="vendor shape"):
        registry.update("R9", {"shape": "smoke-signals"})


class _Prefixed:
    """A frame guard: passes ``b"SIGNED:" + frame`` as the frame, refuses other OBU frames."""

    def check(
        self, raw: bytes, *, source: str, kind: str, now_ms: int
    ) -> Passed | bytes | DeadLetter:
        if raw.startswith(b"SIGNED:"):
            return Passed(payload=raw[7:], signer="00112233aabbccdd", device=source)
        if kind != "obu":
            return raw
        detail = "not signed"
        return DeadLetter(
            raw=raw, source=source, received_at_ms=now_ms, reason=DropReason.UNSIGNED, detail=detail
        )

    def stats(self) -> dict[str, int]:
        return {}


def test_a_frame_guard_runs_before_the_driver(setup) -> None:  # type: ignore[no-untyped-def]
    runtime, _, ingest, letters = setup
    runtime.guard = _Prefixed()
    digests: list[str | None] = []

    class Screen:  # refuses nothing; notes the certificate digest each report came with
        def screen(self, message, *, received_at_ms, source, certificate_digest=None):  # type: ignore[no-untyped-def]
            digests.append(certificate_digest)

        def is_flagged(self, sender: str) -> bool:
            return False

        def take_reports(self) -> list[object]:
            return []

        def stats(self) -> dict[str, int]:
            return {}

    runtime.screen = Screen()
    t = 1_700_000_000_000
    q = IngressQueue()
    q.put(_frame("car-1", DeviceKind.OBU, "BSM", b"SIGNED:" + _bsm("a", t), t))
    q.put(_frame("car-2", DeviceKind.OBU, "BSM", _bsm("b", t), t))
    ingest.drain(q)
    assert [(d.reason, d.source, d.raw) for d in letters] == [
        (DropReason.UNSIGNED, "car-2", _bsm("b", t))
    ]
    assert ingest.counts["dropped.unsigned"] == 1 and ingest.counts["guard.unwrapped"] == 1
    assert ingest.health.snapshot("car-2", t)["dead_letters"] == {"unsigned": 1}
    runtime.tick(t + 100)
    assert runtime.stats()["messages_in"] == {"Bsm": 1}
    assert digests == ["00112233aabbccdd"]  # the signer went with the report to the screen


def test_a_tenant_over_its_rate_is_refused_other_tenants_flow(tmp_path: Path) -> None:
    from v2xcloud.gateways.limits import load_tenant_limits

    limits_file = tmp_path / "tenants.toml"
    limits_file.write_text(
        "[default]\nmessages_per_s = 1000\n[tenants.fleet]\nmessages_per_s = 5\n"
    )
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=())
    registry = DeviceRegistry()
    for device_id, tenant in (("f1", "fleet"), ("f2", "fleet"), ("c1", "city")):
        registry.add(Device(device_id=device_id, kind=DeviceKind.OBU, tenant=tenant))
    letters: list[DeadLetter] = []
    ingest = Ingestor(
        runtime, registry, dead_letter=letters.append, tenant_limits=load_tenant_limits(limits_file)
    )
    t = 1_700_000_000_000
    for k in range(4):  # each fleet device within its own 20/s, the fleet together over 5/s
        for device_id in ("f1", "f2", "c1"):
            ingest.process(_frame(device_id, DeviceKind.OBU, "BSM", _bsm(f"{device_id}{k}", t), t))
    refused = [x for x in letters if x.reason is DropReason.RATE_LIMITED]
    assert len(refused) == 3 and {x.source for x in refused} <= {"f1", "f2"}
    assert "tenant 'fleet' over 5/s" in refused[0].detail
    assert ingest.tenant_limits is not None and ingest.tenant_limits.refused == {"fleet": 3}
    assert ingest.health.snapshot("c1", t)["dead_letters"] == {}
    t += 1000  # a second later the fleet has its rate again
    assert ingest.process(_frame("f1", DeviceKind.OBU, "BSM", _bsm("f1x", t), t))


@pytest.mark.parametrize(
    "text", ["[tenants.a]\nmessages_per_s = 0\n", "[default]\nrate = 3\n", "tenants = 3\n", "[x"]
)
def test_a_bad_tenant_limits_file_is_named(tmp_path: Path, text: str) -> None:
    from v2xcloud.gateways.limits import load_tenant_limits

    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="--tenant-limits"):
        load_tenant_limits(bad)
