"""RTE éCO2mix regional: the annual archives as RTE publishes them, and ODRÉ API exports.

Formats read (sniffed from content, not from the extension):
- RTE annual/in-progress regional archives `eCO2mix_RTE_<Région>_Annuel-Definitif_<YYYY>`:
  latin-1, ';' (or TAB in the .xls flavour, possibly zipped), local wall-clock `Date`+`Heures`,
  a 15-minute grid whose :15/:45 rows are empty, `ND` (not available) and `-` (not applicable),
  a disclaimer as last line. RTE's DST quirks: in March the non-existent 02:00-02:30 local
  rows are fillers (they repeat neighbours) and are rejected; in October the repeated hour is
  given once and is read as its first (summer-time) occurrence, so the second one is missing.
- ODRÉ Opendatasoft exports of `eco2mix-regional-tr` / `eco2mix-regional-cons-def` (CSV ';'
  with API field names, JSON or JSON Lines), where `date_heure` carries its UTC offset.
Live mode fetches those exports (Explore API v2.1) with timeouts and retries.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import decode
from energy_pipelines.sources.file_fetch import session
from energy_pipelines.sources.http import fetch_ods_export

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc

MEASURES = ["consommation", "thermique", "nucleaire", "eolien", "solaire", "hydraulique",
            "pompage", "bioenergies", "ech_physiques"]
RAW_COLUMNS = ["datetime_utc", "region_code", "nature", "date_local", "time_local", *MEASURES,
               "source_line", "source_format"]

ARCHIVE_HEADER = {
    "Périmètre": "perimetre", "Nature": "nature", "Date": "date", "Heures": "heure",
    "Consommation": "consommation", "Thermique": "thermique", "Nucléaire": "nucleaire",
    "Eolien": "eolien", "Solaire": "solaire", "Hydraulique": "hydraulique", "Pompage": "pompage",
    "Bioénergies": "bioenergies", "Ech. physiques": "ech_physiques",
}
ODRE_REQUIRED = ["code_insee_region", "nature", "date_heure", *MEASURES]

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


def _decode(path: Path, raw: bytes) -> str:
    """RTE's archives come as text (ISO-8859-1) or zipped; the shared decoder does the rest."""
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise SourceFileError(path, f"zip archive holds {len(members)} files, expected exactly one")
            raw = zf.read(members[0])
    return decode(path, raw)


