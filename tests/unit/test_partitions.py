"""Half-hour partitions: UTC keys, exact Paris days of 46/48/50 half-hours, Paris calendar partitions."""

from datetime import datetime, timezone

import dagster as dg
import pytest

from energy_pipelines import partitions as p
from energy_pipelines.settings import SettingsError, load_settings

UTC = timezone.utc


@pytest.fixture
def settings():
    return load_settings({}).with_(partitions_start=datetime(2025, 1, 1, tzinfo=UTC),
                                   partitions_end=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(("day", "expected"), [("2025-03-30", 46), ("2025-10-26", 50), ("2025-06-01", 48),
                                               ("2017-03-26", 46), ("2017-10-29", 50)])
def test_a_paris_day_holds_46_48_or_50_half_hours(settings, day, expected):
    assert p.expected_half_hours_per_paris_day(day) == expected
    start, end = p.paris_day_bounds(day)
    assert len(p.half_hours(start, end)) == expected
    if day.startswith("2025"):
        keys = p.half_hourly(settings).get_partition_keys_in_time_window(dg.TimeWindow(start, end))
        assert len(keys) == expected and len(set(keys)) == expected
        assert [p.half_hour_key(t, settings) for t in p.half_hours(start, end)] == keys
        if expected == 50:  # the repeated hour's second occurrence carries its offset
            assert keys[4:8] == ["2025-10-26-02:00", "2025-10-26-02:30", "2025-10-26-02:00+0100",
                                 "2025-10-26-02:30+0100"]
        if expected == 46:  # no key in the spring gap
            assert keys[3:5] == ["2025-03-30-01:30", "2025-03-30-03:00"]


def test_partition_windows_are_exact_instants(settings):
    pdef = p.half_hourly(settings)
    window = pdef.time_window_for_partition_key("2025-10-26-02:00+0100")
    assert window.start.astimezone(UTC) == datetime(2025, 10, 26, 1, 0, tzinfo=UTC)
    assert (window.end.astimezone(UTC) - window.start.astimezone(UTC)).total_seconds() == 1800
    first = pdef.time_window_for_partition_key("2025-10-26-02:00")
    assert first.start.astimezone(UTC) == datetime(2025, 10, 26, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not the start of a half-hour"):
        p.half_hour_key(datetime(2025, 10, 26, 0, 10, tzinfo=UTC), settings)
    assert pdef.get_num_partitions() == 17_520


def test_daily_monthly_yearly_follow_the_paris_calendar(settings):
    day = p.daily(settings).time_window_for_partition_key("2025-10-26")
    assert day.start.astimezone(UTC) == datetime(2025, 10, 25, 22, tzinfo=UTC)
    # same-tzinfo subtraction is wall-clock in Python: compare instants in UTC
    assert (day.end.astimezone(UTC) - day.start.astimezone(UTC)).total_seconds() == 25 * 3600
    # monthly and yearly products reach back to the history start (2011 by default) at little cost
    assert p.monthly(settings).get_partition_keys()[0] == "2011-01-01"
    assert len(p.monthly(settings).get_partition_keys()) == 15 * 12
    assert p.yearly(settings).get_partition_keys() == [str(y) for y in range(2011, 2026)]
    short = settings.with_(history_start=datetime(2025, 1, 1, tzinfo=UTC))
    assert p.yearly(short).get_partition_keys() == ["2025"]


def test_partition_start_keeps_the_definition_under_dagsters_limit():
    settings = load_settings({})
    pdef = p.half_hourly(settings)
    assert pdef.get_first_partition_key() == "2025-01-01-00:00"
    # an open-ended definition grows with time; the default start keeps it far below ~100k keys
    assert pdef.get_num_partitions() < 100_000


def test_half_hours_needs_aware_bounds_and_aligns_up():
    with pytest.raises(ValueError):
        p.half_hours(datetime(2025, 1, 1), datetime(2025, 1, 2))
    hh = p.half_hours(datetime(2025, 1, 1, 0, 10, tzinfo=UTC), datetime(2025, 1, 1, 1, 31, tzinfo=UTC))
    assert [t.strftime("%H:%M") for t in hh] == ["00:30", "01:00", "01:30"]


def test_settings_errors_name_the_variable():
    with pytest.raises(SettingsError, match="ENERGY_PIPELINES_MODE='replay'"):
        load_settings({"ENERGY_PIPELINES_MODE": "replay"})
    with pytest.raises(SettingsError, match="ENERGY_PIPELINES_PARTITIONS_START"):
        load_settings({"ENERGY_PIPELINES_PARTITIONS_START": "01/01/2025"})
    with pytest.raises(SettingsError, match="must be after the start"):
        load_settings({"ENERGY_PIPELINES_PARTITIONS_START": "2025-01-01", "ENERGY_PIPELINES_PARTITIONS_END": "2024-01-01"})


def test_settings_come_from_one_environment_with_nested_source_overrides():
    env = {"ENERGY_PIPELINES_MODE": "sample", "ENERGY_PIPELINES_SOURCES__RTE_ECO2MIX_REGIONAL__MODE": "live",
           "ENERGY_PIPELINES_SOURCES__RTE_ECO2MIX_REGIONAL__URL": "http://127.0.0.1:9/api",
           "DATASUD_API_KEY": "a-secret-token", "ENERGY_PIPELINES_PSEUDONYMISATION_KEY": "another-secret-value"}
    settings = load_settings(env)
    assert settings.source_mode("rte_eco2mix_regional", None) == "live"
    assert settings.source_mode("spie_transaction_log", "sample") == "sample"
    assert settings.source_url("rte_eco2mix_regional", "https://odre") == "http://127.0.0.1:9/api"
    # secrets never print
    assert "a-secret-token" not in repr(settings) and "another-secret-value" not in str(settings.model_dump())
    assert settings.datasud_api_key.get_secret_value() == "a-secret-token"
    with pytest.raises(SettingsError, match="ENERGY_PIPELINES_SOURCES__X__MODE='replay'"):
        load_settings({"ENERGY_PIPELINES_SOURCES__X__MODE": "replay"})
