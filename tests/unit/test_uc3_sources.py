"""UC3 sources: Enedis per-commune extracts, Enedis open aggregates, COG referential, their simulators."""

import io
import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from energy_pipelines.simulate import enedis_communes, enedis_open, paca_mix
from energy_pipelines.sources.base import SourceFileError
from energy_pipelines.sources.enedis_commune import ADAPTER as COMMUNES
from energy_pipelines.sources.enedis_open import ADAPTER as OPEN
from energy_pipelines.sources.insee_cog import ADAPTER as COG
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.territories import Commune


UTC = timezone.utc
CONSUMPTION_HEADER = ("horodate;code_commune;nom_commune;secteur_activite;nb_points_soutirage;"
                      "total_energie_soutiree_wh;energie_soutiree_max_point_wh\n")


def _write(tmp_path, folder, name, text):
    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_commune_extract_locates_the_repeated_october_hour_and_rejects_bad_rows(tmp_path):
    text = CONSUMPTION_HEADER + "".join([
        "2025-10-26T02:00:00+02:00;83137;Toulon;Résidentiel;120;50000;900\n",
        "2025-10-26T02:00:00+01:00;83137;Toulon;Résidentiel;120;51000;950\n",
        "2025-10-26T03:00:00+01:00;83137;Toulon;Entreprise;4;-12;0\n",
        "2025-10-26T03:00:00+01:00;8313;Toulon;Entreprise;4;12;3\n",
        "2025-10-26T03:10:00+01:00;83137;Toulon;Entreprise;4;12;3\n",
        "2025-10-26T03:30:00+01:00;83137;Toulon;Professionnel;4;12;20\n",
        "2025-10-26T04:00:00+01:00;83137;Toulon;Professionnel;4;1,5e3;\n",
        "2025-10-26T04:30:00+01:00;83137\n",
    ])
    path = _write(tmp_path, "enedis_commune_consumption", "ENEDIS_FLEXGRID_CONSO_COMMUNES_20251026_20251026.csv", text)
    read = COMMUNES.read_file(path)
    rows = read.rows
    assert rows["datetime_utc"].tolist()[:2] == [pd.Timestamp("2025-10-26 00:00", tz="UTC"),
                                                  pd.Timestamp("2025-10-26 01:00", tz="UTC")]
    assert rows["total_energie_soutiree_wh"].tolist() == [50000.0, 51000.0, 1500.0]
    assert np.isnan(rows["energie_soutiree_max_point_wh"].iat[2])  # optional, empty: unknown
    reasons = sorted(read.rejects["reason"].str.split(":").str[0])
    assert reasons == ["horodate not on a half-hour boundary", "invalid INSEE commune code '8313'",
                       "largest point above the cell total", "negative total_energie_soutiree_wh",
                       "truncated row"]
    assert read.rejects["source_line"].notna().all()
    span = COMMUNES.span_from_name(path)
    assert (span[1] - span[0]) == pd.Timedelta(hours=25)


def test_commune_extract_accepts_portal_labels_and_refuses_the_wrong_folder(tmp_path):
    text = ("Horodate;Code INSEE commune;Nom commune;Filière de production;Nb points injection;"
            "Puissance installée (kW);Total énergie injectée (Wh);Energie injectée max point (Wh)\n"
            "2025-06-01T12:00:00+02:00;04070;Digne-les-Bains;F5 : Solaire;300;2100.5;700000;90000\n")
    path = _write(tmp_path, "enedis_commune_production", "prod.csv", text)
    rows = COMMUNES.read_file(path).rows
    assert rows.loc[0, "filiere_de_production"] == "F5 : Solaire" and rows.loc[0, "puissance_installee_kw"] == 2100.5
    wrong = _write(tmp_path, "enedis_commune_consumption", "prod.csv", text)
    with pytest.raises(SourceFileError, match="landing folder of consumption"):
        COMMUNES.read_file(wrong)


def test_open_aggregates_keep_secret_marks_as_received(tmp_path):
    times = pd.date_range("2025-03-30 00:00", periods=4, freq="30min", tz="UTC")
    csv_text = enedis_open.export("conso-inf36-region", times)
    path = _write(tmp_path, "enedis_conso_inf36_region", "sample_conso-inf36-region_93_2025-03-30.csv", csv_text)
    rows = OPEN.read_file(path).rows
    secret = rows[rows["indice_representativite_courbe_ndeg1_ndeg2"] == "S"]
    assert set(secret["profil"]) == {"PRO6"}
    assert secret["total_energie_soutiree_wh"].nunique() == 1  # the day's mean, repeated
    records = json.loads(pd.read_csv(path, sep=";", dtype=str).head(3).to_json(orient="records"))
    json_path = _write(tmp_path, "enedis_conso_inf36_region", "ods.json", json.dumps(records))
    assert len(OPEN.read_file(json_path).rows) == 3
    misplaced = _write(tmp_path, "enedis_prod_region", "x.csv", csv_text)
    with pytest.raises(SourceFileError, match="landing folder of prod-region"):
        OPEN.read_file(misplaced)


