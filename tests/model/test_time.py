from v2xcloud.model.time import MINUTE_MS, utc_ms_from_moy, utc_ms_from_sec_mark


def test_moy_counts_minutes_from_new_year_utc() -> None:
    assert utc_ms_from_moy(2020, 0, 0) == 1_577_836_800_000
    assert utc_ms_from_moy(2020, 458_304, 9_250) == 1_577_836_800_000 + 458_304 * MINUTE_MS + 9_250


def test_sec_mark_resolves_to_nearest_minute() -> None:
    ref = 1_600_000_040_000  # 20 s into a minute
    assert utc_ms_from_sec_mark(25_000, ref) == ref + 5_000
    # sent at 59.9 s of the previous minute, received at 0.2 s of the next
    ref2 = ref - 20_000 + 200
    assert utc_ms_from_sec_mark(59_900, ref2) == ref2 - 300
