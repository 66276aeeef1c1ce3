"""UC1 readers: ORE (both Opendatasoft header forms, NAF form), Enedis annual production, CIGALE, INSEE populations.

Each bad-input case is a file built here: mojibake names, codes without their leading zero, blank secret
cells, unknown sectors, a year in the future. Every line ends up as rows or as a reject with its reason.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.sources.base import SourceFileError
from energy_pipelines.sources.cigale_inventory import ADAPTER as CIGALE
from energy_pipelines.sources.enedis_production_annual import ADAPTER as ENEDIS
from energy_pipelines.sources.insee_population import ADAPTER as POPULATION
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.sources.ore_consumption import ADAPTER as ORE
from energy_pipelines.sources.ore_consumption import pad_codes, repair_mojibake

UTC = timezone.utc
SECTORS = ["a", "i", "t", "r", "na"]
LABEL = {"a": ("Agriculture", "agriculture", "Indique qualité Agriculture"),
         "i": ("Industrie", "industrie", "Indice qualité Industrie"),
         "t": ("Tertiaire ", "tertiaire", "Indice qualité Tertiaire"),
         "r": ("Résidentiel ", "résidentiel", "Indice qualité Résidentiel"),
         "na": ("Secteur Inconnu", "secteur inconnu", "Indice qualité Non Affecté")}
TAIL_FIELDS = ["code_commune", "libelle_commune", "code_epci", "libelle_epci", "code_departement",
               "libelle_departement", "code_region", "libelle_region", "id_filiere", "consototale"]
TAIL_LABELS = ["Code Commune", "Libellé Commune", "Code EPCI", "Libellé EPCI", "Code Département",
               "Libellé Département", "Code Région", "Libellé Région", "Identifiant de la filière",
               "Consommation totale (MWh)"]


def ore_header(labels: bool) -> list[str]:
    head = ["Opérateur", "Année", "Filière"] if labels else ["operateur", "annee", "filiere"]
    for s in SECTORS:
        c, n, q = LABEL[s]
        head += ([f"Consommation {c} (MWh)", f"Nombre de points {c.strip()}", f"Nombre de mailles secretisées ({n})", q]
                 if labels else [f"conso{s}", f"pdl{s}", f"nombre_mailles_secretisees_{s}", f"indqual{s}"])
    return head + (TAIL_LABELS if labels else TAIL_FIELDS)


def ore_line(year="2019", filiere="Electricité", cells=None, commune=("04001", "Aiglun"), dep="04") -> list[str]:
    cells = cells or {s: ("100.5", "20", "0", "0.9") for s in SECTORS}
    out = ["Enedis", year, filiere]
    for s in SECTORS:
        out += list(cells[s])
    return out + [commune[0], commune[1], "200067437", "Provence Alpes Agglomération", dep,
                  "Alpes-de-Haute-Provence", "93", "Provence-Alpes-Côte d'Azur", "200" if filiere == "Gaz" else "100",
                  "502.5"]


def write(tmp_path, name, header, lines, sep=";", encoding="utf-8"):
    path = tmp_path / name
    path.write_text("\n".join(sep.join(x) for x in [header, *lines]) + "\n", encoding=encoding)
    return path


# -- helpers -------------------------------------------------------------------------------------

def test_mojibake_is_repaired_and_clean_text_left_alone():
    assert repair_mojibake("Deux-SÃ¨vres") == ("Deux-Sèvres", True)
    assert repair_mojibake("Provence-Alpes-CÃ´te d'Azur") == ("Provence-Alpes-Côte d'Azur", True)
    assert repair_mojibake("Ã\x8ele-de-France") == ("Île-de-France", True)
    assert repair_mojibake("Bouches-du-Rhône") == ("Bouches-du-Rhône", False)
    assert repair_mojibake("Châteauvert") == ("Châteauvert", False)


def test_codes_that_lost_their_leading_zero_are_padded_and_counted():
    import pandas as pd

    codes, valid, padded = pad_codes(pd.Series(["4", "04", "13", "4001", "2A004", "x1", ""]), 5,
                                     r"(?:[0-9]{2}|2[AB])[0-9]{3}")
    assert list(codes) == ["00004", "00004", "00013", "04001", "2A004", "x1", None]
    assert list(valid) == [True, True, True, True, True, False, True]
    assert padded == 4


# -- ORE -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [False, True])
def test_ore_both_header_forms_give_the_same_rows(tmp_path, labels):
    lines = [ore_line(), ore_line(filiere="Gaz")]
    fields = ORE.read_file(write(tmp_path, "f.csv", ore_header(False), lines))
    other = ORE.read_file(write(tmp_path, "g.csv", ore_header(labels), lines))
    cols = [c for c in fields.rows.columns if c != "source_format"]
    assert other.rows[cols].equals(fields.rows[cols])
    assert set(other.rows["source_format"]) == {"ore_sectors_labels" if labels else "ore_sectors_fields"}
    assert len(fields.rows) == 10 and fields.rejects.empty
    assert set(fields.rows["sector"]) == {"agriculture", "industrie", "tertiaire", "residentiel", "non_affecte"}
    assert set(fields.rows["energy"]) == {"electricite", "gaz"}


def test_ore_secret_cells_are_unknown_not_zero_and_true_zeros_stay_zero(tmp_path):
    cells = {"a": ("0.0", "0", "1", "0.0"),      # ORE's secret: 0 MWh, 0 points, one masked cell
             "i": ("0.0", "0", "0", "0.0"),      # a true zero: no industry here
             "t": ("", "", "0", ""),             # blank: secret too
             "r": ("512.3", "120", "2", "0.3"),  # an aggregate that omits two masked IRIS
             "na": ("3.0", "2", "0", "0.9")}
    read = ORE.read_file(write(tmp_path, "s.csv", ore_header(True), [ore_line(cells=cells)]))
    rows = read.rows.set_index("sector")
    assert rows.at["agriculture", "secret"] and rows[["consumption_mwh", "delivery_points"]].loc["agriculture"].isna().all()
    assert rows.at["agriculture", "secret_marker"] == "zero_with_count"
    assert not rows.at["industrie", "secret"] and rows.at["industrie", "consumption_mwh"] == 0.0
    assert rows.at["tertiaire", "secret"] and rows.at["tertiaire", "secret_marker"] == "blank"
    assert not rows.at["residentiel", "secret"] and rows.at["residentiel", "secret_cells"] == 2
    assert rows.at["residentiel", "consumption_mwh"] == pytest.approx(512.3)
    assert read.stats["secret_cells_zero_with_count"] == 1 and read.stats["secret_cells_blank"] == 1


def test_ore_bad_file_loses_nothing_each_line_is_rows_or_a_reason(tmp_path):
    """Mojibake names, codes without leading zero, blank secret cells, an unknown filière, a year in the future."""
    lines = [
        ore_line(commune=("4001", "Aiglun"), dep="4"),                      # codes lost their zero
        ore_line(commune=("04006", "Allemagne-en-Provence".encode().decode("latin-1"))),  # clean, but see below
        ore_line(commune=("04019", "Ch\u00c3\u00a2teau-Arnoux")),           # mojibake name
        ore_line(cells={s: ("", "", "0", "") for s in SECTORS}),            # every cell blank: secret
        ore_line(filiere="Chaleur"),                                        # unknown filière (id_filiere 100)
        ore_line(year="2999"),                                              # a year in the future
        ore_line(year="20xx"),                                              # unparseable year
        ore_line(cells={**{s: ("1", "1", "0", "1") for s in SECTORS}, "i": ("-4", "1", "0", "1")}),  # negative
        ore_line(cells={**{s: ("1", "1", "0", "1") for s in SECTORS}, "t": ("12,5x", "1", "0", "1")}),  # garbage
    ]
    read = ORE.read_file(write(tmp_path, "bad.csv", ore_header(False), lines))
    kept_lines = set(read.rows["source_line"])
    rejected = dict(zip(read.rejects["source_line"], read.rejects["reason"], strict=True))
    assert kept_lines | set(rejected) == set(range(2, 2 + len(lines))) and not kept_lines & set(rejected)
    assert len(read.rows) == 5 * len(kept_lines)
    assert "unknown filière 'Chaleur'" in rejected[6]
    assert "year 2999 is not over yet" in rejected[7]
    assert "unparseable year '20xx'" in rejected[8]
    assert "negative" in rejected[9]
    assert "unparseable consumption '12,5x'" in rejected[10]
    first = read.rows[read.rows["source_line"] == 2]
    assert set(first["commune_code"]) == {"04001"} and set(first["departement_code"]) == {"04"}
    assert read.stats["codes_padded"] == 2
    assert set(read.rows.loc[read.rows["source_line"] == 4, "territory_name"]) == {"Château-Arnoux"}
    assert read.stats["names_repaired"] >= 1
    blank = read.rows[read.rows["source_line"] == 5]
    assert blank["secret"].all() and blank["consumption_mwh"].isna().all()
    # the reject keeps the whole line as delivered
    assert json.loads(read.rejects.set_index("source_line").at[6, "record"])["filiere"] == "Chaleur"


def test_ore_filiere_label_and_id_must_agree_and_the_id_stands_in_for_a_blank_label(tmp_path):
    clash = ore_line(filiere="Gaz")
    clash[-2] = "100"
    read = ORE.read_file(write(tmp_path, "c.csv", ore_header(False), [clash, ore_line(filiere="")]))
    assert read.rejects["reason"].tolist() == ["filière 'Gaz' contradicts id_filiere 100"]
    assert set(read.rows["energy"]) == {"electricite"} and set(read.rows["source_line"]) == {3}


def test_ore_unknown_sector_column_fails_the_file_naming_it(tmp_path):
    header = ore_header(True) + ["Consommation Transport (MWh)"]
    path = write(tmp_path, "x.csv", header, [ore_line() + ["12"]])
    with pytest.raises(SourceFileError, match="unknown sector in column 'Consommation Transport \\(MWh\\)'"):
        ORE.read_file(path)


def test_ore_a_file_that_is_not_ore_is_refused_with_the_missing_columns(tmp_path):
    path = write(tmp_path, "x.csv", ["date", "valeur"], [["2019", "1"]])
    with pytest.raises(SourceFileError, match="missing column"):
        ORE.read_file(path)


def test_ore_naf_form_reads_sector_codes_and_quarantines_unknown_ones(tmp_path):
    header = ["operateur", "annee", "filiere", "code_categorie_consommation", "libelle_categorie_consommation",
              "code_grand_secteur", "libelle_grand_secteur", "code_naf", "libelle_secteur_naf2", "conso", "pdl",
              "indqual", "nombre_mailles_secretisees", "code_region", "libelle_region"]
    lines = [["Enedis", "2019", "Electricité", "ENT", "Entreprises", "I", "Industrie", "21", "Pharma", "10.5", "1",
              "1.0", "0", "93", "PACA"],
             ["Enedis", "2019", "Electricité", "RES", "Résidentiel", "R", "Résidentiel", "", "0", "0", "0", "0", "3",
              "93", "PACA"],
             ["Enedis", "2019", "Electricité", "ENT", "Entreprises", "Z", "Spatial", "", "0", "5", "1", "1", "0", "93",
              "PACA"]]
    read = ORE.read_file(write(tmp_path, "naf.csv", header, lines))
    assert list(read.rows["sector"]) == ["industrie", "residentiel"]
    assert read.rows["secret"].tolist() == [False, True]
    assert read.rows["naf_code"].tolist()[0] == "21" and read.rows["maille"].unique().tolist() == ["region"]
    assert read.rejects["reason"].tolist() == ["unknown sector code 'Z'"]


def test_future_year_rejects_are_kept_in_the_window_of_the_file(tmp_path):
    """A reject without a usable year is anchored to the file's first year, so a run stores it (nothing lost)."""
    landing = LandingZone(tmp_path, "ore_local")
    landing.dir.mkdir(parents=True)
    write(landing.dir, "mix.csv", ore_header(False), [ore_line(year="2019"), ore_line(year="2999")])
    start, end = datetime(2018, 12, 31, 23, tzinfo=UTC), datetime(2019, 12, 31, 23, tzinfo=UTC)
    read = landing.read_window(ORE, start, end)
    assert len(read.rows) == 5
    assert read.rejects["reason"].str.contains("2999").sum() == 1


