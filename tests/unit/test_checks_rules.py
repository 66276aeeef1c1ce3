"""Completeness per Paris day (46/48/50 half-hours), freshness against an injected now, quarantine counts."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from energy_pipelines.catalog import default_catalog
from energy_pipelines.checks import rules
from energy_pipelines.partitions import half_hours, paris_day_bounds

UTC = timezone.utc


def day_rows(day, series=("93", "84")):
    start, end = paris_day_bounds(day)
    slots = half_hours(start, end)
    return pd.DataFrame({"datetime_utc": [t for _ in series for t in slots],
                         "region_code": [s for s in series for _ in slots]})


@pytest.mark.parametrize("day, expected", [("2025-03-30", 46), ("2025-10-26", 50), ("2025-06-15", 48)])
def test_a_full_paris_day_is_complete_with_its_dst_count(day, expected):
    frame = day_rows(day)
    c = rules.completeness(frame, "datetime_utc", ["region_code"], paris_day_bounds(day))
    assert c.passed
    (summary,) = [d.summary() for d in c.days]
    assert summary == {"paris_day": day, "expected_half_hours": expected, "expected_so_far": expected,
                       "series": 2, "present": 2 * expected, "missing": 0}


@pytest.mark.parametrize("day, hole_utc", [("2025-03-30", "2025-03-30T01:00"),  # 03:00 CEST, right after the jump
                                            ("2025-10-26", "2025-10-26T01:00")])  # the second 02:00 (CET)
def test_a_missing_half_hour_of_one_series_is_found_on_dst_days(day, hole_utc):
    frame = day_rows(day)
    hole = pd.Timestamp(hole_utc, tz="UTC")
    frame = frame[~((frame["datetime_utc"] == hole) & (frame["region_code"] == "84"))]
    c = rules.completeness(frame, "datetime_utc", ["region_code"], paris_day_bounds(day))
    assert not c.passed
    assert c.missing_half_hours() == [hole.to_pydatetime()]
    assert c.missing_in_window[hole.to_pydatetime()] == ["region_code=84"]
    assert c.days[0].missing == 1 and c.days[0].present == 2 * c.days[0].expected_full_day - 1


def test_a_partial_window_judges_only_its_half_hours_and_counts_the_day_so_far():
    frame = day_rows("2025-10-26")
    start, _ = paris_day_bounds("2025-10-26")
    window = (start + timedelta(hours=3), start + timedelta(hours=3, minutes=30))
    earlier_hole = start + timedelta(hours=1)
    frame = frame[frame["datetime_utc"] != earlier_hole]
    c = rules.completeness(frame, "datetime_utc", ["region_code"], window)
    assert c.passed  # the hole is before the window: reported in the day figures, not this half-hour
    assert c.days[0].expected_so_far == 7 and c.days[0].missing == 2


def test_a_window_with_no_row_at_all_is_incomplete():
    start, _ = paris_day_bounds("2025-03-30")
    c = rules.completeness(day_rows("2025-03-30").iloc[0:0], "datetime_utc", ["region_code"],
                           (start, start + timedelta(hours=1)))
    assert not c.passed and len(c.missing_half_hours()) == 2
    assert c.missing_in_window[start] == [rules.NO_ROW]


def test_series_keys_come_from_the_primary_key_minus_time():
    catalog = default_catalog()
    assert rules.series_keys(catalog["core_rte__eco2mix_regional"]) == ["region_code"]
    assert rules.series_keys(catalog["raw_rte__eco2mix_regional"]) == []  # keyed by source line: one series
    assert rules.series_keys(catalog["raw_rte__eco2mix_regional"], ["region_code"]) == ["region_code"]


@pytest.mark.parametrize("latest, now, fresh", [
    ("2025-03-30T10:00", "2025-03-30T11:30", True),   # ended 10:30, one hour ago exactly
    ("2025-03-30T10:00", "2025-03-30T11:31", False),  # ended 61 minutes ago
    ("2025-03-30T10:30", "2025-03-30T10:45", True),
    (None, "2025-03-30T10:45", False),                # nothing stored is not fresh
])
def test_freshness_of_the_latest_half_hour_against_an_injected_now(latest, now, fresh):
    f = rules.freshness(pd.Timestamp(latest, tz="UTC") if latest else None, pd.Timestamp(now, tz="UTC").to_pydatetime())
    assert f.passed is fresh
    if latest:
        assert f.latest_end == pd.Timestamp(latest, tz="UTC") + timedelta(minutes=30)


def test_quarantine_counts_by_reason_kind_and_file():
    rejects = pd.DataFrame({
        "partition_start_utc": [datetime(2025, 3, 30, tzinfo=UTC)] * 3,
        "source_file": ["a.csv", "a.csv", None],
        "source_line": [3, 9, None],
        "reason": ["non-numeric value in column eolien: x", "non-numeric value in column solaire: y",
                   "unreadable file: empty file"],
        "record": ["{}", "{}", None],
    })
    q = rules.quarantine(rejects)
    assert not q.passed and q.rows == 3
    assert q.by_reason == {"non-numeric value in column eolien": 1, "non-numeric value in column solaire": 1,
                           "unreadable file": 1}
    assert q.by_file == {"a.csv": 2, "(no file)": 1}
    assert rules.quarantine(rejects.iloc[0:0]).passed
