"""Agence ORE: annual electricity and gas consumption by sector, per IRIS, commune, département, region.

Formats read (recognised from the header, never from the file name):
- the Opendatasoft exports of `conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-{iris,commune,
  departement,region}`, one line per operator x year x filière x territory, the five sectors side by
  side (A agriculture, I industrie, T tertiaire, R résidentiel, NA secteur inconnu / non affecté), in
  **both header forms** Opendatasoft serves: field names (`consoa;pdla;nombre_mailles_secretisees_a;
  indquala;...;code_commune;...;consototale`) and labels ("Consommation Agriculture (MWh)", "Nombre de
  points Agriculture", "Nombre de mailles secretisées (agriculture)", "Indique qualité Agriculture"...,
  with the publisher's typos and double spaces);
- the long `conso-elec-gaz-annuelle-par-naf-agregee-<maille>` exports (one line per operator x year x
  filière x consumer category x grand secteur x NAF code), field names or labels.
`;` or `,` separated, UTF-8 (BOM or not) or latin-1. Energies in MWh.

Secrecy (ORE methodology note v5.0 §4, reference/secrecy/): a secret cell is published with its
consumption and delivery points at 0 and "Nombre de mailles secrétisées (X)" at 1 (at an aggregated
maille, the number of finer cells masked). A cell with 0 MWh, 0 points and a positive count is read as
**secret** (`consumption_mwh` null, `secret` true, `secret_marker` "zero_with_count"), never as zero
consumption; a blank consumption is secret too ("blank"). An aggregate with a positive count and a
non-zero value is published as delivered: it omits its `secret_cells` finer cells.

Bad input: mojibake names are repaired (double-encoded UTF-8, counted), codes that lost their leading
zero are padded (counted), unknown sector columns fail the file with the column named, lines with an
unknown filière or sector code, an unparseable number or code, or a year that is not over yet are
quarantined with the reason. Rows carry `datetime_utc` = 1 January (Paris) of their year.

The helpers at the top (header folding, mojibake repair, code padding, year checks) are shared by
the other UC1 readers (Enedis annual production, AtmoSud CIGALE, INSEE population).
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS, UTC, paris_start
from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import decode, read_delimited
from energy_pipelines.sources.file_fetch import session
from energy_pipelines.sources.http import fetch_ods_export

# -- helpers shared by the UC1 readers ------------------------------------------------------------

_MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u017d\u017e\u0178\u02c6\u02dc]")


def fold(text: str) -> str:
    """Lower case, no accents, typographic quotes straightened, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text.replace("\ufeff", "").replace("’", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip().lower()


def snake(header: str) -> str:
    """A header in either Opendatasoft form as a field-name-like key: 'Code Département' -> code_departement."""
    return re.sub(r"[^a-z0-9]+", "_", fold(header)).strip("_")


def repair_mojibake(text: str | None) -> tuple[str | None, bool]:
    """Undo UTF-8 read as latin-1/cp1252 ('Deux-SÃ¨vres' -> 'Deux-Sèvres'); (text, repaired?)."""
    if not text or not _MOJIBAKE.search(text):
        return text, False
    for codec in ("latin-1", "cp1252"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        return fixed, True
    return text, False


def repair_names(values: pd.Series) -> tuple[pd.Series, int]:
    """Repair a column of names; returns the column and how many distinct values were repaired."""
    fixed: dict[str, str] = {}
    for v in values.dropna().unique():
        new, changed = repair_mojibake(str(v))
        if changed:
            fixed[v] = new
    return (values.replace(fixed) if fixed else values), len(fixed)


def pad_codes(codes: pd.Series, width: int, pattern: str) -> tuple[pd.Series, pd.Series, int]:
    """Codes that lost their leading zero(s) (spreadsheet round trips: '4' for 04, '4001' for 04001).

    Returns (codes, valid mask, number padded). Blank codes stay blank and count as valid here.
    """
    text = codes.fillna("").astype(str).str.strip()
    text = text.str.replace(r"\.0$", "", regex=True)  # '4.0' from a float column
    short = text.str.fullmatch(r"\d+") & (text.str.len() < width) & (text.str.len() > 0)
    padded = text.where(~short, text.str.zfill(width))
    valid = (padded == "") | padded.str.fullmatch(pattern)
    return padded.replace("", None), valid, int(short.sum())


COMMUNE_PATTERN = r"(?:[0-9]{2}|2[AB])[0-9]{3}"
IRIS_PATTERN = r"(?:[0-9]{2}|2[AB])[0-9]{7}"
# providers mark a cell they could not place with NA / XX / FR ("non affecté"): kept as delivered
UNASSIGNED = r"|(?i:na|xx|fr)"
DEPARTEMENT_PATTERN = r"(?:[0-9]{2}|2[AB]|97[1-6])" + UNASSIGNED
REGION_PATTERN = r"[0-9]{2}" + UNASSIGNED
EPCI_PATTERN = r"[0-9]{9}"


def parse_years(values: pd.Series) -> pd.Series:
    """'2019', '2019-01-01' (an Opendatasoft date field), '2019.0' -> 2019; anything else -> NA."""
    text = values.fillna("").astype(str).str.strip()
    year = text.str.extract(r"^(\d{4})(?:-01-01(?:T00:00:00(?:[+-]\d{2}:?\d{2}|Z)?)?|\.0)?$")[0]
    return pd.to_numeric(year, errors="coerce").astype("Int64")


def current_paris_year(now: datetime | None = None) -> int:
    return (now or datetime.now(UTC)).astimezone(PARIS).year


def year_problems(years: pd.Series, raw: pd.Series, now: datetime | None = None, first: int = 1990) -> pd.Series:
    """'' for a usable year; else why not. Annual data of a year exists only once the year is over."""
    this_year = current_paris_year(now)
    out = pd.Series("", index=years.index, dtype=object)
    missing = years.isna()
    out[missing] = "unparseable year " + raw[missing].astype(str).map(repr)
    y = years.fillna(0).astype(int)
    out[~missing & (y >= this_year)] = [f"year {v} is not over yet (today is in {this_year}): annual data "
                                        "cannot exist before its year ends" for v in y[~missing & (y >= this_year)]]
    out[~missing & (y < first)] = [f"year {v} is before {first}" for v in y[~missing & (y < first)]]
    return out


def year_start_utc(years: pd.Series) -> pd.Series:
    """1 January 00:00 Paris of each year, as a UTC instant."""
    starts = {int(y): paris_start(date(int(y), 1, 1)) for y in years.dropna().unique()}
    return pd.to_datetime(years.map(lambda y: starts.get(int(y)) if pd.notna(y) else None), utc=True)


def numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(values, blank mask): French or dot decimals, thousands spaces dropped; garbage -> NaN, not blank."""
    t = text.fillna("").astype(str).str.strip()
    blank = t == ""
    cleaned = t.str.replace("\u202f", "", regex=False).str.replace("\xa0", "", regex=False)
    cleaned = cleaned.str.replace(" ", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(cleaned.where(~blank, None), errors="coerce"), blank


def read_table(path: Path) -> tuple[pd.DataFrame, list[dict[str, Any]], str]:
    """Any of our delimited files: separator sniffed from the header (';' Opendatasoft, ',' re-hosted copies)."""
    text = decode(path)
    header = text.split("\n", 1)[0]
    sep = ";" if header.count(";") >= max(1, header.count(",")) else ("," if header.count(",") else
                                                                      "\t" if "\t" in header else ";")
    frame, rejects = read_delimited(path, required=[], sep=sep, text=text)
    return frame, rejects, sep


def line_rejects(frame: pd.DataFrame, reasons: pd.Series, columns: list[str], sep: str,
                 when: pd.Series | None = None) -> list[dict[str, Any]]:
    """Rejects of the lines whose reason is not '': the line as delivered (JSON of its fields), the reason."""
    bad = np.flatnonzero(reasons.to_numpy() != "")
    out = []
    for i in bad:
        row = frame.iloc[i]
        out.append({"datetime_utc": None if when is None or pd.isna(when.iat[i]) else when.iat[i],
                    "source_line": int(row["source_line"]), "reason": reasons.iat[i],
                    "record": json.dumps({c: row[c] for c in columns}, ensure_ascii=False)})
    return out


# -- ORE -------------------------------------------------------------------------------------------

SECTORS = {"a": "agriculture", "i": "industrie", "t": "tertiaire", "r": "residentiel", "na": "non_affecte"}
_SECTOR_WORDS = {"a": "a", "agriculture": "a", "i": "i", "industrie": "i", "t": "t", "tertiaire": "t",
                 "r": "r", "residentiel": "r", "na": "na", "secteur_inconnu": "na", "non_affecte": "na",
                 "inconnu": "na"}
_GRAND_SECTEUR = {"a": "agriculture", "agriculture": "agriculture", "i": "industrie", "industrie": "industrie",
                  "t": "tertiaire", "tertiaire": "tertiaire", "r": "residentiel", "residentiel": "residentiel",
                  "x": "non_affecte", "na": "non_affecte", "secteur_inconnu": "non_affecte",
                  "non_affecte": "non_affecte", "inconnu": "non_affecte"}
ENERGIES = {"electricite": "electricite", "100": "electricite", "gaz": "gaz", "gaz_naturel": "gaz", "200": "gaz"}

_WORD = r"(a|i|t|r|na|agriculture|industrie|tertiaire|residentiel|secteur_inconnu|non_affecte)"
_MEASURES = [
    ("consumption", re.compile(rf"^(?:conso{_WORD}|consommation_{_WORD}_mwh)$")),
    ("points", re.compile(rf"^(?:pdl{_WORD}|nombre_de_points_{_WORD})$")),
    ("secret_cells", re.compile(rf"^nombre_(?:de_)?mailles?_secreti[sz]ees?_{_WORD}$")),
    ("quality", re.compile(rf"^(?:indqual{_WORD}|ind(?:ice|ique)_(?:de_)?qualite_{_WORD})$")),
    ("thermo", re.compile(rf"^(?:thermo{_WORD}|thermosensibilite(?:_{_WORD})?_kwh_degre_jour)$")),
    ("thermo_share", re.compile(rf"^(?:part{_WORD}|part_thermosensible(?:_{_WORD})?)$")),
]
_MEASURE_LIKE = re.compile(r"^(conso|consommation_|pdl|nombre_de_points|nombre_(de_)?mailles?|indqual|"
                           r"ind(ice|ique)_(de_)?qualite|thermo|part_thermo)")
_IDENTITY = {
    "operateur": "operateur", "annee": "annee", "filiere": "filiere",
    "code_iris": "code_iris", "libelle_iris": "libelle_iris", "nom_iris": "libelle_iris",
    "code_commune": "code_commune", "libelle_commune": "libelle_commune", "nom_commune": "libelle_commune",
    "code_epci": "code_epci", "libelle_epci": "libelle_epci", "nom_epci": "libelle_epci",
    "code_departement": "code_departement", "libelle_departement": "libelle_departement",
    "nom_departement": "libelle_departement",
    "code_region": "code_region", "libelle_region": "libelle_region", "nom_region": "libelle_region",
    "id_filiere": "id_filiere", "identifiant_de_la_filiere": "id_filiere",
    "consototale": "consototale", "consommation_totale_mwh": "consototale",
    # the long NAF form
    "code_categorie_consommation": "code_categorie_consommation",
    "libelle_categorie_consommation": "libelle_categorie_consommation",
    "code_grand_secteur": "code_grand_secteur", "libelle_grand_secteur": "libelle_grand_secteur",
    "code_naf": "code_naf", "libelle_secteur_naf2": "libelle_secteur_naf2", "conso": "conso", "pdl": "pdl",
    "indqual": "indqual", "nombre_mailles_secretisees": "nombre_mailles_secretisees",
    "nombre_de_mailles_secretisees": "nombre_mailles_secretisees",
}
# carried by Opendatasoft exports but not data of ours (geometry, export artefacts)
_IGNORED = re.compile(r"^(geom|geo_shape|geo_point_2d|geo_point|column_\d+|type_iris|type_epci)$")

RAW_COLUMNS = ["datetime_utc", "year", "maille", "operator", "energy", "sector", "naf_code", "consumer_category",
               "iris_code", "commune_code", "epci_code", "departement_code", "region_code", "territory_name",
               "consumption_mwh", "delivery_points", "secret", "secret_marker", "secret_cells", "quality_index",
               "thermosensitivity_kwh_per_dd", "thermosensitive_share", "source_format", "source_line"]
MAILLES = ("iris", "commune", "departement", "region")


def classify_header(header: list[str], path: Path) -> tuple[dict[str, str], dict[tuple[str, str], str], list[str]]:
    """(identity column -> delivered header, (measure, sector) -> delivered header, ignored headers)."""
    identity: dict[str, str] = {}
    measures: dict[tuple[str, str], str] = {}
    ignored: list[str] = []
    for h in header:
        key = snake(h)
        if key in _IDENTITY:
            identity.setdefault(_IDENTITY[key], h)
            continue
        for name, rx in _MEASURES:
            if m := rx.match(key):
                word = next(g for g in m.groups() if g) if any(m.groups()) else "r"  # thermo: residential
                code = _SECTOR_WORDS[word]
                if (name, code) in measures:
                    raise SourceFileError(path, f"columns {measures[(name, code)]!r} and {h!r} both give "
                                                f"{name} of sector {SECTORS[code]}")
                measures[(name, code)] = h
                break
        else:
            if _MEASURE_LIKE.match(key):
                raise SourceFileError(path, f"unknown sector in column {h!r}: the sectors are agriculture, "
                                            "industrie, tertiaire, résidentiel and secteur inconnu / non affecté")
            if not _IGNORED.match(key):
                ignored.append(h)
    return identity, measures, ignored


def _maille(identity: dict[str, str]) -> str | None:
    for maille in MAILLES:
        if f"code_{maille}" in identity:
            return maille
    return None


class OreConsumptionAdapter(SourceAdapter):
    """One reader for every ORE maille; `scope` only says what the simulator and the live fetch deliver."""

    suffixes = (".csv", ".gz")

    def __init__(self, scope: str):
        if scope not in ("local", "aggregates"):
            raise ValueError(f"scope {scope!r}: expected local (commune, IRIS) or aggregates (département, region)")
        self.scope = scope

    # -- reading ------------------------------------------------------------------------

    def read_file(self, path: Path, *, now: datetime | None = None) -> FileRead:
        frame, rejects, sep = read_table(path)
        header = [c for c in frame.columns if c != "source_line"]
        identity, measures, ignored = classify_header(header, path)
        maille = _maille(identity)
        missing = [c for c in ("annee", "filiere") if c not in identity]
        if "operateur" not in identity:
            missing.append("operateur")
        if maille is None:
            missing.append("code_commune / code_iris / code_departement / code_region")
        if missing:
            raise SourceFileError(path, f"not an Agence ORE consumption export: missing column(s) {missing} "
                                        f"(header starts {header[:6]})")
        labels = any(snake(h) != h for h in header)
        if "conso" in identity and "code_grand_secteur" in identity:
            long = self._long_rows(frame, identity)
            fmt = "ore_naf_labels" if labels else "ore_naf_fields"
        elif measures:
            sectors_without_value = sorted({s for (_, s) in measures} - {s for (m, s) in measures if m == "consumption"})
            if sectors_without_value:
                raise SourceFileError(path, "sector column(s) without their consumption column: "
                                            f"{[SECTORS[s] for s in sectors_without_value]}")
            long = self._wide_rows(frame, measures)
            fmt = "ore_sectors_labels" if labels else "ore_sectors_fields"
        else:
            raise SourceFileError(path, "no consumption column: expected consoa..consona / 'Consommation X (MWh)' "
                                        "or the NAF form (conso, code_grand_secteur)")
        return self._finish(path, frame, long, identity, maille, fmt, sep, rejects, ignored, now)

    @staticmethod
    def _wide_rows(frame: pd.DataFrame, measures: dict[tuple[str, str], str]) -> pd.DataFrame:
        """One row per line and sector: the measure columns as text, `line` pointing back to the frame."""
        parts = []
        for code in SECTORS:
            if ("consumption", code) not in measures:
                continue
            part = pd.DataFrame({"line": np.arange(len(frame)), "sector_raw": code})
            for name in ("consumption", "points", "secret_cells", "quality", "thermo", "thermo_share"):
                col = measures.get((name, code))
                part[name] = frame[col].to_numpy() if col else ""
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    @staticmethod
    def _long_rows(frame: pd.DataFrame, identity: dict[str, str]) -> pd.DataFrame:
        def col(name):
            return frame[identity[name]].to_numpy() if name in identity else np.full(len(frame), "", dtype=object)

        return pd.DataFrame({
            "line": np.arange(len(frame)), "sector_raw": col("code_grand_secteur"), "consumption": col("conso"),
            "points": col("pdl"), "secret_cells": col("nombre_mailles_secretisees"), "quality": col("indqual"),
            "thermo": "", "thermo_share": "", "naf_code": col("code_naf"),
            "consumer_category": col("code_categorie_consommation"),
        })

    def _finish(self, path, frame, long, identity, maille, fmt, sep, rejects, ignored, now) -> FileRead:
        header = [c for c in frame.columns if c != "source_line"]
        ident = {k: frame[v] for k, v in identity.items()}
        stats = {"lines": len(frame), "ignored_columns": len(ignored)}
        # per line: year, filière, codes
        years = parse_years(ident["annee"])
        problems = year_problems(years, ident["annee"], now)
        label = ident["filiere"].fillna("").astype(str).str.strip()
        energy_key = label.map(lambda v: ENERGIES.get(snake(v)))
        if "id_filiere" in ident:  # 100 electricity, 200 gas: used when the label is blank, checked otherwise
            by_id = ident["id_filiere"].map(lambda v: ENERGIES.get(str(v).strip()))
            clash = energy_key.notna() & by_id.notna() & (energy_key != by_id)
            problems[(problems == "") & clash] = ("filière " + label.map(repr) + " contradicts id_filiere "
                                                  + ident["id_filiere"].astype(str))
            energy_key = energy_key.where(label != "", by_id)
        problems[(problems == "") & energy_key.isna()] = ("unknown filière " + label.map(repr)
                                                          + ": expected Electricité or Gaz")
        codes: dict[str, pd.Series] = {}
        padded_total = 0
        for level, width, pattern in (("iris", 9, IRIS_PATTERN), ("commune", 5, COMMUNE_PATTERN),
                                      ("epci", 9, EPCI_PATTERN), ("departement", 2, DEPARTEMENT_PATTERN),
                                      ("region", 2, REGION_PATTERN)):
            name = f"code_{level}"
            if name not in ident:
                codes[level] = pd.Series(None, index=frame.index, dtype=object)
                continue
            code, valid, padded = pad_codes(ident[name], width, pattern)
            padded_total += padded
            codes[level] = code
            problems[(problems == "") & ~valid] = f"invalid {name} " + ident[name].astype(str).map(repr)
        problems[(problems == "") & codes[maille].isna()] = f"no code_{maille}"
        stats["codes_padded"] = padded_total
        names_repaired = 0
        name_col = identity.get(f"libelle_{maille}")
        territory_name = (ident[f"libelle_{maille}"] if name_col else pd.Series(None, index=frame.index, dtype=object))
        territory_name, n = repair_names(territory_name.replace("", None))
        names_repaired += n
        operator, n = repair_names(ident["operateur"].str.strip())
        names_repaired += n
        stats["names_repaired"] = names_repaired

        # per cell: values
        line = long["line"].to_numpy()
        cons, cons_blank = numbers(long["consumption"])
        points, points_blank = numbers(long["points"])
        secret_cells, _ = numbers(long["secret_cells"])
        quality, _ = numbers(long["quality"])
        thermo, _ = numbers(long["thermo"])
        share, _ = numbers(long["thermo_share"])
        sector = long["sector_raw"].map(lambda v: SECTORS.get(v) or _GRAND_SECTEUR.get(snake(str(v))))
        cell_problem = pd.Series(problems.to_numpy()[line], index=long.index, dtype=object)
        ok = cell_problem == ""
        cell_problem[ok & sector.isna()] = "unknown sector code " + long["sector_raw"].astype(str).map(repr)
        for label, values, raw in (("consumption", cons, long["consumption"]), ("delivery points", points, long["points"]),
                                   ("secret cell count", secret_cells, long["secret_cells"]),
                                   ("quality index", quality, long["quality"])):
            bad = (cell_problem == "") & values.isna() & (raw.fillna("").astype(str).str.strip() != "")
            cell_problem[bad] = f"unparseable {label} " + raw[bad].astype(str).map(repr)
        negative = (cell_problem == "") & ((cons < 0) | (points < 0) | (secret_cells < 0))
        cell_problem[negative] = "negative consumption, delivery points or secret cell count"
        # a line with a bad cell is quarantined whole: its other sectors would be an incomplete line
        bad_lines = np.unique(line[(cell_problem != "").to_numpy()])
        line_reason = problems.copy()
        for i in bad_lines:
            if line_reason.iat[i] == "":
                reasons = cell_problem[(line == i) & (cell_problem != "").to_numpy()]
                line_reason.iat[i] = "; ".join(dict.fromkeys(reasons))
        when = year_start_utc(years.where(problems == ""))
        rejects += line_rejects(frame, line_reason, header, sep, when=when)
        keep = (line_reason.to_numpy()[line] == "")

        secret_zero = (cons == 0) & (points.fillna(0) == 0) & (secret_cells.fillna(0) > 0)
        secret = (secret_zero | cons_blank).to_numpy()
        marker = np.where(secret_zero, "zero_with_count", np.where(cons_blank, "blank", None))
        stats["secret_cells_zero_with_count"] = int((secret_zero.to_numpy() & keep).sum())
        stats["secret_cells_blank"] = int((cons_blank.to_numpy() & keep).sum())
        y = years.to_numpy()[line]
        out = pd.DataFrame({
            "year": y, "maille": maille, "operator": operator.to_numpy()[line],
            "energy": energy_key.to_numpy()[line], "sector": sector.to_numpy(),
            "naf_code": (long["naf_code"].replace("", None).to_numpy() if "naf_code" in long else None),
            "consumer_category": (long["consumer_category"].replace("", None).to_numpy()
                                  if "consumer_category" in long else None),
            **{f"{lvl}_code": codes[lvl].to_numpy()[line] for lvl in ("iris", "commune", "epci", "departement",
                                                                       "region")},
            "territory_name": territory_name.to_numpy()[line],
            "consumption_mwh": np.where(secret, np.nan, cons.to_numpy()),
            "delivery_points": np.where(secret, np.nan, points.to_numpy()),
            "secret": secret, "secret_marker": marker, "secret_cells": secret_cells.to_numpy(),
            "quality_index": quality.to_numpy(), "thermosensitivity_kwh_per_dd": thermo.to_numpy(),
            "thermosensitive_share": share.to_numpy(), "source_format": fmt,
            "source_line": frame["source_line"].to_numpy()[line],
        })[keep].reset_index(drop=True)
        out["year"] = out["year"].astype("int64")
        out.insert(0, "datetime_utc", year_start_utc(out["year"]))
        for c in ("delivery_points", "secret_cells"):
            out[c] = pd.to_numeric(out[c]).round().astype("Int64")
        stats["rows"] = len(out)
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects), stats=stats)

    # -- writers --------------------------------------------------------------------------

    def fetch(self, landing, start, end, ctx: FetchContext):
        """One Opendatasoft export per dataset and year of [start, end), region filtered server-side."""
        live = {"base_url": DEFAULT_API, "region_code": "93", "where": DEFAULT_WHERE, **ctx.live}
        datasets = live.get("datasets") or DEFAULT_DATASETS[self.scope]
        http = session(live)
        written = []
        for year in complete_years(start, end):
            where = str(live["where"]).format(region=live["region_code"], year=year, next_year=year + 1)
            for dataset in datasets:
                content = fetch_ods_export(live, dataset, where, ctx.log, fmt="csv", http=http)
                if content is None:
                    continue
                name = f"{dataset}_{live['region_code']}_{year}.csv"
                written.append(landing.write_atomic(name, content))
        return written


DEFAULT_API = "https://opendata.agenceore.fr/api/explore/v2.1"
# `annee` is a date field in ORE's datasets (methodology note v5.0 §1)
DEFAULT_WHERE = "code_region='{region}' and annee >= date'{year}-01-01' and annee < date'{next_year}-01-01'"
DEFAULT_DATASETS = {
    "local": ("conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-commune",
              "conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-iris"),
    "aggregates": ("conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-departement",
                   "conso-elec-gaz-annuelle-par-secteur-dactivite-agregee-region"),
}


def complete_years(start: datetime, end: datetime, now: datetime | None = None) -> list[int]:
    """The years that are over and whose rows (stamped 1 January, Paris) fall in [start, end)."""
    this_year = current_paris_year(now)
    first = start.astimezone(PARIS).year
    return [y for y in range(first, min(end.astimezone(PARIS).year + 1, this_year))
            if start <= paris_start(date(y, 1, 1)) < end]


ADAPTER = OreConsumptionAdapter("local")
