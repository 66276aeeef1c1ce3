"""UC2 simulator and readers: real communes, seasonality, OCPP consistency, formats, rejects, DST."""

from __future__ import annotations

import gzip
from datetime import date, datetime, timezone

import pandas as pd
import pytest

from energy_pipelines.simulate import charging, climate, green_signal, hautes_alpes, registers
from energy_pipelines.sources.base import load_adapter
from energy_pipelines.sources.landing import LandingZone

UTC = timezone.utc


@pytest.fixture(scope="module")
def net():
    return charging.network()


def test_about_300_charge_points_in_hautes_alpes_communes(net):
    assert 250 <= len(net.pdc) <= 350
    assert net.pdc["id_pdc_itinerance"].is_unique
    assert net.pdc["id_pdc_itinerance"].str.fullmatch(r"[A-Z]{2}[A-Z0-9]{4,33}").all()
    assert net.pdc["commune_code"].str.startswith("05").all()
    assert set(net.stations["node"]) <= {n.code for n in hautes_alpes.NODES}


@pytest.mark.realdata
def test_embedded_communes_are_real_cog_communes_of_the_hautes_alpes(realdata):
    cog = pd.read_csv(realdata / "cog-paca-communes-epci" / "insee_cog_communes_paca.csv", dtype=str)
    epci = pd.read_csv(realdata / "cog-paca-communes-epci" / "dgcl_epcicom_paca.csv", dtype=str)
    names = cog[cog["TYPECOM"] == "COM"].set_index("COM")["LIBELLE"]
    pop = epci.set_index("insee")["ptot_2024"].astype(int)
    for c in hautes_alpes.COMMUNES:
        assert names.get(c.code) == c.name, c.code
        assert pop.get(c.code) == c.population, c.code


def test_sessions_are_deterministic_seasonal_and_consistent(net):
    a = charging.sessions_for_days(net, [date(2025, 2, 15)])
    b = charging.sessions_for_days(net, [date(2025, 2, 15)])
    pd.testing.assert_frame_equal(a, b)
    resort = set(net.pdc.loc[net.pdc["resort"], "id_pdc_itinerance"])
    winter_sat = charging.sessions_for_days(net, [date(2025, 2, 15)])
    shoulder_sat = charging.sessions_for_days(net, [date(2025, 10, 11)])
    in_resorts = lambda s: s["id_pdc_itinerance"].isin(resort).sum()  # noqa: E731
    assert in_resorts(winter_sat) > 2.5 * in_resorts(shoulder_sat)  # ski season
    week = charging.sessions_for_days(net, [date(2025, 10, d) for d in range(6, 13)])
    per_day = week.groupby("day").size()
    assert per_day[date(2025, 10, 8)] > per_day[date(2025, 10, 12)]  # a Wednesday busier than a Sunday
    real = week[week["anomaly"].isna()]
    assert (real["stop"] > real["start"]).all()
    assert ((real["meter_stop_wh"] - real["meter_start_wh"]) == real["energy_wh"]).all()
    # no overlap between real sessions of a charge point; injected ghosts do overlap
    real = real.sort_values(["id_pdc_itinerance", "start"])
    prev_stop = real.groupby("id_pdc_itinerance")["stop"].shift()
    assert (prev_stop.isna() | (real["start"] >= prev_stop)).all()
    assert set(week["anomaly"].dropna()) <= {"overlap", "energy_exceeds_power", "duplicate"}
    # energy never above what the charge point can deliver (anomalies aside)
    hours = (real["stop"] - real["start"]).dt.total_seconds() / 3600
    power = real["id_pdc_itinerance"].map(net.pdc.set_index("id_pdc_itinerance")["power_kw"])
    assert (real["energy_wh"] / 1000 <= power * hours + 1e-6).all()


