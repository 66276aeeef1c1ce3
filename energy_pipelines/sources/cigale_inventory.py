"""AtmoSud CIGALE: the regional inventory of energy consumption, renewable production and greenhouse gases.

CIGALE (https://cigale.atmosud.org) has no public API: its extraction tool lets one choose
territories (communes, EPCI...), years and a variable — consumption (by sector and energy),
renewable production (by filière) or emissions (by sector and pollutant) — and exports a table. Under
the convention with the Region, AtmoSud drops the **de-secretised** extraction of every commune in
`landing/atmosud_cigale/` (file drop, access restricted: its detail never leaves the platform).

The format read here is our model of that extraction [assumption, to confirm with AtmoSud when the
convention's first delivery arrives]: one long table, `;` separated, UTF-8 (BOM or not) or latin-1,
decimal comma or point, labels as the tool shows them (field-name forms accepted too):

    Version;Année;Code INSEE;Commune;Type;Secteur;Catégorie;Valeur;Unité;Nombre de contributeurs;Part du premier contributeur (%)
    v11.1;2019;04001;Aiglun;Consommation;Résidentiel;Electricité;1234,5;MWh;;
    v11.1;2019;04001;Aiglun;Production;;Photovoltaïque;812,0;MWh;3;61,5
    v11.1;2019;04001;Aiglun;Emissions;Transport routier;CO2;2210,3;t CO2e;;

- `Type`: Consommation, Production (renewable production, CIGALE's "productions EnR") or Emissions;
- `Secteur`: CIGALE's sectors (Résidentiel, Tertiaire, Industrie hors branche énergie, Agriculture,
  Transport routier, Autres transports, Branche énergie, Déchets, UTCATF); blank for production;
- `Catégorie`: the energy (Electricité, Gaz Naturel, Produits pétroliers, Bois-énergie (EnR), Autres
  énergies renouvelables (EnR), Chaleur et froid issus de réseau, Combustibles Minéraux Solides,
  Autres non EnR), the filière (Photovoltaïque, Solaire thermique, Eolien, Hydraulique, Biomasse,
  Biogaz, Pompes à chaleur, Géothermie, Valorisation énergétique des déchets) or the gas (CO2, CH4, N2O);
- `Unité`: MWh, GWh, kWh, tep or ktep for energy (converted to MWh, 1 tep = 11.63 MWh); t CO2e /
  teqCO2 / kt CO2e for emissions (PRG 100 ans), t or kt accepted for CO2 only — a CH4 or N2O mass
  without its CO2 equivalent is quarantined (we do not pick a warming potential for AtmoSud);
- `Version` (or `_v<version>` in the file name): CIGALE recomputes every past year at each version and
  the latest version replaces the earlier ones; the transform keeps the latest version per year;
- the two contributor columns are not in the public extraction: the convention's delivery is assumed to
  carry them where AtmoSud knows them (point sources), for the 3 contributors / 85 % rule; blank = unknown.

Unknown types, sectors, categories or units, unparseable values, duplicates and years that are not
over are quarantined with the reason; mojibake names are repaired and codes padded (counted).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.sources.base import FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.ore_consumption import (
    COMMUNE_PATTERN, line_rejects, numbers, pad_codes, parse_years, read_table, repair_names, snake, year_problems,
    year_start_utc,
)

MEASURES = {"consommation": "consumption", "consommations": "consumption", "consumption": "consumption",
            "production": "production", "productions": "production", "production_enr": "production",
            "productions_enr": "production", "emission": "emissions", "emissions": "emissions",
            "emissions_ges": "emissions"}
SECTORS = {
    "residentiel": "residentiel", "tertiaire": "tertiaire", "industrie": "industrie",
    "industrie_hors_branche_energie": "industrie", "industrie_manufacturiere": "industrie",
    "agriculture": "agriculture", "agriculture_sylviculture_et_aquaculture": "agriculture",
    "agriculture_sylviculture_et_aquaculture_hors_utcatf": "agriculture",
    "transport_routier": "transport_routier", "transports_routiers": "transport_routier",
    "autres_transports": "autres_transports", "transports_non_routiers": "autres_transports",
    "transport_non_routier": "autres_transports",
    "branche_energie": "branche_energie", "production_et_distribution_d_energie": "branche_energie",
    "dechets": "dechets", "traitement_des_dechets": "dechets", "gestion_des_dechets": "dechets",
    "utcatf": "utcatf",
}
ENERGIES = {
    "electricite": "electricite", "gaz_naturel": "gaz", "gaz": "gaz", "produits_petroliers": "produits_petroliers",
    "bois_energie_enr": "bois_energie", "bois_energie": "bois_energie", "bois": "bois_energie",
    "autres_energies_renouvelables_enr": "autres_enr", "autres_enr": "autres_enr",
    "autres_energies_renouvelables": "autres_enr",
    "chaleur_et_froid_issus_de_reseau": "chaleur_froid_reseau", "chaleur_et_froid_issus_de_reseaux": "chaleur_froid_reseau",
    "chaleur_froid_reseau": "chaleur_froid_reseau", "reseaux_de_chaleur": "chaleur_froid_reseau",
    "combustibles_mineraux_solides": "combustibles_mineraux_solides", "cms": "combustibles_mineraux_solides",
    "autres_non_enr": "autres_non_enr", "autres_energies_non_renouvelables": "autres_non_enr",
}
FILIERES = {
    "photovoltaique": "photovoltaique", "solaire_photovoltaique": "photovoltaique",
    "solaire_thermique": "solaire_thermique", "eolien": "eolien", "eolien_terrestre": "eolien",
    "hydraulique": "hydraulique", "grande_hydraulique": "hydraulique", "petite_hydraulique": "hydraulique",
    "biomasse": "biomasse", "bois_energie": "biomasse", "biomasse_solide": "biomasse",
    "biogaz": "biogaz", "methanisation": "biogaz", "pompes_a_chaleur": "pompes_a_chaleur", "pac": "pompes_a_chaleur",
    "aerothermie": "pompes_a_chaleur", "geothermie": "geothermie",
    "valorisation_energetique_des_dechets": "dechets", "dechets": "dechets", "incineration_des_dechets": "dechets",
}
GASES = {"co2": "co2", "ch4": "ch4", "n2o": "n2o"}
ENERGY_UNITS = {"mwh": 1.0, "gwh": 1000.0, "kwh": 0.001, "tep": 11.63, "ktep": 11630.0}
CO2E_UNITS = {"t_co2e": 1.0, "teqco2": 1.0, "t_eq_co2": 1.0, "tco2e": 1.0, "t_eqco2": 1.0, "tonnes_co2e": 1.0,
              "kt_co2e": 1000.0, "kteqco2": 1000.0, "kt_eq_co2": 1000.0, "ktco2e": 1000.0, "kg_co2e": 0.001,
              "kgeqco2": 0.001}
MASS_UNITS = {"t": 1.0, "tonnes": 1.0, "kt": 1000.0, "kg": 0.001}

_COLUMNS = {
    "version": "version", "version_inventaire": "version", "annee": "annee",
    "code_insee": "code", "code_commune": "code", "code_insee_commune": "code", "insee": "code",
    "commune": "nom", "nom_commune": "nom", "nom_de_la_commune": "nom",
    "type": "type", "type_de_donnee": "type", "donnee": "type", "variable": "type",
    "secteur": "secteur", "categorie": "categorie", "energie": "categorie", "filiere": "categorie",
    "polluant": "categorie", "valeur": "valeur", "unite": "unite",
    "nombre_de_contributeurs": "contributeurs", "nb_contributeurs": "contributeurs",
    "part_du_premier_contributeur": "part_premier", "part_du_premier_contributeur_pct": "part_premier",
    "code_epci": "code_epci", "epci": "nom_epci", "nom_epci": "nom_epci",
}
REQUIRED = ["annee", "code", "type", "secteur", "categorie", "valeur", "unite"]
_VERSION_IN_NAME = re.compile(r"_v(\d+(?:\.\d+)*)", re.IGNORECASE)
RAW_COLUMNS = ["datetime_utc", "year", "inventory_version", "commune_code", "commune_name", "measure", "sector",
               "category", "value_delivered", "unit_delivered", "energy_mwh", "emissions_tco2e", "contributors",
               "largest_contributor_share_pct", "source_format", "source_line"]


def version_key(version: str | None) -> tuple:
    """'v11.1' > 'v9.2' > None: versions compared number by number."""
    if not version:
        return (-1,)
    return tuple(int(n) for n in re.findall(r"\d+", version)) or (-1,)


class CigaleInventoryAdapter(SourceAdapter):
    suffixes = (".csv", ".gz")

    def read_file(self, path: Path, *, now: datetime | None = None) -> FileRead:
        frame, rejects, sep = read_table(path)
        header = [c for c in frame.columns if c != "source_line"]
        cols: dict[str, str] = {}
        for h in header:
            key = snake(h)
            if key in _COLUMNS:
                cols.setdefault(_COLUMNS[key], h)
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise SourceFileError(path, f"not a CIGALE extraction: missing column(s) {missing} (header {header[:8]})")

        def col(name: str) -> pd.Series:
            return frame[cols[name]].fillna("").astype(str).str.strip() if name in cols else \
                pd.Series("", index=frame.index, dtype=object)

        stats = {"lines": len(frame)}
        years = parse_years(col("annee"))
        problems = year_problems(years, col("annee"), now)
        code, valid, stats["codes_padded"] = pad_codes(col("code"), 5, COMMUNE_PATTERN)
        problems[(problems == "") & (~valid | code.isna())] = "invalid commune code " + col("code").map(repr)
        measure = col("type").map(lambda v: MEASURES.get(snake(v)))
        problems[(problems == "") & measure.isna()] = ("unknown Type " + col("type").map(repr)
                                                       + ": expected Consommation, Production or Emissions")
        sector_key = col("secteur").map(snake)
        sector = sector_key.map(SECTORS)
        sector[(measure == "production") & (sector_key.isin(["", "production", "tous", "total"]))] = "total"
        problems[(problems == "") & sector.isna()] = "unknown sector " + col("secteur").map(repr)
        cat_key = col("categorie").map(snake)
        category = pd.Series(None, index=frame.index, dtype=object)
        for kind, table in (("consumption", ENERGIES), ("production", FILIERES), ("emissions", GASES)):
            sel = measure == kind
            category[sel] = cat_key[sel].map(table)
        what = measure.map({"consumption": "energy", "production": "filière", "emissions": "gas"}).fillna("category")
        problems[(problems == "") & category.isna()] = "unknown " + what + " " + col("categorie").map(repr)
        value, blank = numbers(col("valeur"))
        problems[(problems == "") & value.isna()] = ("unparseable value " + col("valeur").map(repr)
                                                     + np.where(blank, " (blank: CIGALE's de-secretised delivery has no "
                                                                       "secret cells)", ""))
        unit_key = col("unite").map(snake)
        factor = pd.Series(np.nan, index=frame.index)
        energy_rows = measure.isin(["consumption", "production"])
        factor[energy_rows] = unit_key[energy_rows].map(ENERGY_UNITS)
        em = measure == "emissions"
        factor[em] = unit_key[em].map(CO2E_UNITS)
        co2_mass = em & (category == "co2") & factor.isna()
        factor[co2_mass] = unit_key[co2_mass].map(MASS_UNITS)
        mass_not_co2e = em & factor.isna() & unit_key.isin(list(MASS_UNITS))
        problems[(problems == "") & mass_not_co2e] = ("unit " + col("unite").map(repr) + " for "
                                                      + col("categorie") + ": expected t CO2e (PRG 100 ans); no "
                                                      "warming potential is assumed for AtmoSud")
        problems[(problems == "") & factor.isna()] = "unknown unit " + col("unite").map(repr) + " for " + measure.fillna("")
        negative = (value < 0) & ~((measure == "emissions") & (sector == "utcatf"))
        problems[(problems == "") & negative] = "negative value (only UTCATF emissions, carbon sinks, may be negative)"
        contributors, c_blank = numbers(col("contributeurs"))
        problems[(problems == "") & contributors.isna() & ~c_blank] = ("unparseable contributor count "
                                                                      + col("contributeurs").map(repr))
        share, s_blank = numbers(col("part_premier"))
        problems[(problems == "") & ~s_blank & ~share.between(0, 100)] = ("largest contributor share not in 0-100 %: "
                                                                         + col("part_premier").map(repr))
        version = col("version").replace("", None)
        if version.isna().all():
            m = _VERSION_IN_NAME.search(path.stem)
            version = pd.Series(f"v{m.group(1)}" if m else None, index=frame.index, dtype=object)
        key = pd.DataFrame({"v": version.fillna(""), "y": years, "c": code, "m": measure, "s": sector,
                            "k": category})
        dup = key.duplicated(keep="first") & (problems == "")
        if dup.any():
            first_line = frame["source_line"].groupby([key[c] for c in key.columns], dropna=False).transform("first")
            problems[dup] = "duplicate of line " + first_line[dup].astype(str) + " (same version, year, commune, " \
                                                                                "type, sector and category)"
        when = year_start_utc(years.where(problems == ""))
        rejects += line_rejects(frame, problems, header, sep, when=when)
        ok = (problems == "").to_numpy()
        names, stats["names_repaired"] = repair_names(col("nom").replace("", None))
        converted = value * factor
        out = pd.DataFrame({
            "year": years, "inventory_version": version, "commune_code": code, "commune_name": names,
            "measure": measure, "sector": sector, "category": category, "value_delivered": value,
            "unit_delivered": col("unite"),
            "energy_mwh": converted.where(energy_rows), "emissions_tco2e": converted.where(em),
            "contributors": contributors, "largest_contributor_share_pct": share,
            "source_format": "cigale_labels" if any(snake(h) != h for h in header) else "cigale_fields",
            "source_line": frame["source_line"],
        })[ok].reset_index(drop=True)
        out["year"] = out["year"].astype("int64")
        out["contributors"] = pd.to_numeric(out["contributors"]).round().astype("Int64")
        out.insert(0, "datetime_utc", year_start_utc(out["year"]))
        stats["rows"] = len(out)
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects), stats=stats)


ADAPTER = CigaleInventoryAdapter()
