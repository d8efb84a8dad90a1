"""Encode -> decode round trips for every command, both layouts, and the unit edge cases."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2xcloud.errors import Gb32960Error
from v2xcloud.ev._wire import error_offset
from v2xcloud.ev.codec import Message, decode, encode, to_json_dict
from v2xcloud.ev.commands import (
    Ack,
    Activation,
    ActivationResult,
    KeySync,
    Logout,
    PlatformLogin,
    VehicleLogin,
)
from v2xcloud.ev.frame import encode_frame
from v2xcloud.ev.vehicle_sim import SimulatedVehicle
from v2xcloud.model.ev import EvEngine, EvFuelCell, EvRawUnit, EvReport, EvSignature, EvTableUnit

VIN = "LTEST000000000001"
T0 = 1_700_000_000_000


def _sim_report(seed: int = 3) -> EvReport:
    return SimulatedVehicle(VIN, seed=seed, start_ms=T0).step()


BODIES_2016 = [
    (
        0x01,
        VehicleLogin(
            at_ms=T0, serial=7, iccid="89860012345678901234", pack_codes=(("PACK-A",), ("PACK-B",))
        ),
    ),
    (0x04, Logout(at_ms=T0, serial=7)),
    (0x05, PlatformLogin(at_ms=T0, serial=2, user="operator", password="secret", encryption=1)),
    (0x06, Logout(at_ms=T0, serial=2)),
    (0x07, None),
    (0x08, None),
]
BODIES_2025 = [
    (
        0x01,
        VehicleLogin(
            at_ms=T0, serial=1, iccid="89860012345678901234", pack_codes=(("A1", "A2"), ("B1",))
        ),
    ),
    (
        0x09,
        Activation(
            at_ms=T0,
            chip_id="CHIP000000000001",
            public_key=bytes(64),
            vin=VIN,
            signature=EvSignature(algorithm=1, r=bytes(range(32)), s=bytes(range(32, 64))),
        ),
    ),
    (0x0A, ActivationResult(result=1, info=3)),
    (0x0B, KeySync(encryption=5, key=bytes(16), valid_from_ms=T0, valid_to_ms=T0 + 86_400_000)),
]


@pytest.mark.parametrize(
    ("layout", "command", "body"),
    [(2016, c, b) for c, b in BODIES_2016] + [(2025, c, b) for c, b in BODIES_2025],
)
def test_command_round_trip(layout: int, command: int, body: object) -> None:
    msg = Message(command=command, vin=VIN, body=body, layout=layout)  # type: ignore[arg-type]
    frame = encode(msg)
    assert decode(frame) == msg
    assert encode(decode(frame)) == frame


def test_ack_round_trip() -> None:
    msg = Message(command=0x02, vin=VIN, response=0x01, body=Ack(at_ms=T0))
    assert decode(encode(msg)) == msg


def test_report_round_trip_2016() -> None:
    report = _sim_report()
    fc = EvFuelCell(
        voltage_v=300.5,
        current_a=12.0,
        consumption_kg_per_100km=1.25,
        probe_temps_c=(20, None, 22),
        max_h2_temp_c=35.5,
        max_h2_temp_probe=2,
        max_h2_concentration_ppm=120,
        max_h2_concentration_sensor=1,
        max_h2_pressure_mpa=35.0,
        max_h2_pressure_sensor=3,
        dcdc_state=1,
    )
    report = msgspec.structs.replace(
        report,
        fuel_cell=fc,
        engine=EvEngine(state=1, crank_speed_rpm=1500, fuel_consumption_l_per_100km=5.5),
        raw_units=(EvRawUnit(unit_id=0x90, data=b"oem"),),
    )
    msg = Message(command=0x02, vin=VIN, body=report)
    assert decode(encode(msg)) == msg


def test_report_round_trip_2025_with_table_units_and_signature() -> None:
    report = msgspec.structs.replace(
        _sim_report(),
        layout=2025,
        extremes=None,
        engine=EvEngine(crank_speed_rpm=900),
        table_units=(
            EvTableUnit(
                unit_id=0x30,
                name="fuel_cell_stacks",
                fields={},
                items=(
                    {
                        "seq": 1.0,
                        "voltage_v": 250.5,
                        "current_a": 100.0,
                        "h2_inlet_pressure_kpa": 150.0,
                        "air_inlet_pressure_kpa": 120.0,
                        "coolant_outlet_temp_c": 65.0,
                    },
                ),
            ),
        ),
        signature=EvSignature(algorithm=1, r=bytes(32), s=bytes(32)),
    )
    report = msgspec.structs.replace(
        report,
        motors=tuple(
            msgspec.structs.replace(m, controller_voltage_v=None, controller_current_a=None)
            for m in report.motors
        ),
        vehicle=msgspec.structs.replace(report.vehicle, accelerator_pct=None, brake_pct=None),
    )
    msg = Message(
        command=0x03, vin=VIN, body=msgspec.structs.replace(report, is_resent=True), layout=2025
    )
    assert decode(encode(msg)) == msg


def test_unknown_unit_kept_as_opaque_tail() -> None:
    report = msgspec.structs.replace(
        _sim_report(), raw_units=(EvRawUnit(unit_id=0x0A, data=b"\x01\x02\x03", is_tail=True),)
    )
    out = decode(encode(Message(command=0x02, vin=VIN, body=report))).body
    assert isinstance(out, EvReport) and out.raw_units == report.raw_units


def test_oem_unit_with_overlong_length_is_kept_as_tail() -> None:
    data = bytes((23, 11, 14, 12, 0, 0)) + b"\x85\x00\xff\x01\x02"
    out = decode(encode_frame(command=0x02, vin=VIN, data=data)).body
    assert isinstance(out, EvReport)
    assert out.raw_units == (EvRawUnit(unit_id=0x85, data=b"\x00\xff\x01\x02", is_tail=True),)


def test_markers_become_none() -> None:
    vehicle = (
        bytes((0xFE, 0xFF, 1))
        + b"\xff\xfe"
        + b"\xff\xff\xff\xff"
        + b"\xff\xff"
        + b"\xff\xfe"
        + bytes((0xFE, 1, 0))
        + b"\xff\xff"
        + bytes((0, 0))
    )
    data = bytes((23, 11, 14, 12, 0, 0)) + b"\x01" + vehicle
    out = decode(encode_frame(command=0x02, vin=VIN, data=data)).body
    assert isinstance(out, EvReport) and out.vehicle is not None
    v = out.vehicle
    assert (v.vehicle_state, v.charge_state, v.run_mode) == (None, None, 1)
    assert v.speed_kmh is None and v.odometer_km is None and v.total_voltage_v is None
    assert v.total_current_a is None and v.soc_pct is None and v.insulation_kohm is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes((23, 13, 1, 0, 0, 0)), "bad_time"),
        (bytes((23, 11, 14, 12, 0, 0)) + b"\x01\x01", "truncated"),
        (bytes((23, 11, 14, 12, 0, 0)) + b"\x05" + bytes(9) + b"\x05" + bytes(9), "bad_unit"),
    ],
)
def test_report_rejections(data: bytes, reason: str) -> None:
    with pytest.raises(Gb32960Error) as err:
        decode(encode_frame(command=0x02, vin=VIN, data=data))
    assert err.value.reason == reason and (error_offset(err.value) or 0) >= 24


def test_encrypted_body_kept_raw_and_json_dict() -> None:
    msg = decode(encode_frame(command=0x02, vin=VIN, data=b"\x99" * 8, encryption=0x03))
    assert msg.body == b"\x99" * 8
    assert to_json_dict(msg)["body"] == "99" * 8


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 5), resent=st.booleans())
def test_simulated_reports_round_trip_both_ways(seed: int, steps: int, resent: bool) -> None:
    v = SimulatedVehicle(VIN, seed=seed, start_ms=T0)
    for _ in range(steps):
        report = v.step()
    msg = Message(
        command=0x03 if resent else 0x02,
        vin=VIN,
        body=msgspec.structs.replace(report, is_resent=resent),
    )
    frame = encode(msg)
    assert decode(frame) == msg
    assert encode(decode(frame)) == frame


def test_oem_unit_without_length_falls_back_to_tail() -> None:
    # 2016 terminals often omit the OEM length: 0x80 then raw bytes, whose first two bytes
    # (0x0003) look like a length and would leave "\x09\xff" to parse as a broken 0x09 unit.
    oem = b"\x80\x00\x03\x01\x02\x03\x09\xff"
    data = bytes((23, 11, 14, 12, 0, 0)) + oem
    out = decode(encode_frame(command=0x02, vin=VIN, data=data)).body
    assert isinstance(out, EvReport)
    assert out.raw_units == (EvRawUnit(unit_id=0x80, data=oem[1:], is_tail=True),)


def test_vin_with_nul_padding_is_accepted() -> None:
    vin = "LTEST0000000\x00\x00\x00\x00\x00"
    assert decode(encode_frame(command=0x07, vin=vin, data=b"")).vin == vin