def test_ocpp_log_replays_the_sessions(net):
    sessions = charging.sessions_for_days(net, [date(2025, 6, 3)])
    sessions = sessions[sessions["anomaly"].isna()]
    msgs = charging.ocpp_messages(sessions)
    stops = msgs[msgs["message"] == "StopTransaction"].set_index("transaction_id")["meter_wh"]
    starts = msgs[msgs["message"] == "StartTransaction"].set_index("transaction_id")["meter_wh"]
    energy = sessions.set_index("transaction_id")["energy_wh"]
    assert ((stops - starts).reindex(energy.index) == energy).all()
    clock = msgs[msgs["context"] == "Sample.Clock"]
    assert (clock["ts"].dt.minute.isin([0, 15, 30, 45]) & (clock["ts"].dt.second == 0)).all()
    on_boundary = clock["ts"].dt.minute.isin([0, 30])
    assert (clock.loc[on_boundary, "slot"] == clock.loc[on_boundary, "ts"] - pd.Timedelta(minutes=30)).all()
    assert (clock.loc[~on_boundary, "slot"] == clock.loc[~on_boundary, "ts"].dt.floor("30min")).all()
    # the register only goes up within a transaction (power and state of charge are other measurands)
    register = msgs[msgs["meter_wh"].notna()].sort_values(["transaction_id", "ts"])
    assert (register.groupby("transaction_id")["meter_wh"].diff().dropna() >= 0).all()


def test_chargers_meter_at_every_cadence_ocpp_allows(net):
    """Clock-aligned (30 and 15 min), periodic (every minute on DC, every 10 min in kWh), or start/stop only."""
    sessions = charging.sessions_for_days(net, [date(2025, 6, 3), date(2025, 6, 4)])
    msgs = charging.ocpp_messages(sessions[sessions["anomaly"].isna()])
    cadence = dict(zip(net.pdc["id_pdc_itinerance"], charging.cadence_of(net.pdc), strict=True))
    assert set(cadence.values()) == set(charging.CADENCES)
    readings = msgs[msgs["message"] == "MeterValues"].assign(cadence=lambda m: m["charge_point_id"].map(cadence))
    assert readings.loc[readings["cadence"] == "start_stop_only"].empty
    per = readings[readings["measurand"] == "Energy.Active.Import.Register"].groupby("transaction_id")["ts"]
    gaps = per.diff().dt.total_seconds().groupby(readings["cadence"]).agg(lambda g: set(g.dropna()))
    assert gaps["periodic_60s_dc"] == {60.0} and gaps["periodic_600s_kwh"] == {600.0}
    assert gaps["clock_15min"] == {900.0} and gaps["clock_30min"] == {1800.0}
    assert set(readings.loc[readings["cadence"] == "periodic_600s_kwh", "unit"]) == {"kWh", "W"}
    dc = readings[readings["cadence"] == "periodic_60s_dc"]
    assert set(dc["measurand"]) == {"Energy.Active.Import.Register", "Power.Active.Import", "SoC"}
    assert dc.loc[dc["measurand"] == "SoC", "meter_value"].astype(int).between(0, 100).all()
    # what the reader makes of it: the register in Wh, kWh included, whatever the cadence
    events = charging.ocpp_events(sessions)
    assert (events["status"] == "Reserved").sum() > 0


def test_half_hourly_drops_roundtrip_and_are_never_overwritten(tmp_path, net):
    lz = LandingZone(tmp_path, "spie_transaction_log")
    start, end = datetime(2025, 6, 3, 16, tzinfo=UTC), datetime(2025, 6, 3, 19, tzinfo=UTC)
    written = charging.write_transaction_log(lz, start, end, net=net)
    assert len(written) == 6 and written[0].name == "spie_symenergie05_transactions_20250603T1600Z.csv"
    adapter = load_adapter("spie_transaction_log")
    read = lz.read_window(adapter, start, end)
    assert read.rejects.empty and len(read.rows) > 50
    assert (read.rows["datetime_utc"] >= start).all() and (read.rows["datetime_utc"] < end).all()
    # the owner's correction stays: a second simulation does not rewrite a delivered file
    written[0].write_text(written[0].read_text() + "garbage;line\n")
    assert charging.write_transaction_log(lz, start, end, net=net) == []
    assert "garbage" in written[0].read_text()
    assert charging.write_transaction_log(lz, start, end, now=datetime(2025, 6, 3, 16, 50, tzinfo=UTC)) == []