def _paris_to_utc(naive: pd.Series, labels: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Local wall-clock -> UTC. Returns (utc or NaT when the time does not exist, anchor).

    A label seen twice is the October repeat: the first is summer time, the second winter.
    The anchor of a non-existent (March) time is the instant the clocks jumped.
    """
    first_occurrence = (~labels.duplicated()).to_numpy()
    # the zone given by name takes pandas' fast path (a ZoneInfo object is ~100x slower here)
    utc = naive.dt.tz_localize("Europe/Paris", ambiguous=first_occurrence, nonexistent="NaT").dt.tz_convert("UTC")
    anchor = naive.dt.tz_localize("Europe/Paris", ambiguous=first_occurrence,
                                  nonexistent="shift_forward").dt.tz_convert("UTC")
    return utc, anchor


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
        if "Périmètre" in names or "Heures" in names:
            return self._read_archive(path, names, lines, delimiter)
        if "date_heure" in names or "code_insee_region" in names:
            return self._read_odre_csv(path, names, lines, delimiter)
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
        values = frame[MEASURES]
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
        utc, anchor = _paris_to_utc(naive, frame["date"] + " " + frame["heure"])
        problems = pd.Series("", index=frame.index)
        problems[utc.isna()] = "local time does not exist (spring-forward DST gap): RTE filler row"
        problems[(problems == "") & quarter[keep] ] = "quarter-hour row carries values; the regional series is half-hourly"
        problems[(problems == "") & empty[keep]] = "half-hour row with no value in any column"
        for i in np.flatnonzero(problems.to_numpy() != ""):
            rejects.append({"datetime_utc": anchor.iat[i], "source_line": int(frame["source_line"].iat[i]),
                            "reason": problems.iat[i],
                            "record": delimiter.join(frame.iloc[i][list(idx)].tolist())})
        ok = (problems == "").to_numpy()
        frame, utc = frame[ok], utc[ok]
        out = pd.DataFrame({
            "datetime_utc": utc.to_numpy(),
            "region_code": frame["perimetre"].str.lower().map(REGION_CODES).fillna(frame["perimetre"]).to_numpy(),
            "nature": frame["nature"].to_numpy(),
            "date_local": frame["date"].to_numpy(),
            "time_local": frame["heure"].to_numpy(),
        })
        for col in MEASURES:
            out[col] = frame[col].replace("", None).to_numpy()
        out["source_line"] = frame["source_line"].to_numpy()
        out["source_format"] = "rte_archive"
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects), stats=stats)

    def _from_records(self, path: Path, records: list[dict[str, Any]], lines: list[int],
                      fmt_name: str, rejects: list[dict[str, Any]]) -> FileRead:
        if records:
            missing = [c for c in ODRE_REQUIRED if c not in records[0]]
            if missing:
                raise SourceFileError(path, f"missing field(s) {missing} in ODRÉ export (has {list(records[0])[:8]}...)")
        frame = pd.DataFrame.from_records(records, columns=list(dict.fromkeys([*ODRE_REQUIRED, "date", "heure"])))
        stamp = pd.to_datetime(frame["date_heure"], utc=True, errors="coerce", format="ISO8601")
        for i in np.flatnonzero(stamp.isna().to_numpy()):
            rejects.append({"datetime_utc": None, "source_line": lines[i],
                            "reason": f"unparseable date_heure {frame['date_heure'].iat[i]!r}",
                            "record": records[i]})
        ok = stamp.notna().to_numpy()
        frame, stamp = frame[ok], stamp[ok]
        local = stamp.dt.tz_convert(PARIS)
        out = pd.DataFrame({
            "datetime_utc": stamp.to_numpy(),
            "region_code": frame["code_insee_region"].astype(str).to_numpy(),
            "nature": frame["nature"].to_numpy(),
            "date_local": frame["date"].where(frame["date"].notna(), local.dt.strftime("%Y-%m-%d")).to_numpy(),
            "time_local": frame["heure"].where(frame["heure"].notna(), local.dt.strftime("%H:%M")).to_numpy(),
        })
        for col in MEASURES:
            values = frame[col].to_numpy(dtype=object)
            out[col] = [None if v is None or v == "" or (isinstance(v, float) and np.isnan(v))
                        else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)) for v in values]
        out["source_line"] = np.asarray(lines, dtype="int64")[ok]
        out["source_format"] = fmt_name
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects))

    def _read_odre_csv(self, path: Path, names: list[str], lines: list[str], delimiter: str) -> FileRead:
        missing = [c for c in ODRE_REQUIRED if c not in names]
        if missing:
            raise SourceFileError(path, f"missing column(s) {missing} in ODRÉ export header")
        table, rejects, _ = self._split(lines, delimiter, len(names))
        records = table[list(range(len(names)))].apply(lambda c: c.str.strip()).set_axis(names, axis=1) \
            .to_dict("records")
        return self._from_records(path, records, table["source_line"].tolist(), "odre_csv", rejects)

    def _read_json(self, path: Path, text: str) -> FileRead:
        try:
            data = json.loads(text)
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
        return self._from_records(path, [r for _, r in good], [n for n, _ in good], fmt, rejects)

    # -- writers --------------------------------------------------------------------------

    def simulate(self, landing, start, end, *, now: datetime | None = None):
        from energy_pipelines.simulate.paca_mix import write_eco2mix_days

        return write_eco2mix_days(landing, start, end, now=now)

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
