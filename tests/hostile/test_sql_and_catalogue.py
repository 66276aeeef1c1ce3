"""Hostile input, part 1: the `sql` command and the catalogue (issue 10, points 1 and 5).

Every case is built by the test; each asserts what is refused, with which message, and that
nothing the pipeline wrote was touched.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from energy_pipelines import cli
from energy_pipelines.catalog import CatalogError, load_catalog
from energy_pipelines.settings import CATALOG_DIR
from energy_pipelines.storage import ParquetStore, warehouse_of
from energy_pipelines.storage.query import QueryRefused, run_query

T0 = datetime(2025, 10, 26, tzinfo=timezone.utc)


@pytest.fixture
def warehouse(settings):
    store = ParquetStore(settings.warehouse_dir)
    times = [T0 + timedelta(minutes=30 * i) for i in range(4)]
    store.write("core_x__mix", pd.DataFrame({"datetime_utc": times, "mw": [1.0, 2.0, 3.0, 4.0]}),
                time_column="datetime_utc", window=(T0, T0 + timedelta(hours=2)))
    warehouse_of(settings.home).refresh_view("core_x__mix")
    return store


def _digests(root) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("query", "message"), [
    ("COPY core_x__mix TO '{root}/warehouse/core_x__mix/date=2025-10-26/part.parquet'", "COPY statements are not allowed"),
    ("COPY (SELECT 1) TO '{root}/landing/spie_transaction_log/fake.csv'", "COPY statements are not allowed"),
    ("ATTACH '{root}/warehouse.duckdb' AS w (READ_WRITE)", "ATTACH statements are not allowed"),
    ("EXPORT DATABASE '{root}/export'", "EXPORT statements are not allowed"),
    ("INSTALL httpfs", "statements are not allowed"),
    ("SET enable_external_access = true", "SET statements are not allowed"),
    ("SELECT * FROM read_text('/etc/passwd')", r"table function read_text\(\) is not allowed"),
    ("SELECT * FROM read_csv('/etc/hostname')", r"table function read_csv\(\) is not allowed"),
    ("SELECT * FROM '/etc/hostname'", "is not a view of the warehouse"),
    ("SELECT * FROM core_x__mix WHERE mw IN (SELECT 1 FROM read_blob('/etc/passwd'))", r"read_blob\(\) is not allowed"),
    ("SELECT 1; DROP VIEW core_x__mix", "DROP statements are not allowed"),
])
def test_sql_refuses_anything_but_reading_the_views(settings, warehouse, query, message):
    before = _digests(settings.home)
    with pytest.raises(QueryRefused, match=message):
        run_query(warehouse, query.format(root=settings.home))
    assert _digests(settings.home) == before


def test_sql_answers_selects_ctes_and_describe(settings, warehouse):
    assert run_query(warehouse, "SELECT count(*), sum(mw) FROM core_x__mix").fetchall() == [(4, 10.0)]
    assert run_query(warehouse, "WITH t AS (SELECT mw FROM core_x__mix) SELECT max(mw) FROM t").fetchall() == [(4.0,)]
    assert [r[0] for r in run_query(warehouse, "DESCRIBE core_x__mix").fetchall()] == ["datetime_utc", "mw"]


def test_the_sql_command_prints_the_refusal_and_works_while_a_writer_holds_the_warehouse(settings, warehouse, capsys):
    import duckdb

    writer = duckdb.connect(str(settings.warehouse_db))  # a pipeline run holding the file
    try:
        assert cli.main(["sql", "select sum(mw) from core_x__mix"]) == 0
        assert "10.0" in capsys.readouterr().out
        assert cli.main(["sql", "copy core_x__mix to '/tmp/x.parquet'"]) == 2
        assert "refused: COPY statements are not allowed" in capsys.readouterr().err
    finally:
        writer.close()


def _catalog_copy(tmp_path):
    copy = tmp_path / "assets_config"
    shutil.copytree(CATALOG_DIR, copy)
    return copy


def test_a_key_given_twice_in_a_catalogue_file_is_refused(tmp_path):
    copy = _catalog_copy(tmp_path)
    path = copy / "datasets" / "raw_spie__transaction_log.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "access: open\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"raw_spie__transaction_log\.yaml: not valid YAML: key 'access' appears twice"):
        load_catalog(copy)


def test_catalogue_errors_are_one_line_without_a_traceback(tmp_path, monkeypatch, capsys):
    copy = _catalog_copy(tmp_path)
    path = copy / "datasets" / "core_rte__eco2mix_regional.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("layer: core", "layer: kore"), encoding="utf-8")
    from energy_pipelines import catalog as catalog_module

    monkeypatch.setattr(catalog_module, "CATALOG_DIR", copy)
    catalog_module.default_catalog.cache_clear()
    monkeypatch.setattr(cli, "_cmd_datasets", lambda args: load_catalog(copy) and 0)
    try:
        assert cli.main(["datasets"]) == 2
    finally:
        catalog_module.default_catalog.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "core_rte__eco2mix_regional.yaml: field 'layer'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("file, edit, message", [
    ("uc2/settings.yaml", ("k_min_users: 5", "k_min_user: 5"),
     r"uc2/settings\.yaml: field 'anonymisation\.k_min_user': Extra inputs are not permitted"),
    ("uc2/settings.yaml", ("k_min_charge_points: 5", "k_min_charge_points: five"),
     r"uc2/settings\.yaml: field 'disclosure\.k_min_charge_points': Input should be a valid integer"),
    ("uc2/settings.yaml", ("min_stations: 2", "min_stations: 1"),
     r"uc2/settings\.yaml: field 'disclosure\.min_stations': Input should be greater than or equal to 2"),
    ("uc3/what_if.yaml", ("{id: double_pv, added_share_of_installed: 1.0}", "{id: double_pv}"),
     r"uc3/what_if\.yaml: field 'scenarios\.2': Value error, scenario 'double_pv' sets exactly one of"),
    ("uc3/what_if.yaml", ("{id: plus_50_mwp, added_mwp: 50}", "{id: plus_10_mwp, added_mwp: 50}"),
     r"uc3/what_if\.yaml: field '\(file\)': Value error, scenario ids must be unique"),
])
def test_use_case_settings_errors_name_the_file_and_the_field(tmp_path, file, edit, message):
    """A typo in a use-case settings file was silently replaced by the default (raw `.get()`)."""
    from energy_pipelines.build import build_data_assets
    from energy_pipelines.settings import load_settings

    copy = _catalog_copy(tmp_path)
    path = copy / file
    text = path.read_text(encoding="utf-8")
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        build_data_assets(load_catalog(copy), load_settings())