def test_malformed_log_rows_are_quarantined_with_their_reason(tmp_path):
    folder = tmp_path / "spie_transaction_log"
    folder.mkdir()
    path = folder / "spie_symenergie05_transactions_20251026T0100Z.csv"
    path.write_text(
        "timestamp;charge_point_id;connector_id;message;transaction_id;id_tag;id_tag_status;meter_wh;measurand;context;reason\n"
        "2025-10-26T01:05:00Z;FRS05E05061011;1;StartTransaction;7;04AABBCCDDEEFF;Accepted;1000;;Transaction.Begin;\n"
        "2025-10-26T01:30:00Z;FRS05E05061011;1;MeterValues;7;;;4000;Energy.Active.Import.Register;Sample.Clock;\n"
        "2025-10-26T01:10:00Z;FRS05E05061011;1;Heartbeat;7;;;4000;;;\n"
        "not-a-time;FRS05E05061011;1;StopTransaction;7;;;4000;;;Local\n"
        "2025-10-26T01:12:00Z;bad id;1;StopTransaction;7;;;4000;;;Local\n"
        "2025-10-26T01:15:00Z;FRS05E05061011;1;StopTransaction;7;;;-5;;;Local\n"
        "2025-10-26T01:20:00Z;FRS05E05061011;1\n"
        "2025-10-26T03:20:00Z;FRS05E05061011;1;StopTransaction;7;;;4100;;;Local\n")
    read = load_adapter("spie_transaction_log").read_file(path)
    assert read.rows["message"].tolist() == ["StartTransaction", "MeterValues"]
    assert (read.rows["datetime_utc"] == pd.Timestamp("2025-10-26T01:00Z")).all()  # 01:30 closes 01:00
    reasons = sorted(read.rejects["reason"].str.split(":").str[0])
    assert reasons == ["charge_point_id is not an IRVE id_pdc_itinerance",
                       "meterStart / meterStop is not a non-negative integer in Wh (OCPP 1.6)",
                       "row reports on another half-hour than its file", "truncated row",
                       "unknown OCPP message", "unparseable timestamp"]


def test_enedis_signal_on_the_autumn_dst_night(tmp_path, net):
    lz = LandingZone(tmp_path, "enedis_green_signal")
    start, end = datetime(2025, 10, 26, 0, tzinfo=UTC), datetime(2025, 10, 26, 2, tzinfo=UTC)
    files = green_signal.write_signal(lz, start, end, net=net)
    assert len(files) == 4
    first = files[0].read_text().splitlines()[1]
    second = files[2].read_text().splitlines()[1]
    assert first.startswith("2025-10-26T02:00:00+02:00") and second.startswith("2025-10-26T02:00:00+01:00")
    read = lz.read_window(load_adapter("enedis_green_signal"), start, end)
    assert read.rejects.empty
    assert read.rows["datetime_utc"].nunique() == 4 and len(read.rows) == 4 * len(net.stations)
    bad = lz.dir / "enedis_signal_vert_05_20251026T0200Z.csv"
    bad.write_text("horodate;id_station_itinerance;num_pdl;code_poste_source;production_enr_wh;consommation_wh;ratio_vert\n"
                   "2025-10-26T03:00:00+01:00;FRS05P0506101;1;PS05GAP;100;0;\n"
                   "2025-10-26T03:00:00+01:00;FRS05P0506102;1;PS05GAP;100;200;0.9\n"
                   "2025-10-26T03:10:00+01:00;FRS05P0506103;1;PS05GAP;100;200;0.5\n")
    r = load_adapter("enedis_green_signal").read_file(bad)
    assert r.rejects["reason"].tolist() == ["consumption is zero: the ratio is undefined",
                                            "ratio_vert disagrees with production_enr_wh / consommation_wh",
                                            "horodate is not the start of a half-hour"]


