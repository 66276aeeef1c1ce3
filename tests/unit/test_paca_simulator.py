"""The sample-mode simulator of the PACA mix: deterministic, window-independent, physically sensible."""

import numpy as np
import pandas as pd

from energy_pipelines.simulate.paca_mix import mix, write_eco2mix_days
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.rte_eco2mix import ADAPTER

YEAR = pd.date_range("2025-01-01", "2026-01-01", freq="30min", inclusive="left", tz="UTC")


def test_values_depend_on_the_half_hour_only_not_on_the_window():
    whole = mix(YEAR[:96]).set_index("datetime_utc")
    piece = mix(YEAR[40:41]).set_index("datetime_utc")
    pd.testing.assert_series_equal(whole.loc[piece.index[0]], piece.iloc[0], check_names=False)


def test_magnitudes_and_shapes_follow_the_real_paca_archives():
    m = mix(YEAR).set_index("datetime_utc")
    assert 4000 < m["consommation"].mean() < 5500  # real 2017: 4,707 MW
    assert m["consommation"].min() > 2500 and m["consommation"].max() < 9000
    local_hour = m.index.tz_convert("Europe/Paris").hour
    assert m["solaire"][(local_hour < 5) | (local_hour > 22)].max() == 0  # no sun at night
    summer_noon = m["solaire"][(m.index.month == 6) & (local_hour == 13)].mean()
    winter_noon = m["solaire"][(m.index.month == 12) & (local_hour == 13)].mean()
    assert summer_noon > 1.5 * winter_noon
    winter = m["consommation"][m.index.month.isin([1, 2, 12])].mean()
    spring = m["consommation"][m.index.month.isin([4, 5])].mean()
    assert winter > spring  # heating load
    weekday = m["consommation"][m.index.dayofweek < 5].mean()
    assert m["consommation"][m.index.dayofweek >= 5].mean() < weekday
    # balance identity: consumption = production + pumping + exchanges, to the MW
    parts = m[["thermique", "eolien", "solaire", "hydraulique", "bioenergies", "pompage", "ech_physiques"]].sum(axis=1)
    assert np.allclose(parts, m["consommation"])


def test_day_files_are_deterministic_only_grow_and_read_back(tmp_path):
    landing = LandingZone(tmp_path, "rte_eco2mix_regional")
    day = pd.Timestamp("2025-10-26", tz="UTC")
    now = day + pd.Timedelta(hours=5)
    written = write_eco2mix_days(landing, day, day + pd.Timedelta(days=1), now=now)
    assert [p.name for p in written] == ["sample_eco2mix-regional-tr_93_2025-10-26.csv"]
    first = written[0].read_bytes()
    # an earlier window later on never shortens the file; the same request writes nothing
    assert write_eco2mix_days(landing, day, day + pd.Timedelta(hours=1), now=now) == []
    assert written[0].read_bytes() == first
    later = write_eco2mix_days(landing, day, day + pd.Timedelta(days=1), now=now + pd.Timedelta(hours=2))
    assert later and later[0].read_bytes().startswith(first)
    rows = ADAPTER.read_file(later[0]).rows
    assert len(rows) == 14 and rows["datetime_utc"].is_unique  # 00:00 .. 06:30 UTC
