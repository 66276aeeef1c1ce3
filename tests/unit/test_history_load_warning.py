"""A long history load on the local SQLite instance is announced with an estimate (issue 12)."""

from __future__ import annotations

import dagster as dg

from energy_pipelines import cli


def test_a_year_of_half_hours_on_sqlite_is_warned_about_with_an_estimate(tmp_path):
    sqlite = dg.DagsterInstance.local_temp(str(tmp_path))
    year = 2 * 17_520  # raw + core over a year of half-hours
    warning = cli.history_load_warning(sqlite, year)
    assert warning is not None and "35,040 asset-partitions" in warning
    assert f"about {round(year * cli.SQLITE_S_PER_ASSET_PARTITION / 60)} min" in warning
    assert "deploy/dagster.yaml" in warning
    # a few days are not worth a word, nor is any load on an instance that is not SQLite
    assert cli.history_load_warning(sqlite, 2 * 48 * 3) is None
    assert cli.history_load_warning(dg.DagsterInstance.ephemeral(), year) is None
