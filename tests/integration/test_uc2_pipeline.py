"""UC2 end to end in sample mode: the half-hourly chain over the autumn DST day in one run, then the
daily usage, the open monthly usage and the forecast archive; anonymisation and governance proofs."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from energy_pipelines.build import build_defs
from energy_pipelines.catalog import default_catalog
from energy_pipelines.governance.dagster_specs import graph_deps
from energy_pipelines.governance.lineage import compute_lineage
from energy_pipelines.partitions import half_hour_key, paris_day_bounds
from energy_pipelines.settings import load_settings
from energy_pipelines.simulate import green_signal as sim_signal
from energy_pipelines.storage import ParquetStore
from energy_pipelines.transforms import anonymise

UTC = timezone.utc
DAY1, DAY2 = "2025-10-25", "2025-10-26"  # the second is the 50-half-hour day


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("uc2") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENERGY_PIPELINES_HOME", str(home))
        mp.setenv("ENERGY_PIPELINES_MODE", "sample")
        mp.setenv("ENERGY_PIPELINES_PARTITIONS_START", "2024-01-01")
        mp.delenv(anonymise.KEY_ENV, raising=False)
        mp.delenv("DAGSTER_HOME", raising=False)
        settings = load_settings().with_(partitions_start=datetime(2024, 1, 1, tzinfo=UTC))
        defs = build_defs(settings)
        instance = dg.DagsterInstance.ephemeral()
        assets = list(defs.assets)
        registers = dg.materialize(assets, selection=["raw_symenergie05__charging_stations",
                                                      "raw_enedis__green_signal_history",
                                                      "raw_insee__commune_typology"],
                                   resources=defs.resources, instance=instance)
        lo, hi = paris_day_bounds(DAY1)[0], paris_day_bounds(DAY2)[1]
        first, last = half_hour_key(lo), half_hour_key(hi - pd.Timedelta(minutes=30))
        chain = defs.resolve_job_def("uc2_halfhourly_job").execute_in_process(
            instance=instance, tags={"dagster/asset_partition_range_start": first,
                                     "dagster/asset_partition_range_end": last})
        daily = dg.materialize(assets, selection=["hybrid__charging_usage_daily"], partition_key=DAY2,
                               resources=defs.resources, instance=instance)
        monthly = dg.materialize(assets, selection=["out_uc2__charging_usage"], partition_key="2025-10-01",
                                 resources=defs.resources, instance=instance)
        yield {"settings": settings, "defs": defs, "instance": instance, "registers": registers, "chain": chain,
               "daily": daily, "monthly": monthly, "store": ParquetStore(settings.warehouse_dir), "mp": mp}


def read(store: ParquetStore, dataset: str) -> pd.DataFrame:
    return pd.concat([pq.read_table(p).to_pandas() for p in store.files(dataset)], ignore_index=True) \
        if store.files(dataset) else pd.DataFrame()


def metadata(result, asset: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset]
    return {k: getattr(v, "data", getattr(v, "value", v)) for k, v in events[-1].materialization.metadata.items()}


def test_two_days_over_the_dst_change_are_one_run_with_every_charge_point_and_half_hour(world):
    assert world["registers"].success and world["chain"].success
    runs = world["instance"].get_runs()
    assert sum(r.job_name == "uc2_halfhourly_job" for r in runs) == 1
    store = world["store"]
    signal = read(store, "hybrid__green_charging_signal")
    stations = read(store, "raw_symenergie05__charging_stations")
    n_pdc = stations["id_pdc_itinerance"].nunique()
    assert len(signal) == n_pdc * (48 + 50)
    assert signal.groupby("id_pdc_itinerance")["datetime_utc"].nunique().eq(98).all()
    assert signal["colour"].notna().all() and signal["signal_complete"].all()
    assert signal["colour_reason"].isna().all()
    assert set(signal["colour"]) <= {"green", "orange", "red"} and signal["in_use"].any()
    surplus = read(store, "hybrid__green_surplus_stations_in_use")
    expected = signal[signal["in_use"] & (signal["local_green_ratio"] >= 1)]
    assert len(surplus) == len(expected) and (surplus["local_green_ratio"] >= 1).all()
    assert set(surplus["thresholds_version"]) == {"2025.1"} and set(surplus["surplus_local_ratio_min"]) == {1.0}
    opened = read(store, "out_uc2__green_signal")
    assert set(opened.columns) >= {"colour", "colour_reason", "signal_complete", "regional_green_share_pct",
                                   "occupancy_area", "area_n_free"}
    assert "energy_wh" not in opened.columns and "local_green_ratio" not in opened.columns
    assert "n_free" not in opened.columns  # no occupancy per station
    assert len(opened) == stations["id_station_itinerance"].nunique() * 98
    areas = opened.dropna(subset=["occupancy_area"])
    assert (areas["area_n_charge_points"] >= 5).all() and (areas["area_n_stations"] >= 2).all()
    assert areas.groupby("id_station_itinerance")["occupancy_area"].nunique().eq(1).all()


def test_energy_comes_from_whatever_each_charger_sends(world):
    """Start/stop-only chargers get their session's energy in every half-hour it spans (not 0 Wh), the
    others from their clock-aligned or periodic readings, and in use means a transaction is open."""
    from energy_pipelines.simulate import charging

    store = world["store"]
    signal = read(store, "hybrid__green_charging_signal")
    net = charging.network()
    cadence = dict(zip(net.pdc["id_pdc_itinerance"], charging.cadence_of(net.pdc), strict=True))
    signal["cadence"] = signal["id_pdc_itinerance"].map(cadence)
    used = signal[signal["in_use"] & (signal["energy_quality"] == "ok")]
    for kind in charging.CADENCES:
        rows = used[used["cadence"] == kind]
        assert len(rows) > 20, kind
        # the car may stop drawing before it is unplugged: readings show it, start/stop only cannot
        share = (rows["energy_wh"] > 0).mean()
        assert share > (0.99 if kind == "start_stop_only" else 0.5), (kind, share)
    # energy of each session = its meter: the settled half-hours of sessions inside the two days add up
    sessions = read(store, "anon_spie__charging_sessions")
    assert signal.loc[signal["energy_quality"] == "ok", "energy_wh"].sum() / 1000 == pytest.approx(
        sessions["energy_kwh"].sum(), rel=0.15)
    # only the last half-hours (sessions still running at the end of the range) may await a reading
    waiting = signal[signal["energy_quality"] == "awaiting_reading"]
    assert waiting.empty or waiting["datetime_utc"].min() >= signal["datetime_utc"].max() - pd.Timedelta(hours=12)
    raw = read(store, "raw_spie__transaction_log")
    assert {"Power.Active.Import", "SoC"} <= set(raw["measurand"].dropna())  # kept in raw
    assert raw.loc[raw["measurand"].isin(["Power.Active.Import", "SoC"]), "meter_wh"].isna().all()
    assert set(raw["unit"].dropna()) >= {"kWh", "W", "Percent"}


def test_the_surplus_list_reaches_partners_per_area_and_restricted(world):
    store = world["store"]
    surplus = read(store, "hybrid__green_surplus_stations_in_use")
    product = read(store, "out_uc2__green_surplus_charging")
    opened = read(store, "out_uc2__green_signal")
    assert len(product) > 0 and product["occupancy_area"].notna().all()
    assert "id_pdc_itinerance" not in product.columns and "id_station_itinerance" not in product.columns
    assert (product["charging_hours"] == 0.5 * product["n_charge_points_in_use"]).all()
    complete = product[product["energy_complete"]]
    assert (complete["delivered_power_kw"] - 2 * complete["energy_kwh"]).abs().max() <= 0.002  # both rounded
    assert product.loc[~product["energy_complete"], ["energy_kwh", "delivered_power_kw"]].isna().all().all()
    assert product["latitude"].between(44.1, 45.2).all() and product["longitude"].between(5.4, 7.1).all()
    # every charge point in surplus of a station with an area is counted once, in its area
    area = opened.set_index(["id_station_itinerance", "datetime_utc"])["occupancy_area"]
    in_area = surplus[surplus.set_index(["id_station_itinerance", "datetime_utc"]).index.map(area).notna()]
    assert product["n_charge_points_in_use"].sum() == len(in_area)
    # published as a private dataset of the programme's organisation (the portal mirror, offline); the
    # gate wants the checks of every upstream asset, and the fixture loaded the register without them
    defs = world["defs"]
    assert dg.materialize([*defs.assets, *(defs.asset_checks or [])], selection=["raw_symenergie05__charging_stations"],
                          resources=defs.resources, instance=world["instance"]).success
    result = dg.materialize([*defs.assets, *(defs.asset_checks or [])],
                            selection=[dg.AssetKey(["datasud", "out_uc2__green_surplus_charging"])],
                            resources=defs.resources, instance=world["instance"])
    meta = result.get_asset_materialization_events()[-1].materialization.metadata
    assert meta["outcome"].value == "private"
    import json
    folder = world["settings"].published_dir / "region-sud" / "out_uc2__green_surplus_charging"
    assert json.loads((folder / "package.json").read_text())["private"] is True


def test_sessions_are_pseudonymised_and_the_injected_anomalies_quarantined(world):
    store = world["store"]
    sessions = read(store, "anon_spie__charging_sessions")
    rejects = read(store, "anon_spie__charging_sessions_rejects")
    assert len(sessions) > 200 and sessions["session_id"].is_unique
    assert sessions["user_pseudonym"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert (sessions["end_utc"] >= sessions["start_utc"]).all() and (sessions["energy_kwh"] < 1000).all()
    reasons = set(rejects["reason"].str.split(":").str[0])
    assert reasons & {"duplicate", "overlaps an earlier session on the same charge point",
                      "energy above nominal power x duration + 10%"}
    meta = metadata(world["chain"], "anon_spie__charging_sessions")
    assert meta["pseudonymisation_key_source"].startswith("sample demo key")
    assert anonymise.SAMPLE_DEMO_KEY not in str(meta)


def test_no_raw_identifier_survives_into_any_anon_or_open_output(world):
    store = world["store"]
    tx = read(store, "raw_spie__transaction_log")
    badges = set(tx["id_tag"].dropna())
    tx_ids = {str(t) for t in tx["transaction_id"]}
    assert len(badges) > 50 and len(tx_ids) > 200
    outputs = [d for d in default_catalog().datasets if d.startswith(("anon_", "out_uc2"))]
    scanned = 0
    for dataset in outputs + [f"{d}_rejects" for d in outputs]:
        frame = read(store, dataset)
        if frame.empty:
            continue
        scanned += 1
        text = frame.astype(str)
        values = set(text.to_numpy().ravel())
        assert not values & badges, dataset
        assert not values & tx_ids, dataset
        blob = "\n".join(text.apply("|".join, axis=1))
        assert not any(b in blob for b in list(badges)[:300]), dataset  # not even inside JSON records
    assert scanned >= 4


def test_a_singled_out_session_cannot_be_found_in_the_open_usage(world):
    store = world["store"]
    sessions = read(store, "anon_spie__charging_sessions")
    usage = read(store, "out_uc2__charging_usage")
    k = 5
    assert len(usage) and (usage.loc[~usage["suppressed"], "n_users"] >= k).all()
    assert usage.loc[usage["suppressed"], ["n_sessions", "n_users", "energy_kwh"]].isna().all().all()
    per_station = sessions.groupby("id_station_itinerance").agg(users=("user_pseudonym", "nunique"),
                                                                n=("session_id", "size"))
    lonely = per_station[per_station["users"] < k].index
    assert len(lonely) > 0  # some stations saw fewer than k users in the data: they must be masked
    published = usage[~usage["suppressed"]]
    assert not set(published["id_station_itinerance"]) & set(lonely)
    # take one session of a station used by a single person: nothing published matches its figures
    one = sessions[sessions["id_station_itinerance"].isin(per_station[per_station["users"] == 1].index)]
    if len(one):
        s = one.iloc[0]
        match = published[(published["id_station_itinerance"] == s["id_station_itinerance"])
                          | (published["energy_kwh"].round(1) == round(s["energy_kwh"], 1))]
        assert match.empty
    assert "user_pseudonym" not in usage.columns and "session_id" not in usage.columns
    assert usage["commune_density"].notna().all()  # the INSEE typology of every station's commune
    meta = metadata(world["monthly"], "out_uc2__charging_usage")
    assert meta["k_min_users"] == k and meta["rows_suppressed"] == int(usage["suppressed"].sum())


def test_daily_usage_counts_the_fifty_half_hours_and_carries_a_chart(world):
    daily = read(world["store"], "hybrid__charging_usage_daily")
    assert set(daily["half_hours_in_day"]) == {50} and set(daily["day_local"]) == {DAY2}
    assert daily["occupancy_rate_pct"].between(0, 100).all() and daily["n_sessions"].sum() > 50
    meta = metadata(world["daily"], "hybrid__charging_usage_daily")
    assert "data:image/png;base64" in str(meta["chart"])
    assert isinstance(meta["corr_in_use_regional_green_share_pct"], float)


def test_ownership_follows_the_lineage(world):
    catalog = default_catalog()
    # data assets only (single-part keys): publication steps may reuse a dataset's name under a prefix
    deps = graph_deps([a for a in world["defs"].assets if all(len(k.path) == 1 for k in a.keys)])
    wanted, todo = set(), [d for d in catalog.datasets if "uc2" in d or d.startswith(("hybrid__", "anon_spie"))]
    while todo:  # the UC2 products and everything upstream of them
        d = todo.pop()
        if d not in wanted:
            wanted.add(d)
            todo.extend(deps.get(d, ()))
    lineage = compute_lineage(catalog, {d: deps.get(d, set()) for d in wanted})
    hybrid = lineage["hybrid__green_charging_signal"]
    assert hybrid.access == "closed" and hybrid.personal_data and hybrid.commercially_sensitive
    assert {"rte", "enedis", "symenergie05"} <= set(hybrid.owners)
    sessions = lineage["anon_spie__charging_sessions"]
    assert sessions.access == "restricted" and sessions.personal_data
    for out in ("out_uc2__green_signal", "out_uc2__charging_usage", "out_uc2__signal_forecast"):
        eff = lineage[out]
        assert eff.access == "open" and not eff.personal_data and eff.lifted_by == out
        assert catalog[out].publish
    assert not catalog["hybrid__green_charging_signal"].publish
    # the surplus list: published to the partners only (a private dataset), never open
    from energy_pipelines.governance.policy import PRIVATE, decide
    eff = lineage["out_uc2__green_surplus_charging"]
    assert eff.access == "restricted" and not eff.personal_data and not eff.commercially_sensitive
    assert "hybrid__green_surplus_stations_in_use" in eff.upstream
    assert decide(eff, catalog).outcome == PRIVATE


def test_live_mode_without_a_key_refuses_to_pseudonymise(world):
    # the live history export beside a log overridden to sample: the override cannot let the demo key in
    for live_source in ("spie_transaction_log", "spie_transaction_history"):
        others = {"spie_transaction_log", "spie_transaction_history"} - {live_source}
        defs = build_defs(world["settings"].with_(sources={live_source: {"mode": "live"},
                                                           **{o: {"mode": "sample"} for o in others}}))
        result = dg.materialize(list(defs.assets), selection=["anon_spie__charging_sessions"],
                                partition_key=half_hour_key(datetime(2025, 10, 26, 12, tzinfo=UTC)),
                                resources=defs.resources, instance=dg.DagsterInstance.ephemeral(),
                                raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        message = str(failure.event_specific_data.error.message)
        assert anonymise.KEY_ENV in message and live_source in message


def test_forecasts_are_archived_never_overwritten_and_report_skill(world):
    """Ten days of signal for two grid nodes written straight to storage, then two issues of one day."""
    store, defs = world["store"], world["defs"]
    stations = read(store, "raw_symenergie05__charging_stations").drop_duplicates("id_station_itinerance")
    nodes = sim_signal.node_series(pd.date_range("2025-05-01", "2025-05-11", freq="30min", inclusive="left", tz="UTC"))
    nodes = nodes[nodes["code_poste_source"].isin(["PS05LAR", "PS05ARG"])]
    net_stations = sim_signal.network().stations[["id_station_itinerance", "node"]]
    rows = nodes.merge(net_stations, left_on="code_poste_source", right_on="node")
    rows = rows[rows["id_station_itinerance"].isin(stations["id_station_itinerance"])]
    signal = pd.DataFrame({"datetime_utc": rows["datetime_utc"], "id_pdc_itinerance": rows["id_station_itinerance"] + "X",
                           "id_station_itinerance": rows["id_station_itinerance"], "code_insee_commune": "05070",
                           "code_poste_source": rows["code_poste_source"], "in_use": False, "energy_wh": 0.0,
                           "energy_quality": "ok", "etat_pdc": "en_service", "occupation_pdc": "libre",
                           "local_green_ratio": rows["production_enr_wh"] / rows["consommation_wh"],
                           "regional_green_share_pct": 40.0, "signal_complete": True})
    spec = default_catalog()["hybrid__green_charging_signal"]
    from energy_pipelines.storage.schema import conform
    store.write(spec.id, conform(signal, spec.table_schema.to_arrow(), spec.id), time_column="datetime_utc",
                window=(pd.Timestamp("2025-05-01", tz="UTC"), pd.Timestamp("2025-05-11", tz="UTC")))
    def issue():
        return dg.materialize(list(defs.assets), selection=["out_uc2__signal_forecast"], partition_key="2025-05-10",
                              resources=defs.resources, instance=world["instance"])

    results = [issue()]
    # RTE's figures of the period arrive: the next issue forecasts the regional share too
    rte_range = {"dagster/asset_partition_range_start": half_hour_key(datetime(2025, 4, 20, tzinfo=UTC)),
                 "dagster/asset_partition_range_end": half_hour_key(datetime(2025, 5, 10, 21, 30, tzinfo=UTC))}
    assert dg.materialize(list(defs.assets), selection=["raw_rte__eco2mix_regional", "core_rte__eco2mix_regional"],
                          resources=defs.resources, instance=world["instance"], tags=rte_range).success
    results.append(issue())
    archive = read(store, "out_uc2__signal_forecast")
    assert archive["issued_at_utc"].nunique() == 2  # both issues kept
    one = archive[archive["issued_at_utc"] == archive["issued_at_utc"].min()]
    two = archive[archive["issued_at_utc"] == archive["issued_at_utc"].max()]
    # the expected colour follows the signal's rule. Without RTE: the ratio decides green and orange,
    # below the orange ratio there is no colour (it used to say red)
    low = one["ratio_band"] == "<0.6"
    assert low.any() and one.loc[low, "expected_colour"].isna().all()
    assert (one.loc[low, "expected_colour_reason"] == "no RTE share").all()
    assert one.loc[~low, "expected_colour"].notna().all() and one["expected_regional_green_share_pct"].isna().all()
    # with RTE's share forecast, every colour is decided, and by the share where the ratio is low
    assert two["expected_colour"].notna().all() and two["expected_regional_green_share_pct"].between(0, 400).all()
    rule = np.select([two["ratio_band"].isin(["1-1.5", ">=1.5"]), two["ratio_band"] == "0.6-1",
                      two["expected_regional_green_share_pct"] >= 50.0], ["green", "orange", "orange"], "red")
    assert (two["expected_colour"] == rule).all()
    assert set(two.loc[two["ratio_band"] == "<0.6", "expected_colour"]) <= {"orange", "red"}
    n_stations = one["id_station_itinerance"].nunique()
    assert len(one) == n_stations * 96 and one["p_green"].between(0, 1).all()
    cutoff = paris_day_bounds("2025-05-10")[1]
    assert (one["data_cutoff_utc"] == cutoff).all() and one["target_utc"].min() == cutoff
    assert one["horizon_h"].max() == 48.0
    meta = metadata(results[0], "out_uc2__signal_forecast")
    skill = meta["mean_backtest_skill"]
    print(f"\nforecast skill vs seasonal naive (48 h backtest, 2 nodes): {skill}; "
          f"Brier skill {meta.get('mean_backtest_brier_skill')}")
    assert isinstance(skill, float) and -1 < skill < 1
    assert meta["nodes"] == 2 and meta["nodes_without_backtest"] == 0


def test_cold_signal_medians_per_station_season_and_half_hour(world):
    defs = world["defs"]
    result = dg.materialize(list(defs.assets), selection=["hybrid__green_signal_seasonal_history"],
                            resources=defs.resources, instance=world["instance"])
    assert result.success
    cold = read(world["store"], "hybrid__green_signal_seasonal_history")
    stations = read(world["store"], "raw_symenergie05__charging_stations")["id_station_itinerance"].nunique()
    autumn = cold[cold["season"] == "automne"]
    # the two October days: a Saturday and a Sunday (weekend), every local half-hour of the day
    assert set(autumn["day_type"]) == {"week-end"} and autumn["slot_local"].nunique() == 48
    assert autumn["id_station_itinerance"].nunique() >= stations - 1
    # Enedis' delivered seasonal medians sit beside ours
    assert autumn["enedis_median_ratio"].notna().mean() > 0.9
    assert cold["green_frequency_pct"].between(0, 100).all()


def test_downstream_assets_wait_for_their_clock_and_the_sample_feeder_plays_the_owners(world, tmp_path):
    defs = world["defs"]
    graph = defs.resolve_asset_graph()
    for name in ("hybrid__charging_usage_daily", "out_uc2__signal_forecast", "out_uc2__charging_usage",
                 "hybrid__green_signal_seasonal_history"):
        condition = graph.get(dg.AssetKey(name)).automation_condition
        assert condition is not None and "on_cron" in str(condition.get_label() or condition), name
    for name in ("hybrid__green_charging_signal", "anon_spie__charging_sessions"):
        assert graph.get(dg.AssetKey(name)).automation_condition is None  # the landing sensor runs them
    from energy_pipelines.resources import Platform
    feeder = defs.get_sensor_def("uc2_sample_feeder")
    platform = Platform(home=str(tmp_path / "feed"), mode="sample")
    ctx = dg.build_sensor_context(instance=world["instance"], resources={"platform": platform},
                                  cursor=(datetime.now(UTC) - pd.Timedelta(hours=1)).isoformat())
    feeder.evaluate_tick(ctx)
    for source in ("spie_transaction_log", "spie_event_log", "enedis_green_signal"):
        assert len(list((tmp_path / "feed" / "landing" / source).glob("*.csv"))) >= 1, source
