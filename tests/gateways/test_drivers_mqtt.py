"""End to end: roadside radar frames in the OpenV2X emulator's JSON, published on
``V2X/RADAR/{id}/TRACK/UP`` to a real Mosquitto, reach the scene as participants at their true
positions (MqttGateway → IngressQueue → Ingestor: registry, rate limit, the device's driver →
Runtime); an unregistered radar, a malformed frame and a statistics frame are dead letters."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time

import msgspec

from v2xcloud.gateways.base import DeviceKind, IngressQueue
from v2xcloud.gateways.broker import Mosquitto
from v2xcloud.gateways.ingest import Ingestor
from v2xcloud.gateways.mqtt import MqttGateway
from v2xcloud.gateways.registry import DeviceRegistry
from v2xcloud.model import DeadLetter, Device, DropReason, ParticipantKind
from v2xcloud.runtime import Runtime
from v2xcloud.twin.testing import TEST_FRAME

from ._devices import Device as MqttDevice

CST = dt.timezone(dt.timedelta(hours=8))  # the emulator writes China Standard Time, no zone
# (target id, radar targetType, start x/y in the local frame (m), speed m/s, heading deg)
TARGETS = [
    (26219, 4, (40.0, -60.0), 8.0, 0.0),  # a car going north
    (26212, 1, (-12.0, 5.0), 1.2, 90.0),  # a pedestrian going east
    (26215, 42, (3.0, 30.0), 0.0, 180.0),  # an unknown class, standing
]
FRAMES = 5  # at 10 Hz


def _position(start: tuple[float, float], speed: float, heading: float, t_s: float) -> tuple:
    x = start[0] + speed * t_s * math.sin(math.radians(heading))
    y = start[1] + speed * t_s * math.cos(math.radians(heading))
    lat, lon = TEST_FRAME.to_wgs84(x, y)
    return float(lat), float(lon)


def _radar_frame(t0: dt.datetime, k: int) -> bytes:
    t_s = k * 0.1
    stamp = (t0 + dt.timedelta(seconds=t_s)).astimezone(CST)
    targets = []
    for target_id, kind, start, speed, heading in TARGETS:
        lat, lon = _position(start, speed, heading, t_s)
        targets.append(
            {
                "acceleration": 0.0,
                "confidenceLevel": 100,
                "headingAngle": heading,
                "height": 0.0,
                "laneNo": 2,
                "latitude": lat,
                "longitude": lon,
                "rcs": 1030473328,
                "speed": -speed,  # approaching the radar: the emulator's sign
                "targetHeight": 1.5,
                "targetId": target_id,
                "targetLength": 4.5 if kind == 4 else 0.6,
                "targetType": kind,
                "targetWidth": 1.8 if kind == 4 else 0.6,
            }
        )
    return msgspec.json.encode(
        {
            "number": len(targets),
            "targets": targets,
            "deviceId": "N6W107HMBLD",
            "device_type": "rad",
            "data_class": "track",
            "timeStamp": stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        }
    )


def test_radar_frames_over_mqtt_become_participants_at_their_positions(
    mosquitto: Mosquitto,
) -> None:
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    runtime = Runtime(frame=TEST_FRAME, apps=[], detectors=())
    registry = DeviceRegistry()
    registry.add(Device(device_id="R328328", kind=DeviceKind.RADAR, shape="radar"))
    letters: list[DeadLetter] = []
    ingest = Ingestor(runtime, registry, dead_letter=letters.append)

    async def main() -> int:
        queue = IngressQueue(capacity=100)
        gw = MqttGateway(mosquitto.url, queue, dead_letter=letters.append, client_id="gw-radar")
        await gw.start()
        radar = MqttDevice(mosquitto, "radar-R328328")
        taken = 0
        try:
            for k in range(FRAMES):
                radar.publish("V2X/RADAR/R328328/TRACK/UP", _radar_frame(t0, k))
            radar.publish("V2X/RADAR/R328328/TRACK/UP", b'{"targets": [{"targetId": 1}]}')
            radar.publish("V2X/RADAR/R328328/FLOW/UP", _radar_frame(t0, 0))
            radar.publish("V2X/RADAR/R999/TRACK/UP", _radar_frame(t0, 0))  # not registered
            deadline = time.monotonic() + 30  # generous: a loaded machine delays the broker
            while taken < FRAMES + 3 and time.monotonic() < deadline:
                for frame in queue.drain():
                    assert frame.device_kind is DeviceKind.RADAR
                    ingest.process(frame)
                    taken += 1
                await asyncio.sleep(0.02)
        finally:
            radar.close()
            await gw.stop()
        return taken

    assert asyncio.run(main()) == FRAMES + 3
    assert ingest.counts["accepted"] == FRAMES
    assert sorted((d.source, d.reason, d.where) for d in letters) == [
        ("R328328", DropReason.BAD_PAYLOAD, "$.targets[0].latitude"),
        ("R328328", DropReason.UNSUPPORTED_MESSAGE, None),
        ("R999", DropReason.UNKNOWN_DEVICE, "V2X/RADAR/R999/TRACK/UP"),
    ]
    last_ms = int((t0 + dt.timedelta(seconds=(FRAMES - 1) * 0.1)).timestamp() * 1000)
    view = runtime.scene.update(last_ms)
    kinds = {4: ParticipantKind.VEHICLE, 1: ParticipantKind.PEDESTRIAN, 42: ParticipantKind.UNKNOWN}
    for target_id, kind, start, speed, heading in TARGETS:
        row = view.row_of(f"R328328/{target_id}")
        assert row is not None, target_id
        state = view.state(row)
        assert state.kind is kinds[kind]
        lat, lon = _position(start, speed, heading, (FRAMES - 1) * 0.1)
        assert (state.lat_deg, state.lon_deg) == (lat, lon)  # as reported, to the last digit
        x, y = TEST_FRAME.to_local(lat, lon)
        # the scene extrapolates to its own clock (how far depends on the broker's and this
        # machine's delays): it stays on the reported track, a standing target where it was
        dx, dy = view.x_m[row] - float(x), view.y_m[row] - float(y)
        along = dx * math.sin(math.radians(heading)) + dy * math.cos(math.radians(heading))
        across = dx * math.cos(math.radians(heading)) - dy * math.sin(math.radians(heading))
        assert abs(across) < 0.05 and abs(along) <= speed * 2.0 + 0.05, (dx, dy)
        assert abs(view.speed_mps[row] - speed) < 0.05