def test_open_aggregates_are_consistent_with_the_regional_mix():
    times = pd.date_range("2025-06-16 00:00", periods=48 * 7, freq="30min", tz="UTC")
    mix = paca_mix.mix(times)
    prod = pd.read_csv(io.StringIO(enedis_open.export("prod-region", times)), sep=";")
    solar = prod[(prod["filiere_de_production"] == "F5 : Solaire") & prod["plage_de_puissance_injection"].str.startswith("P0")]
    assert np.allclose(solar["total_energie_injectee_wh"].to_numpy(), 0.85 * mix["solaire"].to_numpy() * 5e5, atol=1)
    consumption = 0
    for dataset in ("conso-inf36-region", "conso-sup36-region"):
        frame = pd.read_csv(io.StringIO(enedis_open.export(dataset, times)), sep=";")
        consumption += frame["total_energie_soutiree_wh"].sum()
    share = consumption / (mix["consommation"].sum() * 5e5)
    assert 0.7 < share < 0.95  # the distribution network's part of RTE's regional consumption


def test_commune_simulator_is_deterministic_sized_and_follows_the_sun(tmp_path):
    models = enedis_communes.models({c.code: c for c in [Commune(code="13055", name="Marseille", population=870000),
                                                         Commune(code="04070", name="Digne-les-Bains", population=16000)]})
    day = pd.date_range("2025-06-21 00:00", "2025-06-22 00:00", freq="30min", inclusive="left", tz="Europe/Paris")
    times = day.tz_convert("UTC")
    first = enedis_communes.extract("production", times, models)
    assert first == enedis_communes.extract("production", times, models)
    prod = pd.read_csv(io.StringIO(first), sep=";", dtype={"code_commune": str})
    solar = prod[prod["filiere_de_production"] == "F5 : Solaire"].copy()
    solar["hour"] = pd.to_datetime(solar["horodate"], utc=True).dt.tz_convert("Europe/Paris").dt.hour
    assert solar.loc[solar["hour"].isin([0, 1, 2, 23]), "total_energie_injectee_wh"].eq(0).all()
    assert solar.loc[solar["hour"] == 14, "total_energie_injectee_wh"].gt(0).all()
    cons = pd.read_csv(io.StringIO(enedis_communes.extract("consumption", times, models)), sep=";",
                       dtype={"code_commune": str})
    mean_kw = cons.groupby("code_commune")["total_energie_soutiree_wh"].sum() / 500.0 / 48
    per_inhabitant = mean_kw / pd.Series({"13055": 870000, "04070": 16000})
    assert per_inhabitant.between(0.3, 1.5).all()


def test_simulated_day_files_hold_46_half_hours_in_spring(tmp_path):
    landing = LandingZone(tmp_path, "enedis_commune_consumption")
    models = enedis_communes.models({"83137": Commune(code="83137", name="Toulon", population=180000)})
    written = enedis_communes.paris_day_files(
        landing, datetime(2025, 3, 29, 23, tzinfo=UTC), datetime(2025, 3, 30, 22, tzinfo=UTC),
        now=datetime(2026, 1, 1, tzinfo=UTC), name=lambda d: f"ENEDIS_FLEXGRID_CONSO_COMMUNES_{d.replace('-', '')}_{d.replace('-', '')}.csv",
        content=lambda t: enedis_communes.extract("consumption", t, models))
    assert [p.name for p in written] == ["ENEDIS_FLEXGRID_CONSO_COMMUNES_20250330_20250330.csv"]
    rows = COMMUNES.read_file(written[0]).rows
    assert rows["datetime_utc"].nunique() == 46


@pytest.mark.realdata
def test_cog_and_epci_files_read_and_the_territory_lists_match_them(realdata):
    from energy_pipelines.settings import CATALOG_DIR
    from energy_pipelines.territories import load_territories

    folder = realdata / "cog-paca-communes-epci"
    cog = COG.read_file(folder / "insee_cog_communes_paca.csv")
    epci = COG.read_file(folder / "dgcl_epcicom_paca.csv")
    assert (cog.rows["commune_type"] == "COM").sum() == 946 and len(epci.rows) == 946
    assert cog.rejects.empty and epci.rejects.empty
    assert epci.rows["millesime"].iat[0] == 2024
    communes = set(cog.rows.loc[cog.rows["commune_type"] == "COM", "commune_code"])
    for territory in load_territories(CATALOG_DIR / "territories").values():
        assert set(territory.codes) <= communes, territory.id
        if territory.epci_siren:
            members = set(epci.rows.loc[epci.rows["epci_siren"] == territory.epci_siren, "commune_code"])
            assert set(territory.codes) == members, territory.id