cell = st.tuples(st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 3)), st.integers(0, 5000),
                 st.integers(0, 3), st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.fixed_dictionaries({s: cell for s in SECTORS}), min_size=1, max_size=8))
def test_ore_property_every_cell_is_exactly_one_row_and_secret_means_zero_with_count(tmp_path_factory, lines):
    tmp = tmp_path_factory.mktemp("ore")
    text = []
    for line in lines:
        cells = {}
        for s, (mwh, pts, count, zero) in line.items():
            cells[s] = ("0.0", "0", str(count), "0") if zero else (str(mwh), str(pts), str(count), "0.5")
        text.append(ore_line(cells=cells))
    read = ORE.read_file(write(tmp, "p.csv", ore_header(False), text))
    assert len(read.rows) == 5 * len(lines) and read.rejects.empty
    for (line_no, sector), row in read.rows.set_index(["source_line", "sector"]).iterrows():
        code = {"agriculture": "a", "industrie": "i", "tertiaire": "t", "residentiel": "r", "non_affecte": "na"}[sector]
        mwh, pts, count, zero = lines[line_no - 2][code]
        expected_secret = (zero or (mwh == 0 and pts == 0)) and count > 0
        assert row["secret"] == expected_secret
        if expected_secret:
            assert row["consumption_mwh"] != row["consumption_mwh"]  # NaN: unknown
        else:
            assert row["consumption_mwh"] == pytest.approx(0.0 if zero else mwh)


