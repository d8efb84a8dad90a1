"""Table definitions, written once with a few per-dialect type names."""

from __future__ import annotations

__all__: list[str] = []


def create_statements(*, blob: str, double: str, postgis: bool) -> list[str]:
    """CREATE TABLE/INDEX statements; ``postgis`` adds point geometry + GiST indexes."""
    geom = (
        ", geom geometry(Point, 4326) GENERATED ALWAYS AS "
        "(ST_SetSRID(ST_MakePoint(lon_deg, lat_deg), 4326)) STORED"
        if postgis
        else ""
    )
    statements = [
        f"""CREATE TABLE IF NOT EXISTS participant_states (
            timestamp_ms BIGINT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL,
            source TEXT NOT NULL, lat_deg {double} NOT NULL, lon_deg {double} NOT NULL,
            elevation_m {double}, speed_mps {double}, heading_deg {double},
            accel_long_mps2 {double}, length_m {double}, width_m {double})""",
        f"""CREATE TABLE IF NOT EXISTS advisories (
            issued_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, app TEXT NOT NULL,
            level INTEGER NOT NULL, ego_id TEXT NOT NULL, lat_deg {double}, lon_deg {double},
            doc TEXT NOT NULL{geom})""",
        f"""CREATE TABLE IF NOT EXISTS road_events (
            recorded_ms BIGINT NOT NULL, event_id BIGINT NOT NULL, event_type INTEGER NOT NULL,
            source TEXT NOT NULL, lat_deg {double}, lon_deg {double}, doc TEXT NOT NULL{geom})""",
        f"""CREATE TABLE IF NOT EXISTS dead_letters (
            received_ms BIGINT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL,
            detail TEXT NOT NULL, raw {blob} NOT NULL, location TEXT)""",
        # a history created before dead letters kept where in the input they failed
        "ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS location TEXT",
        # one row per flagged sender; ``doc`` is the whole MisbehaviourReport (its evidence)
        """CREATE TABLE IF NOT EXISTS misbehaviour_reports (
            flagged_ms BIGINT NOT NULL, sender_id TEXT NOT NULL, reason TEXT NOT NULL,
            certificate_digest TEXT, source TEXT, doc TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS ev_reports (
            received_ms BIGINT NOT NULL, vin TEXT NOT NULL, payload TEXT NOT NULL)""",
    ]
    if postgis:
        statements += [
            "CREATE INDEX IF NOT EXISTS participant_states_id_ts "
            "ON participant_states (id, timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS participant_states_ts "
            "ON participant_states USING brin (timestamp_ms)",
            "CREATE INDEX IF NOT EXISTS advisories_ts ON advisories (issued_ms)",
            "CREATE INDEX IF NOT EXISTS advisories_geom ON advisories USING gist (geom)",
            "CREATE INDEX IF NOT EXISTS road_events_ts ON road_events (recorded_ms)",
            "CREATE INDEX IF NOT EXISTS road_events_geom ON road_events USING gist (geom)",
            "CREATE INDEX IF NOT EXISTS dead_letters_ts ON dead_letters (received_ms)",
            "CREATE INDEX IF NOT EXISTS dead_letters_reason_ts ON dead_letters (reason, received_ms)",
            "CREATE INDEX IF NOT EXISTS misbehaviour_reports_ts ON misbehaviour_reports (flagged_ms)",
            "CREATE INDEX IF NOT EXISTS ev_reports_vin_ts ON ev_reports (vin, received_ms)",
        ]
    return statements