def test_meteofrance_hourly_files_cover_six_departements(tmp_path):
    lz = LandingZone(tmp_path, "meteofrance_weather")
    start, end = datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 2, tzinfo=UTC)
    files = climate.write_weather(lz, start, end)
    assert sorted(f.name[:4] for f in files) == ["H_04", "H_05", "H_06", "H_13", "H_83", "H_84"]
    raw = gzip.decompress(files[0].read_bytes()).decode().splitlines()
    assert raw[0].startswith("NUM_POSTE;NOM_USUEL;LAT;LON;ALTI;AAAAMMJJHH")
    read = lz.read_window(load_adapter("meteofrance"), start, end)
    rows = read.rows
    assert read.rejects.empty and set(rows["departement_code"]) == set(hautes_alpes.PACA_DEPARTEMENTS)
    assert len(rows) == 24 * len(hautes_alpes.WEATHER_STATIONS)
    noon = rows[rows["datetime_utc"].dt.hour == 12]
    assert noon["irradiance_wm2"].dropna().between(300, 1100).all()
    assert rows[rows["datetime_utc"].dt.hour == 0]["irradiance_wm2"].dropna().eq(0).all()
    # mountains are colder than the coast
    t = rows.groupby("station_id")["temperature_c"].mean()
    assert t["05079001"] < t["06088001"] - 5
    # GLO J/cm² -> mean W/m² over the hour
    line = next(x for x in raw[1:] if x.split(";")[5].endswith("12") and x.split(";")[16])
    glo = float(line.split(";")[16])
    got = rows[(rows["station_id"] == line.split(";")[0]) & (rows["datetime_utc"].dt.hour == 12)]["irradiance_wm2"].iat[0]
    assert got == pytest.approx(glo * 10_000 / 3_600, abs=0.1)


def test_irve_file_is_schema_2_3_0_and_the_broken_row_is_refused(tmp_path):
    lz = LandingZone(tmp_path, "irve_symenergie05")
    registers.write_irve(lz, datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
    text = (lz.dir / registers.SAMPLE_IRVE_FILE).read_text()
    header = text.splitlines()[0].split(",")
    assert header == registers.IRVE_FIELDS and len(header) == 40
    read = lz.read_window(load_adapter("irve"), datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
    assert read.rejects["reason"].tolist() == ["id_pdc_itinerance does not match the IRVE pattern"]
    assert len(read.rows) == len(charging.network().pdc)
    assert read.rows["puissance_nominale_kw"].isin([22.0, 50.0]).all()
    assert read.rows["longitude"].between(5.4, 7.1).all() and read.rows["latitude"].between(44.1, 45.2).all()
    # a national consolidated file with its extra columns and ';' is read the same way
    frame = pd.read_csv(lz.dir / registers.SAMPLE_IRVE_FILE, dtype=str, keep_default_na=False)
    frame["consolidated_longitude"] = frame["coordonneesXY"]
    (lz.dir / "national.csv").write_text(frame.to_csv(sep=";", index=False))
    again = load_adapter("irve").read_file(lz.dir / "national.csv")
    assert len(again.rows) == len(read.rows)



@pytest.mark.parametrize("source", ["spie_transaction_log", "spie_event_log", "enedis_green_signal"])
def test_the_arrow_fast_path_gives_the_careful_readers_rows(tmp_path, net, source):
    """Clean drops take the Arrow path; it must give exactly what the careful (pandas) reader gives."""
    writers = {"spie_transaction_log": charging.write_transaction_log, "spie_event_log": charging.write_event_log,
               "enedis_green_signal": green_signal.write_signal}
    lz = LandingZone(tmp_path, source)
    files = writers[source](lz, datetime(2025, 10, 25, 22, tzinfo=UTC), datetime(2025, 10, 26, 4, tzinfo=UTC), net=net)
    adapter = load_adapter(source)
    for path in files:
        fast = adapter._fast(path)
        assert fast is not None, path.name
        adapter_fast, adapter._fast = adapter._fast, (lambda p: None)
        try:
            slow = adapter.read_file(path)
        finally:
            adapter._fast = adapter_fast
        assert slow.rejects.empty
        pd.testing.assert_frame_equal(fast.rows.reset_index(drop=True), slow.rows.reset_index(drop=True),
                                      check_dtype=False)
    # a file with anything odd goes the careful way, which explains the refusals
    odd = files[0]
    odd.write_text(odd.read_text() + "garbage;line\n")
    assert adapter._fast(odd) is None