# -- Enedis ----------------------------------------------------------------------------------------

ENEDIS_FILIERES = ["photovoltaique", "eolien", "hydraulique", "bio_energie", "cogeneration", "autres_filieres"]


def enedis_header(extra=()):
    head = ["annee", "nom_departement", "code_departement", "nom_region", "code_region", "domaine_de_tension"]
    for f in [*ENEDIS_FILIERES, *extra]:
        head += [f"nb_sites_{f}_enedis", f"energie_produite_annuelle_{f}_enedis_mwh"]
    return head + ["geom", "geo_point_2d"]


def test_enedis_defective_copy_is_read_with_clear_handling(tmp_path):
    name = "Bouches-du-Rhône".encode().decode("latin-1")
    region = "Provence-Alpes-Côte d'Azur".encode().decode("latin-1")
    pairs = ["12", "300.5", "", "", "0", "0", "1", "50.2", "0", "0", "0", "0"]
    geo = '"{""type"": ""Polygon"", ""coordinates"": [[[5.1, 43.2], [5.2, 43.3]]]}"'
    lines = [["2019", name, "13", region, "93", "BT <= 36 kVA", *pairs, geo, '"43.5, 5.1"'],
             ["2019", "Alpes-de-Haute-Provence", "4", region, "93", "HTA", *pairs, "", ""],
             ["2999", "Var", "83", region, "93", "HTA", *pairs, "", ""],
             ["2019", "Var", "83", region, "93", "HTA", "x", *pairs[1:], "", ""]]
    read = ENEDIS.read_file(write(tmp_path, "prod.csv", enedis_header(), lines, sep=","))
    rows = read.rows
    assert set(rows["territory_name"]) == {"Bouches-du-Rhône", "Alpes-de-Haute-Provence"}
    assert set(rows["departement_code"]) == {"13", "04"} and read.stats["codes_padded"] == 1
    assert read.stats["names_repaired"] == 1
    eolien = rows[rows["filiere"] == "eolien"]
    assert eolien["secret"].all() and eolien["energy_mwh"].isna().all() and eolien["sites"].isna().all()
    assert not rows[rows["filiere"] == "hydraulique"]["secret"].any()  # published zeros are zeros
    assert rows[rows["filiere"] == "hydraulique"]["energy_mwh"].eq(0).all()
    reasons = dict(zip(read.rejects["source_line"], read.rejects["reason"], strict=True))
    assert "year 2999 is not over yet" in reasons[4] and "unparseable nb_sites_photovoltaique_enedis 'x'" in reasons[5]
    assert len(rows) == 2 * 6 and set(rows["source_format"]) == {"enedis_fields_comma"}


