"""Enedis annual electricity production by filière and voltage domain, per commune / IRIS / EPCI / département / region.

Formats read (recognised from the header):
- the Opendatasoft exports of `production-electrique-par-filiere-a-la-maille-{commune,iris,epci,
  departement,region}` (data.enedis.fr, and the Explore v2.1 layer of opendata.enedis.fr): one line per
  year x territory x voltage domain (`BT <= 36 kVA`, `BT > 36 kVA`, `HTA`), and per filière
  (photovoltaïque, éolien, hydraulique, bio-énergie, cogénération, autres filières) a site count
  `nb_sites_<filière>_enedis` and the energy `energie_produite_annuelle_<filière>_enedis_mwh`; in both
  header forms (field names, or labels "Nb sites Photovoltaïque Enedis", "Energie produite annuelle
  Photovoltaïque Enedis (MWh)", "Code département"...); `;` as Opendatasoft serves it;
- the same table re-hosted with `,` and the defects of ../shared/realdata/enedis_production_departement:
  names double-encoded (mojibake, repaired and counted), département codes without their leading zero
  (padded and counted), GeoJSON in quoted `geom` / `geo_point_2d` cells (ignored).

Secrecy: Enedis publishes a secret cell as **blank** site count and energy. A blank energy is read as
secret (`energy_mwh` null, `secret` true), never as zero production. An unknown filière column fails
the file with the column named; a line with an unparseable number or code, or a year that is not
over yet, is quarantined with the reason. Rows carry `datetime_utc` = 1 January (Paris) of their year.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.file_fetch import session
from energy_pipelines.sources.http import fetch_ods_export
from energy_pipelines.sources.ore_consumption import (
    COMMUNE_PATTERN, DEPARTEMENT_PATTERN, EPCI_PATTERN, IRIS_PATTERN, REGION_PATTERN, complete_years, line_rejects,
    numbers, pad_codes, parse_years, read_table, repair_names, snake, year_problems, year_start_utc,
)

FILIERES = {"photovoltaique": "photovoltaique", "eolien": "eolien", "hydraulique": "hydraulique",
            "bio_energie": "bioenergies", "bioenergie": "bioenergies", "cogeneration": "cogeneration",
            "autres_filieres": "autres", "autres": "autres"}
_SITES = re.compile(r"^(?:nb|nombre)_(?:de_)?sites_(\w+?)_enedis$")
_ENERGY = re.compile(r"^energie_produite_annuelle_(\w+?)_enedis_mwh$")
_MEASURE_LIKE = re.compile(r"^(nb_sites|nombre_de_sites|nombre_sites|energie_produite)")
_IDENTITY = {"annee": "annee", "domaine_de_tension": "domaine_de_tension"}
for _level in ("iris", "commune", "epci", "departement", "region"):
    _IDENTITY[f"code_{_level}"] = f"code_{_level}"
    _IDENTITY[f"nom_{_level}"] = f"nom_{_level}"
    _IDENTITY[f"libelle_{_level}"] = f"nom_{_level}"
_IGNORED = re.compile(r"^(geom|geo_shape|geo_point_2d|geo_point|column_\d+|type_iris|type_epci|nature_epci)$")
LEVELS = (("iris", 9, IRIS_PATTERN), ("commune", 5, COMMUNE_PATTERN), ("epci", 9, EPCI_PATTERN),
          ("departement", 2, DEPARTEMENT_PATTERN), ("region", 2, REGION_PATTERN))
RAW_COLUMNS = ["datetime_utc", "year", "maille", "iris_code", "commune_code", "epci_code", "departement_code",
               "region_code", "territory_name", "voltage_domain", "filiere", "sites", "energy_mwh", "secret",
               "source_format", "source_line"]


class EnedisAnnualProductionAdapter(SourceAdapter):
    suffixes = (".csv", ".gz")

    def read_file(self, path: Path, *, now: datetime | None = None) -> FileRead:
        frame, rejects, sep = read_table(path)
        header = [c for c in frame.columns if c != "source_line"]
        identity: dict[str, str] = {}
        pairs: dict[str, dict[str, str]] = {}
        ignored = []
        for h in header:
            key = snake(h)
            if key in _IDENTITY:
                identity.setdefault(_IDENTITY[key], h)
            elif (m := _SITES.match(key)) or (m := _ENERGY.match(key)):
                word = m.group(1)
                if word not in FILIERES:
                    raise SourceFileError(path, f"unknown filière in column {h!r}: the filières are "
                                                f"{', '.join(sorted(set(FILIERES)))}")
                kind = "sites" if _SITES.match(key) else "energy"
                pairs.setdefault(FILIERES[word], {})[kind] = h
            elif _MEASURE_LIKE.match(key):
                raise SourceFileError(path, f"unrecognised production column {h!r}: expected nb_sites_<filière>_enedis "
                                            "or energie_produite_annuelle_<filière>_enedis_mwh")
            elif not _IGNORED.match(key):
                ignored.append(h)
        maille = next((lvl for lvl, _, _ in LEVELS if f"code_{lvl}" in identity), None)
        missing = [c for c in ("annee", "domaine_de_tension") if c not in identity]
        if maille is None:
            missing.append("code_commune / code_iris / code_epci / code_departement / code_region")
        if not pairs:
            missing.append("nb_sites_<filière>_enedis / energie_produite_annuelle_<filière>_enedis_mwh")
        if missing:
            raise SourceFileError(path, f"not an Enedis annual production export: missing column(s) {missing} "
                                        f"(header starts {header[:6]})")
        lonely = sorted(f for f, p in pairs.items() if "energy" not in p)
        if lonely:
            raise SourceFileError(path, f"site count without its energy column for filière(s) {lonely}")
        fmt = ("enedis_labels" if any(snake(h) != h for h in header) else "enedis_fields") + (
            "_comma" if sep == "," else "")
        stats = {"lines": len(frame), "ignored_columns": len(ignored)}
        ident = {k: frame[v] for k, v in identity.items()}
        years = parse_years(ident["annee"])
        problems = year_problems(years, ident["annee"], now)
        codes, padded = {}, 0
        for level, width, pattern in LEVELS:
            if f"code_{level}" not in ident:
                codes[level] = pd.Series(None, index=frame.index, dtype=object)
                continue
            codes[level], valid, n = pad_codes(ident[f"code_{level}"], width, pattern)
            padded += n
            problems[(problems == "") & ~valid] = f"invalid code_{level} " + ident[f"code_{level}"].astype(str).map(repr)
        problems[(problems == "") & codes[maille].isna()] = f"no code_{maille}"
        domain = ident["domaine_de_tension"].fillna("").astype(str).str.strip()
        problems[(problems == "") & (domain == "")] = "no domaine_de_tension"
        stats["codes_padded"] = padded
        names = ident.get(f"nom_{maille}", pd.Series(None, index=frame.index, dtype=object)).replace("", None)
        names, stats["names_repaired"] = repair_names(names)

        parts = []
        for filiere, cols in pairs.items():
            energy, blank = numbers(frame[cols["energy"]])
            if "sites" in cols:
                sites, sites_blank = numbers(frame[cols["sites"]])
                sites_raw = frame[cols["sites"]]
            else:
                sites, sites_blank, sites_raw = pd.Series(np.nan, index=frame.index), None, None
            bad_energy = energy.isna() & ~blank
            problems[(problems == "") & bad_energy] = (f"unparseable {cols['energy']} "
                                                       + frame[cols["energy"]].astype(str).map(repr))
            if sites_raw is not None:
                bad_sites = sites.isna() & ~sites_blank
                problems[(problems == "") & bad_sites] = f"unparseable {cols['sites']} " + sites_raw.astype(str).map(repr)
            problems[(problems == "") & ((energy < 0) | (sites < 0))] = f"negative {filiere} production or site count"
            parts.append(pd.DataFrame({"line": np.arange(len(frame)), "filiere": filiere,
                                       "sites": sites.to_numpy(), "energy_mwh": energy.to_numpy(),
                                       "secret": blank.to_numpy()}))
        when = year_start_utc(years.where(problems == ""))
        rejects += line_rejects(frame, problems, header, sep, when=when)
        cells = pd.concat(parts, ignore_index=True)
        line = cells["line"].to_numpy()
        keep = problems.to_numpy()[line] == ""
        stats["secret_cells_blank"] = int((cells["secret"].to_numpy() & keep).sum())
        out = pd.DataFrame({
            "year": years.to_numpy()[line], "maille": maille,
            **{f"{lvl}_code": codes[lvl].to_numpy()[line] for lvl, _, _ in LEVELS},
            "territory_name": names.to_numpy()[line], "voltage_domain": domain.to_numpy()[line],
            "filiere": cells["filiere"].to_numpy(), "sites": cells["sites"].to_numpy(),
            "energy_mwh": cells["energy_mwh"].to_numpy(), "secret": cells["secret"].to_numpy(),
            "source_format": fmt, "source_line": frame["source_line"].to_numpy()[line],
        })[keep].reset_index(drop=True)
        out["year"] = out["year"].astype("int64")
        out["sites"] = pd.to_numeric(out["sites"]).round().astype("Int64")
        out.insert(0, "datetime_utc", year_start_utc(out["year"]))
        stats["rows"] = len(out)
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects), stats=stats)

    def fetch(self, landing, start, end, ctx: FetchContext):
        live = {"base_url": DEFAULT_API, "region_code": "93", "where": DEFAULT_WHERE, **ctx.live}
        http = session(live)
        written = []
        for year in complete_years(start, end):
            where = str(live["where"]).format(region=live["region_code"], year=year, next_year=year + 1)
            for dataset in live.get("datasets") or DEFAULT_DATASETS:
                content = fetch_ods_export(live, dataset, where, ctx.log, fmt="csv", http=http)
                if content is not None:
                    written.append(landing.write_atomic(f"{dataset}_{live['region_code']}_{year}.csv", content))
        return written


DEFAULT_API = "https://opendata.enedis.fr/api/explore/v2.1"
# `annee` is a text field in these Enedis exports [to verify on the live schema; configurable]
DEFAULT_WHERE = "code_region='{region}' and annee='{year}'"
DEFAULT_DATASETS = ("production-electrique-par-filiere-a-la-maille-commune",
                    "production-electrique-par-filiere-a-la-maille-departement")

ADAPTER = EnedisAnnualProductionAdapter()
