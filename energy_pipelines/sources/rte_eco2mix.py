"""RTE éCO2mix regional: the annual archives as RTE publishes them, and ODRÉ API exports.

Formats read (sniffed from content, not from the extension):
- RTE annual/in-progress regional archives `eCO2mix_RTE_<Région>_Annuel-Definitif_<YYYY>`:
  latin-1, ';' (or TAB in the .xls flavour, possibly zipped), local wall-clock `Date`+`Heures`,
  a 15-minute grid whose :15/:45 rows are empty, `ND` (not available) and `-` (not applicable),
  a disclaimer as last line. The zone is Paris by definition of the format, with RTE's DST
  quirks: in March the non-existent 02:00-02:30 local rows are fillers (they repeat neighbours)
  and are rejected; in October the repeated hour is given once and is read as its first
  (summer-time) occurrence, so the second one is missing (`timeparse`, repeated="order").
- ODRÉ Opendatasoft exports of `eco2mix-regional-tr` / `eco2mix-regional-cons-def`: CSV ';' with
  API field names (`code_insee_region;...;date_heure;consommation;...`) or with the portal's
  labels (`Code INSEE région;...;Date - Heure;Consommation (MW);...`), JSON or JSON Lines.
  `date_heure` must carry its UTC offset (a value without one is refused: its instant would be
  a guess). `date`+`heure`, when given, must name the same Paris time: the consolidated data
  carry RTE's archive quirk too (the spring 02:00/02:30 rows repeat 03:00/03:30 with their
  `date_heure`), and those filler rows are rejected with the reason.
  The real-time data (`Données temps réel`) are **quarter-hourly**: every row, :00 and :30 ones
  included, is a 15-minute mean power; consolidated and definitive data are half-hourly.
  `pompage` and the battery columns may come as strings, `ND` or empty.

Raw keeps every received row as text, located in time: `datetime_utc` is the half-hour the row
belongs to (its partition), `interval_start_utc`/`interval_minutes` the period its values average
over. The half-hour value of the real-time feed (the mean of its two quarter-hours) is made in
the core step (`transforms.eco2mix`), where the two quarter-hours of a half-hour meet.
Live mode fetches those exports (Explore API v2.1) with timeouts and retries.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS, PARIS_NAME, UTC
from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import decode
from energy_pipelines.sources.file_fetch import session
from energy_pipelines.sources.http import fetch_ods_export
from energy_pipelines.sources.timeparse import parse_instants, wall_clock_to_utc

# MW, as received; the battery columns appeared in later exports (absent from archives: null)
MEASURES = ["consommation", "thermique", "nucleaire", "eolien", "solaire", "hydraulique",
            "pompage", "bioenergies", "ech_physiques", "stockage_batterie", "destockage_batterie"]
REQUIRED_MEASURES = MEASURES[:9]
RAW_COLUMNS = ["datetime_utc", "interval_start_utc", "interval_minutes", "region_code", "nature", "date_local",
               "time_local", *MEASURES, "source_line", "source_format"]
QUARTER_HOUR, HALF_HOUR = 15, 30

ARCHIVE_HEADER = {
    "Périmètre": "perimetre", "Nature": "nature", "Date": "date", "Heures": "heure",
    "Consommation": "consommation", "Thermique": "thermique", "Nucléaire": "nucleaire",
    "Eolien": "eolien", "Solaire": "solaire", "Hydraulique": "hydraulique", "Pompage": "pompage",
    "Bioénergies": "bioenergies", "Ech. physiques": "ech_physiques",
}
ODRE_REQUIRED = ["nature", "date_heure", *REQUIRED_MEASURES]
# portal labels whose plain form differs from the API field name
LABEL_FIELDS = {"region": "libelle_region", "prevision_j_1": "prevision_j1", "taux_de_co2": "taux_co2",
                "fioul_cogeneration": "fioul_cogen", "gaz_cogeneration": "gaz_cogen",
                "hydraulique_fil_de_l_eau_eclusee": "hydraulique_fil_eau_eclusee"}
_UNIT = re.compile(r"\s*\((?:mw|%|g/kwh)\)$")

# RTE archive perimeter labels -> INSEE region codes
REGION_CODES = {
    "paca": "93", "provence-alpes-côte d'azur": "93", "auvergne-rhône-alpes": "84",
    "bourgogne-franche-comté": "27", "bretagne": "53", "centre-val de loire": "24", "grand-est": "44",
    "grand est": "44", "hauts-de-france": "32", "ile-de-france": "11", "île-de-france": "11",
    "normandie": "28", "nouvelle-aquitaine": "75", "occitanie": "76", "pays-de-la-loire": "52",
    "pays de la loire": "52",
}

DISCLAIMER = "RTE ne pourra"
_ARCHIVE_YEAR = re.compile(r"Annuel-Definitif_(\d{4})")
_UTC_SPAN = re.compile(r"_(\d{8}T\d{4}Z)_(\d{8}T\d{4}Z)\.")
_UTC_DAY = re.compile(r"_(\d{4}-\d{2}-\d{2})\.(?:csv|json|jsonl)$")

DEFAULT_API = "https://odre.opendatasoft.com/api/explore/v2.1"
DEFAULT_DATASETS = ("eco2mix-regional-cons-def", "eco2mix-regional-tr")


def odre_field(label: str) -> str:
    """An ODRÉ column, as API field name or portal label, -> its API field name.

    `Ech. physiques (MW)` -> `ech_physiques`, `Date - Heure` -> `date_heure`, `Code INSEE région`
    -> `code_insee_region`, `Déstockage batterie` -> `destockage_batterie`; field names map to
    themselves.
    """
    plain = unicodedata.normalize("NFKD", label.strip().strip('"').lstrip("\ufeff")).encode("ascii", "ignore")
    plain = _UNIT.sub("", plain.decode().strip().lower())
    field = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")
    return LABEL_FIELDS.get(field, field)


def is_realtime(nature: pd.Series) -> pd.Series:
    """Rows of RTE's real-time data ('Données temps réel'): quarter-hourly in the ODRÉ exports."""
    return nature.fillna("").str.lower().str.contains("temps r", regex=False)