def test_enedis_labels_form_is_read_like_field_names(tmp_path):
    labels = ["Année", "Nom commune", "Code commune", "Domaine de tension"]
    fields = ["annee", "nom_commune", "code_commune", "domaine_de_tension"]
    nice = {"photovoltaique": "Photovoltaïque", "eolien": "Eolien"}
    for f, lab in nice.items():
        labels += [f"Nb sites {lab} Enedis", f"Energie produite annuelle {lab} Enedis (MWh)"]
        fields += [f"nb_sites_{f}_enedis", f"energie_produite_annuelle_{f}_enedis_mwh"]
    line = [["2020", "Aiglun", "04001", "HTA", "3", "1200.5", "0", "0"]]
    a = ENEDIS.read_file(write(tmp_path, "a.csv", labels, line))
    b = ENEDIS.read_file(write(tmp_path, "b.csv", fields, line))
    cols = [c for c in a.rows.columns if c != "source_format"]
    assert a.rows[cols].equals(b.rows[cols]) and set(a.rows["maille"]) == {"commune"}


def test_enedis_unknown_filiere_column_fails_the_file(tmp_path):
    path = write(tmp_path, "x.csv", enedis_header(extra=["nucleaire"]), [["2019"] + [""] * 23])
    with pytest.raises(SourceFileError, match="unknown filière in column 'nb_sites_nucleaire_enedis'"):
        ENEDIS.read_file(path)


