"""Hostile input, part 2: what lies in a landing folder (issue 10, points 3 and 8, and the size limit)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pandas as pd

from energy_pipelines.sources.base import FileRead, SourceAdapter
from energy_pipelines.sources.landing import LandingZone

UTC = timezone.utc
T0 = datetime(2025, 10, 26, 10, tzinfo=UTC)


class LineAdapter(SourceAdapter):
    """One row per line, `YYYY-MM-DDTHH:MMZ;value`; a name `..._YYYYMMDDTHHMMZ.csv` tells its half-hour."""

    def read_file(self, path):
        rows = [line.split(";") for line in path.read_text().splitlines() if line]
        frame = pd.DataFrame({"datetime_utc": pd.to_datetime([r[0] for r in rows], utc=True),
                              "value": [r[1] for r in rows], "source_line": range(1, len(rows) + 1)})
        return FileRead(rows=frame)

    def span_from_name(self, path):
        stem = path.stem.rsplit("_", 1)[-1]
        try:
            start = datetime.strptime(stem, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        except ValueError:
            return None
        return start, start + timedelta(minutes=30)


def _zone(tmp_path, **kw) -> LandingZone:
    zone = LandingZone(tmp_path / "landing", "src", **kw)
    zone.dir.mkdir(parents=True)
    zone.write_atomic("good_20251026T1000Z.csv", f"{T0:%Y-%m-%dT%H:%MZ};1\n")
    return zone


def test_a_symlink_is_never_followed_and_its_target_never_read(tmp_path):
    zone = _zone(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("2025-10-26T10:00Z;TOP-SECRET-VALUE\n")
    os.symlink(secret, zone.dir / "innocent_20251026T1000Z.csv")
    os.symlink(tmp_path / "missing.csv", zone.dir / "dangling.csv")
    read = zone.read_window(LineAdapter(), T0, T0 + timedelta(minutes=30))
    assert read.rows["value"].tolist() == ["1"]
    assert read.ignored == {"dangling.csv": "symbolic link: not followed (deliver the file itself)",
                            "innocent_20251026T1000Z.csv": "symbolic link: not followed (deliver the file itself)"}
    assert "TOP-SECRET" not in repr(read)


def test_hidden_names_and_oversized_files_are_reported_not_skipped_silently(tmp_path):
    zone = _zone(tmp_path, max_file_bytes=64)
    zone.write_atomic(".held_20251026T1000Z.csv", f"{T0:%Y-%m-%dT%H:%MZ};2\n")
    zone.write_atomic("_held_20251026T1000Z.csv", f"{T0:%Y-%m-%dT%H:%MZ};3\n")
    zone.write_atomic("big_20251026T1000Z.csv", f"{T0:%Y-%m-%dT%H:%MZ};4\n" * 10)
    read = zone.read_window(LineAdapter(), T0, T0 + timedelta(minutes=30))
    assert read.rows["value"].tolist() == ["1"]
    assert set(read.ignored) == {".held_20251026T1000Z.csv", "_held_20251026T1000Z.csv", "big_20251026T1000Z.csv"}
    assert "starts with '.' or '_'" in read.ignored["_held_20251026T1000Z.csv"]
    assert "above the landing limit" in read.ignored["big_20251026T1000Z.csv"]


def test_a_future_dated_name_is_read_and_its_rows_placed_by_their_own_time(tmp_path):
    zone = _zone(tmp_path)
    zone.write_atomic("late_20991231T2300Z.csv", f"{T0:%Y-%m-%dT%H:%MZ};5\n")
    read = zone.read_window(LineAdapter(), T0, T0 + timedelta(minutes=30))
    assert sorted(read.rows["value"]) == ["1", "5"]
    assert "late_20991231T2300Z.csv" in read.misnamed
    assert "rows are placed by their own timestamps" in read.misnamed["late_20991231T2300Z.csv"]


def test_our_own_temporary_files_are_neither_data_nor_reported(tmp_path):
    zone = _zone(tmp_path)
    (zone.dir / ".good_20251026T1000Z.csv.0123456789abcdef0123456789abcdef.tmp").write_text("half a file")
    read = zone.read_window(LineAdapter(), T0, T0 + timedelta(minutes=30))
    assert read.rows["value"].tolist() == ["1"] and read.ignored == {}


def test_enedis_extracts_in_utf16_are_decoded_not_quarantined_whole(tmp_path):
    """An extract saved as UTF-16 (a spreadsheet's 'Unicode text') reads like its UTF-8 original."""
    from energy_pipelines.simulate.enedis_open import write_days
    from energy_pipelines.sources.enedis_open import ADAPTER, SOURCE_DATASETS

    zone = LandingZone(tmp_path / "landing", "enedis_conso_inf36_region")
    written = write_days(zone, SOURCE_DATASETS["enedis_conso_inf36_region"], T0, T0 + timedelta(hours=1))
    original = written[0]
    utf16 = original.with_name("utf16_" + original.name)
    utf16.write_bytes(original.read_text(encoding="utf-8-sig").encode("utf-16"))  # with its BOM
    a, b = ADAPTER.read_file(original), ADAPTER.read_file(utf16)
    assert len(a.rows) > 0
    assert a.rows.drop(columns=["source_line"]).equals(b.rows.drop(columns=["source_line"]))


def test_a_killed_writers_temporary_file_is_removed_before_the_next_write(tmp_path):
    """kill -9 between write and rename leaves `.<name>.<uuid>.tmp`: the next write of the dataset removes it."""
    import time

    from energy_pipelines.storage import ParquetStore

    store = ParquetStore(tmp_path / "warehouse")
    frame = pd.DataFrame({"datetime_utc": [T0], "value": [1.0]})
    store.write("core_x__y", frame, time_column="datetime_utc", window=(T0, T0 + timedelta(minutes=30)))
    day = store.files("core_x__y")[0].parent
    stale = day / ".part.parquet.0123456789abcdef0123456789abcdef.tmp"
    fresh = day / ".part.parquet.fedcba9876543210fedcba9876543210.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half a parquet file")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    store.write("core_x__y", frame, time_column="datetime_utc", window=(T0, T0 + timedelta(minutes=30)))
    assert not stale.exists()
    assert fresh.exists()  # may belong to a writer still at work: only old ones are removed
    assert store.read("core_x__y", time_column="datetime_utc")["value"].to_pylist() == [1.0]