def _decode(path: Path, raw: bytes) -> str:
    """RTE's archives come as text (ISO-8859-1) or zipped; the shared decoder does the rest."""
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise SourceFileError(path, f"zip archive holds {len(members)} files, expected exactly one")
            raw = zf.read(members[0])
    return decode(path, raw)


def _one_text(value: Any) -> str | None:
    """A JSON value as the text a CSV export would show (numbers without a spurious '.0')."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _texts(column: pd.Series, csv_text: bool) -> pd.Series:
    if csv_text:  # already text: no per-value Python
        out = column.astype(object).str.strip()
        return out.where(out.notna() & (out != ""), None)
    return column.map(_one_text).astype(object)


def _unique_fields(fields: list[str]) -> list[str]:
    """Field names made unique (an export never repeats one, but a hand-edited file might)."""
    seen: dict[str, int] = {}
    out = []
    for f in fields:
        seen[f] = seen.get(f, 0) + 1
        out.append(f if seen[f] == 1 else f"{f}__{seen[f]}")
    return out


class RteEco2mixAdapter(SourceAdapter):
    suffixes = (".csv", ".xls", ".txt", ".zip", ".json", ".jsonl")

    # -- spans --------------------------------------------------------------------------

    def span_from_name(self, path: Path):
        if m := _ARCHIVE_YEAR.search(path.name):
            year = int(m.group(1))
            return (datetime(year, 1, 1, tzinfo=PARIS).astimezone(UTC),
                    datetime(year + 1, 1, 1, tzinfo=PARIS).astimezone(UTC))
        if m := _UTC_SPAN.search(path.name):
            return tuple(datetime.strptime(g, "%Y%m%dT%H%MZ").replace(tzinfo=UTC) for g in m.groups())
        if m := _UTC_DAY.search(path.name):
            day = datetime.strptime(m.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
            return day, day + timedelta(days=1)
        return None

    # -- reading ------------------------------------------------------------------------

    def read_file(self, path: Path) -> FileRead:
        text = _decode(path, path.read_bytes())
        head = text.lstrip()[:1]
        if head in ("[", "{"):
            return self._read_json(path, text)
        lines = text.splitlines()
        header = lines[0]
        delimiter = ";" if header.count(";") >= header.count("\t") else "\t"
        if header.count(delimiter) == 0:
            sep = "','" if "," in header else "none"
            raise SourceFileError(path, f"header has no ';' or TAB separator (found {sep}); "
                                        "RTE archives and ODRÉ exports are ';'-separated")
        names = [h.strip().strip('"') for h in header.split(delimiter)]
        fields = [odre_field(n) for n in names]
        if "date_heure" in fields or "code_insee_region" in fields:
            return self._read_odre_csv(path, _unique_fields(fields), lines, delimiter)
        if "Périmètre" in names or "Heures" in names:
            return self._read_archive(path, names, lines, delimiter)
        raise SourceFileError(
            path, f"unrecognised header {names[:6]}...: expected RTE archive columns "
                  "(Périmètre;Nature;Date;Heures;Consommation;...) or ODRÉ fields (code_insee_region;date_heure;...)"
        )

    @staticmethod
    def _split(lines: list[str], delimiter: str, width: int) -> tuple[pd.DataFrame, list[dict[str, Any]], int]:
        """Data rows as text columns 0..width-1 with their line numbers; bad widths come back as rejects.

        Fields are counted per line first (a row with fewer fields than the header — a truncated
        file — or more is quarantined, never padded), then the good lines go through pandas'
        C reader in one pass.
        """
        data = lines[1:]
        counts = np.fromiter((ln.count(delimiter) + 1 if ln.strip() else 0 for ln in data), dtype=np.int64,
                             count=len(data))
        for i, ln in enumerate(data):
            if '"' in ln:  # quoted fields may hold the delimiter: count them properly
                counts[i] = len(next(csv.reader([ln], delimiter=delimiter)))
        disclaimer = np.fromiter((ln.startswith(DISCLAIMER) for ln in data), dtype=bool, count=len(data))
        good = (counts == width) & ~disclaimer
        rejects = []
        for i in np.flatnonzero((counts > 0) & (counts != width) & ~disclaimer):
            kind = "truncated row" if counts[i] < width else "row too long"
            rejects.append({"datetime_utc": None, "source_line": int(i) + 2,
                            "reason": f"{kind}: {counts[i]} fields, header has {width}", "record": data[i]})
        idx = np.flatnonzero(good)
        if len(idx):
            frame = pd.read_csv(io.StringIO("\n".join(data[i] for i in idx)), sep=delimiter, header=None,
                                names=range(width), dtype=str, keep_default_na=False, na_values=[], engine="c",
                                skipinitialspace=True)
        else:
            frame = pd.DataFrame(columns=range(width), dtype=str)
        frame["source_line"] = idx + 2
        return frame, rejects, int(disclaimer.sum())

    def _read_archive(self, path: Path, names: list[str], lines: list[str], delimiter: str) -> FileRead:
        missing = [h for h in ARCHIVE_HEADER if h not in names]
        if missing:
            raise SourceFileError(path, f"missing column(s) {missing} in RTE archive header {names}")
        table, rejects, disclaimers = self._split(lines, delimiter, len(names))
        idx = {ARCHIVE_HEADER[h]: names.index(h) for h in ARCHIVE_HEADER}
        frame = pd.DataFrame({col: table[i] for col, i in idx.items()})
        frame["source_line"] = table["source_line"]
        stats = {"disclaimer_lines": disclaimers, "empty_grid_rows": 0}
        if frame.empty:
            return FileRead(rows=pd.DataFrame(columns=RAW_COLUMNS), rejects=reject_frame(rejects), stats=stats)
        archived = [m for m in MEASURES if m in frame]
        values = frame[archived]
        empty = (values == "").all(axis=1)
        fmt = "%Y-%m-%d %H:%M" if re.match(r"\d{4}-", frame["date"].iloc[0]) else "%d/%m/%Y %H:%M"
        naive = pd.to_datetime(frame["date"] + " " + frame["heure"], format=fmt, errors="coerce")
        minute = naive.dt.minute
        quarter = minute.isin([15, 45])
        stats["empty_grid_rows"] = int((empty & quarter).sum())
        bad_time = naive.isna() | ~minute.isin([0, 15, 30, 45])
        for i in np.flatnonzero(bad_time):
            rejects.append({"datetime_utc": None, "source_line": int(frame["source_line"].iat[i]),
                            "reason": f"unparseable date/time {frame['date'].iat[i]!r} {frame['heure'].iat[i]!r}",
                            "record": delimiter.join(frame.iloc[i][list(idx)].tolist())})
        keep = ~bad_time & ~(empty & quarter)
        frame, naive = frame[keep], naive[keep]
        # Paris wall-clock by definition of the format; a repeated autumn label: first = summer time
        located = wall_clock_to_utc(naive, PARIS_NAME, repeated="order")
        utc, anchor = located.utc, located.anchor
        problems = pd.Series("", index=frame.index)
        problems[utc.isna()] = "local time does not exist (spring-forward DST gap): RTE filler row"
        problems[(problems == "") & quarter[keep]] = ("quarter-hour row carries values; the regional series is "
                                                      "half-hourly")
        problems[(problems == "") & empty[keep]] = "half-hour row with no value in any column"
        for i in np.flatnonzero(problems.to_numpy() != ""):
            rejects.append({"datetime_utc": anchor.iat[i], "source_line": int(frame["source_line"].iat[i]),
                            "reason": problems.iat[i],
                            "record": delimiter.join(frame.iloc[i][list(idx)].tolist())})
        ok = (problems == "").to_numpy()
        frame, utc = frame[ok], utc[ok]
        out = pd.DataFrame({
            "datetime_utc": utc.array,  # tz-aware arrays: no per-value Timestamp objects
            "interval_start_utc": utc.array,
            "interval_minutes": HALF_HOUR,
            "region_code": frame["perimetre"].str.lower().map(REGION_CODES).fillna(frame["perimetre"]).to_numpy(),
            "nature": frame["nature"].to_numpy(),
            "date_local": frame["date"].to_numpy(),
            "time_local": frame["heure"].to_numpy(),
        })
        for col in MEASURES:
            out[col] = frame[col].replace("", None).to_numpy() if col in frame else None
        out["source_line"] = frame["source_line"].to_numpy()
        out["source_format"] = "rte_archive"
        out["interval_minutes"] = out["interval_minutes"].astype("int64")
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects), stats=stats)

    # -- ODRÉ exports ---------------------------------------------------------------------

    def _from_table(self, path: Path, frame: pd.DataFrame, lines: np.ndarray, fmt_name: str,
                    rejects: list[dict[str, Any]], record: Callable[[int], Any]) -> FileRead:
        """ODRÉ rows (one column per API field, values as received) -> raw rows located in time."""
        fields = list(frame.columns)
        csv_text = fmt_name == "odre_csv"
        if "code_insee_region" in fields:
            region = _texts(frame["code_insee_region"], csv_text)
        elif "perimetre" in fields:
            perimeter = _texts(frame["perimetre"], csv_text).fillna("")
            if perimeter.str.lower().eq("france").any():
                raise SourceFileError(path, "national export (perimetre 'France'): this source takes the regional "
                                            "éCO2mix exports (eco2mix-regional-tr, eco2mix-regional-cons-def)")
            region = perimeter.str.lower().map(REGION_CODES).fillna(perimeter)
        else:
            region = None
        missing = [c for c in ODRE_REQUIRED if c not in fields] + (["code_insee_region"] if region is None else [])
        if missing and len(frame):
            raise SourceFileError(path, f"missing field(s) {missing} in ODRÉ export (has {fields[:8]}...)")
        if not len(frame):
            return FileRead(rows=pd.DataFrame(columns=RAW_COLUMNS), rejects=reject_frame(rejects))
        nature = _texts(frame["nature"], csv_text)
        values = {m: _texts(frame[m], csv_text) if m in fields else pd.Series(None, index=frame.index, dtype=object)
                  for m in MEASURES}
        no_value = pd.concat(values, axis=1).isna().all(axis=1)
        realtime = is_realtime(nature)

        parsed = parse_instants(frame["date_heure"], "date_heure")
        stamp = parsed.utc
        reason = parsed.reason.copy()
        day = _texts(frame["date"], csv_text) if "date" in fields else pd.Series(None, index=frame.index, dtype=object)
        hour = _texts(frame["heure"], csv_text) if "heure" in fields else \
            pd.Series(None, index=frame.index, dtype=object)
        written = pd.to_datetime(day.astype("string") + " " + hour.astype("string").str[:5],
                                 format="%Y-%m-%d %H:%M", errors="coerce")
        paris = stamp.dt.tz_convert(PARIS_NAME)
        clash = (reason == "") & written.notna() & (written != paris.dt.tz_localize(None))
        if clash.any():
            gap = wall_clock_to_utc(written[clash], PARIS_NAME, repeated="order").utc.isna()
            label = day[clash] + " " + hour[clash]
            given = frame.loc[clash, "date_heure"].astype(str)
            reason[clash] = np.where(
                gap, "date/heure " + label + " does not exist in Paris (spring-forward DST gap): RTE filler row "
                     "repeating date_heure " + given,
                "date/heure " + label + " disagree with date_heure " + given + " (Paris "
                + paris[clash].dt.strftime("%Y-%m-%d %H:%M") + ")")
        # consolidated/definitive data are half-hourly: an empty :15/:45 row is the export's grid
        quarter_slot = (reason == "") & (stamp.dt.minute % 30 == 15) & (stamp.dt.second == 0) & ~realtime
        grid = quarter_slot & no_value
        reason[quarter_slot & ~no_value] = ("quarter-hour row carries values; consolidated and definitive figures "
                                            "are half-hourly")
        bad = (reason != "").to_numpy()
        anchor = stamp.dt.floor("30min")
        for i in np.flatnonzero(bad):
            rejects.append({"datetime_utc": anchor.iat[i] if pd.notna(anchor.iat[i]) else None,
                            "source_line": int(lines[i]), "reason": reason.iat[i], "record": record(i)})
        ok = ~bad & ~grid.to_numpy()
        on_quarter = stamp == stamp.dt.floor("15min")
        # a real-time row belongs to the half-hour holding its quarter-hour; a stamp on no grid
        # keeps its own time, so raw's half-hour-grid check stops the chain (the format changed)
        slot = stamp.dt.floor("30min").where(realtime & on_quarter, stamp)
        out = pd.DataFrame({
            "datetime_utc": slot[ok].array,
            "interval_start_utc": stamp[ok].array,
            "interval_minutes": np.where(realtime[ok], QUARTER_HOUR, HALF_HOUR).astype("int64"),
            "region_code": region[ok].to_numpy(),
            "nature": nature[ok].to_numpy(),
            "date_local": day[ok].where(day[ok].notna(), paris[ok].dt.strftime("%Y-%m-%d")).to_numpy(),
            "time_local": hour[ok].where(hour[ok].notna(), paris[ok].dt.strftime("%H:%M")).to_numpy(),
        })
        for m in MEASURES:
            out[m] = values[m][ok].to_numpy()
        out["source_line"] = np.asarray(lines, dtype="int64")[ok]
        out["source_format"] = fmt_name
        stats = {"quarter_hour_rows": int((out["interval_minutes"] == QUARTER_HOUR).sum()),
                 "empty_grid_rows": int(grid.sum())}
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects), stats=stats)

    def _read_odre_csv(self, path: Path, fields: list[str], lines: list[str], delimiter: str) -> FileRead:
        missing = [c for c in ODRE_REQUIRED if c not in fields]
        if missing and "perimetre" not in fields:  # a national export is named as such below
            raise SourceFileError(path, f"missing column(s) {missing} in ODRÉ export header")
        table, rejects, _ = self._split(lines, delimiter, len(fields))
        frame = table[list(range(len(fields)))].set_axis(fields, axis=1)
        originals = table[list(range(len(fields)))]
        return self._from_table(path, frame, table["source_line"].to_numpy(), "odre_csv", rejects,
                                lambda i: delimiter.join(originals.iloc[i].tolist()))

    def _read_json(self, path: Path, text: str) -> FileRead:
        try:
            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("results"), list):
                data = data["results"]  # the records endpoint's envelope
            numbered = list(enumerate(data if isinstance(data, list) else [data], start=1))
            fmt = "odre_json"
        except json.JSONDecodeError as exc:
            # JSON Lines, or a truncated JSON array
            if not text.lstrip().startswith("{"):
                raise SourceFileError(path, f"invalid JSON (truncated?): {exc.msg} at line {exc.lineno}") from None
            numbered, fmt = [], "odre_jsonl"
            for lineno, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        numbered.append((lineno, json.loads(line)))
                    except json.JSONDecodeError as exc2:
                        raise SourceFileError(path, f"invalid JSON Lines at line {lineno}: {exc2.msg}") from None
        rejects: list[dict[str, Any]] = []
        good = [(n, r) for n, r in numbered if isinstance(r, dict)]
        for n, r in numbered:
            if not isinstance(r, dict):
                rejects.append({"datetime_utc": None, "source_line": n, "reason": "record is not an object",
                                "record": r})
        records = [r for _, r in good]
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
        frame.columns = _unique_fields([odre_field(str(c)) for c in frame.columns])
        return self._from_table(path, frame, np.asarray([n for n, _ in good], dtype="int64"), fmt, rejects,
                                lambda i: records[i])

    # -- writers --------------------------------------------------------------------------

    def fetch(self, landing, start, end, ctx: FetchContext):
        """ODRÉ exports for [start, end): one JSON file per dataset that has rows."""
        live = {"base_url": DEFAULT_API, **ctx.live}
        region = str(live.get("region_code", "93"))
        http = session(live)
        written = []
        for dataset in live.get("datasets", DEFAULT_DATASETS):
            where = (f"code_insee_region='{region}' and date_heure >= '{start.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z' "
                     f"and date_heure < '{end.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z'")
            records = fetch_ods_export(live, dataset, where, ctx.log, order_by="date_heure", http=http)
            if not records:
                if records is not None:
                    ctx.log.info("ODRÉ %s: no rows yet for [%s, %s)", dataset, start, end)
                continue
            name = f"odre_{dataset}_{region}_{start.astimezone(UTC):%Y%m%dT%H%MZ}_{end.astimezone(UTC):%Y%m%dT%H%MZ}.json"
            written.append(landing.write_atomic(name, json.dumps(records, ensure_ascii=False)))
        return written


ADAPTER = RteEco2mixAdapter()