# -- CIGALE ----------------------------------------------------------------------------------------

CIGALE_HEAD = ["Version", "Année", "Code INSEE", "Commune", "Type", "Secteur", "Catégorie", "Valeur", "Unité",
               "Nombre de contributeurs", "Part du premier contributeur (%)"]


def test_cigale_units_are_converted_and_bad_rows_quarantined_with_the_reason(tmp_path):
    lines = [
        ["v11.1", "2019", "4001", "Aiglun", "Consommation", "Résidentiel", "Electricité", "1,5", "GWh", "", ""],
        ["v11.1", "2019", "04001", "Aiglun", "Consommation", "Transport routier", "Produits pétroliers", "100", "tep", "", ""],
        ["v11.1", "2019", "04001", "Aiglun", "Production", "", "Photovoltaïque", "812", "MWh", "3", "61,5"],
        ["v11.1", "2019", "04001", "Aiglun", "Emissions", "Industrie hors branche énergie", "CO2", "2,5", "kt CO2e", "2", "90"],
        ["v11.1", "2019", "04001", "Aiglun", "Emissions", "Agriculture", "CH4", "12", "t", "", ""],        # mass, no CO2e
        ["v11.1", "2019", "04001", "Aiglun", "Consommation", "Spatial", "Electricité", "1", "MWh", "", ""],  # unknown sector
        ["v11.1", "2019", "04001", "Aiglun", "Consommation", "Résidentiel", "Electricité", "1,5", "GWh", "", ""],  # duplicate
        ["v11.1", "2031", "04001", "Aiglun", "Consommation", "Tertiaire", "Electricité", "1", "MWh", "", ""],  # future
        ["v11.1", "2019", "04001", "Aiglun", "Emissions", "UTCATF", "CO2", "-300", "t CO2e", "", ""],      # a sink
        ["v11.1", "2019", "04001", "Aiglun", "Emissions", "Résidentiel", "CO2", "-3", "t CO2e", "", ""],   # negative
    ]
    read = CIGALE.read_file(write(tmp_path, "cigale.csv", CIGALE_HEAD, lines))
    rows = read.rows.set_index("source_line")
    assert rows.at[2, "energy_mwh"] == pytest.approx(1500.0) and rows.at[2, "commune_code"] == "04001"
    assert rows.at[3, "energy_mwh"] == pytest.approx(1163.0)
    assert rows.at[4, "contributors"] == 3 and rows.at[4, "largest_contributor_share_pct"] == pytest.approx(61.5)
    assert rows.at[5, "emissions_tco2e"] == pytest.approx(2500.0) and rows.at[5, "sector"] == "industrie"
    assert rows.at[10, "emissions_tco2e"] == -300 and rows.at[10, "sector"] == "utcatf"
    reasons = dict(zip(read.rejects["source_line"], read.rejects["reason"], strict=True))
    assert set(reasons) == {6, 7, 8, 9, 11}
    assert "expected t CO2e" in reasons[6] and "unknown sector 'Spatial'" in reasons[7]
    assert "duplicate of line 2" in reasons[8] and "not over yet" in reasons[9] and "UTCATF" in reasons[11]
    assert set(read.rows["inventory_version"]) == {"v11.1"}


