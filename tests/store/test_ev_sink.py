"""EV reports through the history: the EV wing's ReportSink protocol, both backends."""

from __future__ import annotations

import msgspec

from v2xcloud.ev.sink import ReportSink
from v2xcloud.model.ev import EvReport, EvVehicle
from v2xcloud.store import HistoryReportSink, HistoryStore, HistoryWriter

T0 = 1_700_000_000_000
VIN = "LNBSCU3H5JR000001"


def _report(t_ms: int, soc_pct: int) -> EvReport:
    vehicle = EvVehicle(
        vehicle_state=1,
        charge_state=3,
        run_mode=1,
        speed_kmh=42.5,
        odometer_km=1234.5,
        total_voltage_v=350.2,
        total_current_a=-12.3,
        soc_pct=soc_pct,
        dcdc_state=1,
        gear=14,
        insulation_kohm=5000,
    )
    return EvReport(vin=VIN, collected_at_ms=t_ms, vehicle=vehicle)


def test_reports_are_kept_whole_and_in_time_order(store: HistoryStore) -> None:
    with HistoryWriter(store) as writer:
        sink: ReportSink = HistoryReportSink(writer)
        for i, soc in enumerate((80, 79, 78)):
            sink.write(_report(T0 + (2 - i) * 10_000, soc))
        sink.close()
    stored = store.ev_reports(VIN, start_ms=T0, end_ms=T0 + 60_000)
    assert [r.received_ms - T0 for r in stored] == [0, 10_000, 20_000]
    back = msgspec.convert(stored[0].payload, type=EvReport)
    assert back == _report(T0, 78)
    assert store.ev_reports("OTHER", start_ms=T0, end_ms=T0 + 60_000) == []
