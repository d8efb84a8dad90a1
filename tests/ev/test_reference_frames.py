"""The real GB/T 32960 frames in ../shared/reference decode to checked values and round-trip."""

from __future__ import annotations

import datetime as dt

import pytest

from v2xcloud.errors import Gb32960Error
from v2xcloud.ev.codec import decode, encode
from v2xcloud.ev.frame import decode_frame
from v2xcloud.ev.realtime import decode_report, encode_report
from v2xcloud.model.ev import EvReport


def _utc_ms(*beijing: int) -> int:
    t = dt.datetime(*beijing, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return int(t.timestamp()) * 1000


def _report(frame: bytes, *, lenient: bool = False) -> EvReport:
    body = decode(frame, lenient=lenient).body
    assert isinstance(body, EvReport)
    return body


def test_all_2016_frames_decode_and_reencode_byte_exact(frames_2016: list[bytes]) -> None:
    assert len(frames_2016) == 4
    for frame in frames_2016:
        msg = decode(frame)
        assert msg.command == 0x02 and msg.response == 0xFE and msg.layout == 2016
        assert encode(msg) == frame


def test_first_frame_values(frames_2016: list[bytes]) -> None:
    r = _report(frames_2016[0])
    assert r.vin == "LSJE24066JG229589"
    assert r.collected_at_ms == _utc_ms(2020, 9, 8, 18, 17, 12)
    v = r.vehicle
    assert v is not None
    assert (v.vehicle_state, v.charge_state, v.run_mode) == (2, 1, 1)
    assert v.speed_kmh == 0.0 and v.odometer_km == 20478.0
    assert v.total_voltage_v == 371.2 and v.total_current_a == -8.5
    assert v.soc_pct == 69 and v.insulation_kohm == 5085
    assert r.position is not None and r.position.is_valid
    assert r.position.lon_deg == pytest.approx(121.118471) and r.position.lat_deg == pytest.approx(
        30.985356
    )
    x = r.extremes
    assert x is not None
    assert (x.max_voltage_cell, x.max_cell_voltage_v, x.min_voltage_cell, x.min_cell_voltage_v) == (
        62,
        3.872,
        12,
        3.863,
    )
    assert (x.max_temp_c, x.min_temp_c) == (38, 36)
    assert r.alarm is not None and r.alarm.max_level == 0 and r.alarm.flag_names == ()
    (pack,) = r.cell_voltages
    assert (pack.cell_count, pack.first_cell, len(pack.cell_voltages_v)) == (96, 1, 96)
    assert max(pack.cell_voltages_v) == 3.872  # agrees with the extremes unit
    assert min(pack.cell_voltages_v) == 3.863
    (temps,) = r.probe_temps
    assert len(temps.temps_c) == 16 and max(temps.temps_c) == 38


def test_second_frame_level3_alarm_and_motor(frames_2016: list[bytes]) -> None:
    r = _report(frames_2016[1])
    assert r.alarm is not None and r.alarm.max_level == 3
    assert "temperature_difference" in r.alarm.flag_names
    assert "battery_high_temperature" in r.alarm.flag_names
    (m,) = r.motors
    assert (m.seq, m.state, m.controller_temp_c, m.speed_rpm, m.torque_nm, m.temp_c) == (
        1,
        1,
        49,
        443,
        1.5,
        34,
    )
    assert (m.controller_voltage_v, m.controller_current_a) == (389.0, 0.0)
    assert (
        r.vehicle is not None and r.vehicle.speed_kmh == 6.4 and r.vehicle.total_current_a == 11.3
    )
    assert r.cell_voltages[0].cell_count == 108


def test_invalid_marker_becomes_none(frames_2016: list[bytes]) -> None:
    r = _report(frames_2016[2])
    assert r.motors[0].state is None  # 0xFF on the wire
    assert r.vehicle is not None and r.vehicle.brake_pct == 18


def test_short_frame_without_battery_units(frames_2016: list[bytes]) -> None:
    r = _report(frames_2016[3])
    assert r.vehicle is not None and r.vehicle.odometer_km == 540.5
    assert r.cell_voltages == () and r.extremes is None and r.alarm is None


def test_2025_frame_rejected_for_bcc_but_layout_parses_leniently(frame_2025: bytes) -> None:
    with pytest.raises(Gb32960Error) as err:
        decode(frame_2025)
    assert err.value.reason == "bcc_mismatch" and err.value.where == f"byte {len(frame_2025) - 1}"
    msg = decode(frame_2025, lenient=True)
    assert msg.layout == 2025 and not msg.is_bcc_ok
    r = _report(frame_2025, lenient=True)
    assert r.vehicle is not None
    assert r.vehicle.total_voltage_v == 713.8 and r.vehicle.total_current_a == 2.2  # -3000 A offset
    assert r.vehicle.accelerator_pct is None  # no pedals in 2025
    assert [m.torque_nm for m in r.motors] == [0.0, -0.5]
    assert r.position is not None and r.position.coordinate_system == 2 and not r.position.is_valid
    assert r.alarm is not None and len(r.alarm.other_faults) == 3
    assert r.cell_voltages[0].cell_count == 180 and len(r.probe_temps[0].temps_c) == 48
    assert [(u.unit_id, len(u.data), u.is_tail) for u in r.raw_units] == [(0x82, 35, False)]
    assert r.signature is not None and r.signature.algorithm == 2
    assert (len(r.signature.r), len(r.signature.s)) == (256, 0)
    frame = decode_frame(frame_2025, lenient=True)
    assert encode_report(r) == frame.data


def test_report_decoder_offsets_are_absolute(frames_2016: list[bytes]) -> None:
    frame = decode_frame(frames_2016[0])
    with pytest.raises(Gb32960Error) as err:
        decode_report(frame.data[:40], vin=frame.vin)
    assert err.value.reason == "truncated"
    assert err.value.where is not None and int(err.value.where.split()[1]) >= 24 + 6