def test_cigale_version_comes_from_the_file_name_when_the_table_has_none(tmp_path):
    head = [h for h in CIGALE_HEAD if h != "Version"]
    line = [["2019", "04001", "Aiglun", "Consommation", "Résidentiel", "Gaz Naturel", "10", "MWh", "", ""]]
    read = CIGALE.read_file(write(tmp_path, "extraction_v10.2_2019.csv", head, line))
    assert read.rows["inventory_version"].tolist() == ["v10.2"] and read.rows["category"].tolist() == ["gaz"]


# -- INSEE populations -------------------------------------------------------------------------------

LEGAL = ["REG", "Région", "DEP", "CODARR", "CODCAN", "CODCOM", "COM", "PMUN", "PCAP", "PTOT"]


def test_legal_populations_compose_the_code_and_need_their_millesime(tmp_path):
    lines = [["93", "PACA", "04", "1", "01", "1", "Aiglun", "1 421", "20", "1 441"],
             ["94", "Corse", "2A", "1", "01", "4", "Ajaccio", "71361", "1000", "72361"],
             ["93", "PACA", "13", "1", "01", "055", "Marseille", "-5", "0", "0"]]
    read = POPULATION.read_file(write(tmp_path, "donnees_communes_2021.csv", LEGAL, lines))
    assert read.rows["commune_code"].tolist() == ["04001", "2A004"]
    assert read.rows["population_municipale"].tolist() == [1421, 71361] and set(read.rows["year"]) == {2021}
    assert "invalid population municipale '-5'" in read.rejects["reason"].iat[0]
    with pytest.raises(SourceFileError, match="millésime"):
        POPULATION.read_file(write(tmp_path, "donnees_communes.csv", LEGAL, lines[:1]))


def test_historical_series_give_one_row_per_commune_and_year(tmp_path):
    head = ["CODGEO", "REG", "DEP", "LIBGEO", "PMUN2021", "PMUN2020"]
    read = POPULATION.read_file(write(tmp_path, "hist.csv", head, [["04001", "93", "04", "Aiglun", "1421", "1400"]]))
    assert sorted(zip(read.rows["year"], read.rows["population_municipale"])) == [(2020, 1400), (2021, 1421)]
