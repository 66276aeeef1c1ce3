"""Parquet storage: a window replaces exactly its rows, atomically; both DST days lose nothing."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from energy_pipelines.partitions import half_hours, paris_day_bounds
from energy_pipelines.storage import ParquetStore, SchemaMismatch, Warehouse
from energy_pipelines.storage import parquet_store as ps
from energy_pipelines.storage.schema import conform

UTC = timezone.utc
SCHEMA = pa.schema([pa.field("datetime_utc", pa.timestamp("us", tz="UTC"), nullable=False),
                    pa.field("value", pa.float64())])


def frame(times, value=1.0) -> pd.DataFrame:
    return pd.DataFrame({"datetime_utc": pd.to_datetime(list(times), utc=True), "value": value})


def read_all(store, name="ds"):
    return store.read(name, time_column="datetime_utc", schema=SCHEMA).to_pandas()


@pytest.mark.parametrize("day", ["2025-03-30", "2025-10-26"])
def test_half_hour_by_half_hour_writes_keep_every_row_on_dst_days(tmp_path, day):
    """The stock DuckDB IO manager deletes the first 02:00 when the second is written (naive time)."""
    store = ParquetStore(tmp_path)
    start, end = paris_day_bounds(day)
    slots = half_hours(start, end)
    for i, t in enumerate(slots):
        store.write("ds", frame([t], float(i)), time_column="datetime_utc", window=(t, t + timedelta(minutes=30)))
    got = read_all(store)
    assert len(got) == len(slots) == (46 if day.endswith("30") else 50)
    assert got["value"].tolist() == [float(i) for i in range(len(slots))]
    assert got["datetime_utc"].is_unique


def test_rewriting_a_window_replaces_exactly_its_rows(tmp_path):
    store = ParquetStore(tmp_path)
    t0 = datetime(2025, 1, 1, 22, tzinfo=UTC)
    day = [t0 + timedelta(minutes=30 * i) for i in range(8)]  # crosses midnight UTC: two date files
    store.write("ds", frame(day, 1.0), time_column="datetime_utc", window=(day[0], day[-1] + timedelta(minutes=30)))
    middle = (day[2], day[5])  # three half-hours
    stats = store.write("ds", frame(day[2:5], 2.0), time_column="datetime_utc", window=middle)
    assert stats.rows_replaced == 3
    got = read_all(store)
    assert got["value"].tolist() == [1, 1, 2, 2, 2, 1, 1, 1]
    # an empty result for a window deletes that window's rows and only those
    store.write("ds", frame([], 0.0), time_column="datetime_utc", window=middle)
    assert read_all(store)["value"].tolist() == [1, 1, 1, 1, 1]
    assert sorted(p.parent.name for p in store.files("ds")) == ["date=2025-01-01", "date=2025-01-02"]


def test_a_window_write_reports_its_progress_day_file_by_day_file(tmp_path):
    """What a range run logs as it writes (the UI's run log is its progress)."""
    store = ParquetStore(tmp_path)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    times = [start + timedelta(hours=6 * i) for i in range(4 * 31)]  # March: 31 UTC days
    seen = []
    store.write("ds", frame(times), time_column="datetime_utc", window=(start, start + timedelta(days=31)),
                progress=lambda done, days: seen.append((done, days)))
    assert seen == [(i, 31) for i in range(1, 32)]


def test_rows_outside_the_window_are_refused(tmp_path):
    store = ParquetStore(tmp_path)
    t = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="fall outside the partition window"):
        store.write("ds", frame([t + timedelta(hours=1)]), time_column="datetime_utc",
                    window=(t, t + timedelta(minutes=30)))
    assert store.files("ds") == []


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    store = ParquetStore(tmp_path)
    t = datetime(2025, 1, 1, tzinfo=UTC)
    window = (t, t + timedelta(days=1))
    store.write("ds", frame([t], 1.0), time_column="datetime_utc", window=window)
    before = store.files("ds")[0].read_bytes()

    def crash(table, where, **kw):
        Path(where).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(ps.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        store.write("ds", frame([t], 9.0), time_column="datetime_utc", window=window)
    assert store.files("ds")[0].read_bytes() == before
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_append_mode_never_touches_stored_rows(tmp_path):
    store = ParquetStore(tmp_path)
    t = datetime(2025, 1, 1, 6, tzinfo=UTC)
    store.append("fc", frame([t, t], 1.0), time_column="datetime_utc")
    store.append("fc", frame([t], 2.0), time_column="datetime_utc")
    got = store.read("fc", time_column="datetime_utc", window=(t, t + timedelta(hours=1)))
    assert sorted(got.column("value").to_pylist()) == [1.0, 1.0, 2.0]
    assert len(store.files("fc")) == 2


def test_file_metadata_is_written_into_every_parquet_file(tmp_path):
    store = ParquetStore(tmp_path)
    t = datetime(2025, 1, 1, tzinfo=UTC)
    store.write("ds", frame([t]), time_column="datetime_utc", window=(t, t + timedelta(minutes=30)),
                file_metadata={"energy_pipelines": '{"owners": ["rte"]}'})
    meta = pq.read_schema(store.files("ds")[0]).metadata
    assert meta[b"energy_pipelines"] == b'{"owners": ["rte"]}'


def test_conform_refuses_what_does_not_fit_and_names_the_column():
    t = pd.Timestamp("2025-01-01", tz="UTC")
    with pytest.raises(SchemaMismatch, match="ds: columns not in the catalogue schema: extra"):
        conform(pd.DataFrame({"datetime_utc": [t], "value": [1.0], "extra": [1]}), SCHEMA, "ds")
    with pytest.raises(SchemaMismatch, match="'datetime_utc' holds naive timestamps"):
        conform(pd.DataFrame({"datetime_utc": [pd.Timestamp("2025-01-01")], "value": [1.0]}), SCHEMA, "ds")
    with pytest.raises(SchemaMismatch, match="'value' cannot be cast"):
        conform(pd.DataFrame({"datetime_utc": [t], "value": ["abc"]}), SCHEMA, "ds")
    with pytest.raises(SchemaMismatch, match="duplicate primary key"):
        conform(pd.DataFrame({"datetime_utc": [t, t], "value": [1.0, 2.0]}), SCHEMA, "ds", ("datetime_utc",))
    with pytest.raises(SchemaMismatch, match="required column 'datetime_utc' is missing"):
        conform(pd.DataFrame({"value": [1.0]}), SCHEMA, "ds")
    ok = conform(pd.DataFrame({"datetime_utc": [t]}), SCHEMA, "ds")
    assert ok.column("value").null_count == 1


def test_warehouse_view_answers_sql_over_the_parquet(tmp_path):
    store = ParquetStore(tmp_path / "warehouse")
    t = datetime(2025, 1, 1, tzinfo=UTC)
    slots = [t + timedelta(minutes=30 * i) for i in range(96)]
    store.write("ds", frame(slots, 2.0), time_column="datetime_utc", window=(slots[0], slots[-1] + timedelta(minutes=30)))
    wh = Warehouse(tmp_path / "warehouse.duckdb", store)
    assert wh.refresh_view("ds")
    with wh.connect() as con:
        assert con.execute("select count(*), sum(value) from ds").fetchone() == (96, 192.0)
    # the views name their files relative to the data root: a copied root reads its own files
    import shutil
    shutil.copytree(tmp_path, tmp_path.parent / f"{tmp_path.name}_restored")
    shutil.rmtree(tmp_path / "warehouse")
    copy = Warehouse(tmp_path.parent / f"{tmp_path.name}_restored" / "warehouse.duckdb", ParquetStore(tmp_path.parent / f"{tmp_path.name}_restored" / "warehouse"))
    with copy.connect() as con:
        assert con.execute("select count(*), sum(value) from ds").fetchone() == (96, 192.0)


def test_a_locked_warehouse_does_not_fail_the_write(tmp_path):
    store = ParquetStore(tmp_path / "warehouse")
    t = datetime(2025, 1, 1, tzinfo=UTC)
    store.write("ds", frame([t]), time_column="datetime_utc", window=(t, t + timedelta(minutes=30)))
    wh = Warehouse(tmp_path / "warehouse.duckdb", store)
    import subprocess
    import sys
    # another process holds the DuckDB file open for writing (a user in the duckdb shell)
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb,time; c=duckdb.connect({str(tmp_path / 'warehouse.duckdb')!r}); "
                               "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert wh.refresh_view("ds", attempts=2) is False
    finally:
        holder.kill()
    assert wh.refresh_view("ds") is True


def test_unsorted_chunked_rows_land_in_their_day_files_in_their_given_order(tmp_path):
    """The one-pass grouping by day keeps each day's rows as a per-day filter would, chunks or not."""
    store = ParquetStore(tmp_path)
    t = datetime(2025, 1, 1, tzinfo=UTC)
    times = [t + timedelta(hours=h) for h in (30, 2, 50, 1, 26, 49, 0)]  # three UTC days, shuffled
    values = [float(i) for i in range(len(times))]
    table = pa.Table.from_batches([
        pa.record_batch([pa.array(times[:3], pa.timestamp("us", tz="UTC")), pa.array(values[:3])], schema=SCHEMA),
        pa.record_batch([pa.array(times[3:], pa.timestamp("us", tz="UTC")), pa.array(values[3:])], schema=SCHEMA),
    ])
    stats = store.write("ds", table, time_column="datetime_utc", window=(t, t + timedelta(days=3)))
    assert [p.parent.name for p in stats.files_written] == ["date=2025-01-01", "date=2025-01-02", "date=2025-01-03"]
    per_day = [pq.read_table(p).column("value").to_pylist() for p in stats.files_written]
    assert per_day == [[1.0, 3.0, 6.0], [0.0, 4.0], [2.0, 5.0]]
