"""Daily air temperature by region (and by département) published by RTE on ODRÉ.

Datasets `temperature-quotidienne-regionale` and `temperature-quotidienne-departementale`
(Météo-France observations, Licence Ouverte). Formats read, recognised from their header:
- the portal's CSV export with labels: `ID;Date;Code INSEE région;Région;TMin (°C);TMax (°C);TMoy (°C)`,
  dates `dd/mm/yy` (or yyyy-mm-dd);
- a CSV with field names: `date;code_insee_region;region;tmin;tmax;tmoy`, or the departmental
  `date_obs;code_insee_departement;departement;tmin;tmax;tmoy`;
- the Explore API's JSON / JSON Lines exports (same field names), which live mode fetches
  through the Opendatasoft helper the RTE source uses, for the regions of the catalogue.
Rows: `datetime_utc` (Paris midnight of the day), `day`, `area_level` (region / departement),
`area_code`, `area_name`, `tmin_c`, `tmax_c`, `tmean_c`. Rejected with a reason: unparseable
days, non-numeric values, TMin above TMax, TMoy outside [TMin, TMax] (0.1 °C tolerance), values
outside -50..50 °C. A missing day is a missing row: kept as a gap, never filled here.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import UTC, paris_periods, paris_start
from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.buildings_common import french_numbers, paris_midnight, plain
from energy_pipelines.sources.delimited import decode, first_reason, reject_rows
from energy_pipelines.sources.file_fetch import session
from energy_pipelines.sources.http import fetch_ods_export

COLUMNS = ["datetime_utc", "day", "area_level", "area_code", "area_name", "tmin_c", "tmax_c", "tmean_c", "source_line"]
LABELS = {"date": "date", "date_obs": "date", "code insee region": "code_insee_region",
          "code_insee_region": "code_insee_region", "region": "region", "code insee departement": "code_insee_departement",
          "code_insee_departement": "code_insee_departement", "departement": "departement",
          "tmin (degc)": "tmin", "tmax (degc)": "tmax", "tmoy (degc)": "tmoy", "tmin (c)": "tmin", "tmax (c)": "tmax",
          "tmoy (c)": "tmoy", "tmin": "tmin", "tmax": "tmax", "tmoy": "tmoy", "id": "id"}
DEFAULT_API = "https://odre.opendatasoft.com/api/explore/v2.1"
DATASET = "temperature-quotidienne-regionale"
_MONTH = re.compile(r"_(\d{4})-(\d{2})\.jsonl?$")
_UTC_SPAN = re.compile(r"_(\d{8}T\d{4}Z)_(\d{8}T\d{4}Z)\.")


def _label(h: str) -> str:
    p = plain(h.strip('"')).replace("°", "deg").replace("(deg c)", "(degc)")
    p = p.replace("(°c)", "(degc)")
    return LABELS.get(p, LABELS.get(p.replace(" (c)", " (degc)"), p))


class TemperatureDailyAdapter(SourceAdapter):
    suffixes = (".csv", ".json", ".jsonl")

    def span_from_name(self, path: Path):
        if m := _MONTH.search(path.name):
            first = paris_start(datetime(int(m.group(1)), int(m.group(2)), 1).date())
            nxt = paris_periods(first, first + timedelta(days=40), "month")[0].end
            return first, nxt
        if m := _UTC_SPAN.search(path.name):
            return tuple(datetime.strptime(g, "%Y%m%dT%H%MZ").replace(tzinfo=timezone.utc) for g in m.groups())
        return None

    def read_file(self, path: Path) -> FileRead:
        text = decode(path)
        if text.lstrip()[:1] in ("[", "{"):
            try:
                data = json.loads(text)
                records = data if isinstance(data, list) else [data]
            except json.JSONDecodeError:
                records = [json.loads(line) for line in text.splitlines() if line.strip()]
            frame = pd.DataFrame.from_records(records).astype(str).replace({"None": "", "nan": ""})
            frame["source_line"] = range(1, len(frame) + 1)
        else:
            lines = text.splitlines()
            header = [_label(h) for h in lines[0].split(";")]
            if len(header) < 4:
                raise ValueError(f"header {lines[0][:80]!r} is not ';'-separated")
            rows = [ln.split(";") for ln in lines[1:]]
            frame = pd.DataFrame([r for r in rows if len(r) == len(header)], columns=header, dtype=str)
            frame["source_line"] = [i + 2 for i, r in enumerate(rows) if len(r) == len(header)]
        frame.columns = [_label(c) if c != "source_line" else c for c in frame.columns]
        if "code_insee_region" in frame:
            level, code, name = "region", "code_insee_region", "region"
        elif "code_insee_departement" in frame:
            level, code, name = "departement", "code_insee_departement", "departement"
        else:
            raise ValueError(f"neither a regional nor a departmental temperature file: columns {list(frame.columns)[:7]}")
        missing = [c for c in ("date", "tmin", "tmax", "tmoy") if c not in frame]
        if missing:
            raise ValueError(f"missing column(s) {missing}")
        day_text = frame["date"].str.strip().str[:10]
        day = pd.to_datetime(day_text, format="%Y-%m-%d", errors="coerce")
        day = day.fillna(pd.to_datetime(day_text, format="%d/%m/%y", errors="coerce"))
        day = day.fillna(pd.to_datetime(day_text, format="%d/%m/%Y", errors="coerce"))
        tmin, tmax, tmoy = (french_numbers(frame[c]) for c in ("tmin", "tmax", "tmoy"))
        reason = first_reason([
            (day.isna(), "unparseable date " + frame["date"].map(repr)),
            (tmin.isna() | tmax.isna() | tmoy.isna(), "a temperature is missing or not a number"),
            (tmin > tmax + 0.05, "TMin above TMax"),
            ((tmoy < tmin - 0.1) | (tmoy > tmax + 0.1), "TMoy outside [TMin, TMax]"),
            ((tmin < -50) | (tmax > 50), "temperature outside -50..50 °C"),
        ], frame.index)
        bad = reason != ""
        when = paris_midnight(day.where(day.notna(), pd.Timestamp("1970-01-01")))
        rejects = reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"],
                              when=when.where(day.notna()))
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": when[ok], "day": day[ok].dt.date, "area_level": level,
            "area_code": frame.loc[ok, code].str.strip().str.zfill(2), "area_name": frame.loc[ok, name] if name in frame else None,
            "tmin_c": tmin[ok], "tmax_c": tmax[ok], "tmean_c": tmoy[ok], "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS).reset_index(drop=True)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        out["source_line"] = out["source_line"].astype("int64")
        return FileRead(rows=out, rejects=reject_frame(rejects), stats={"temperature_days": len(out)})

    def fetch(self, landing, start, end, ctx: FetchContext):
        """One ODRÉ export per run: the days of [start, end) of the catalogue's regions."""
        live = {"base_url": DEFAULT_API, **ctx.live}
        regions = ", ".join(f"'{r}'" for r in live.get("region_codes", ["93"]))
        first = start.astimezone(UTC)
        where = (f"code_insee_region in ({regions}) and date >= date'{paris_day(first)}' "
                 f"and date < date'{paris_day(end.astimezone(UTC))}'")
        records = fetch_ods_export(live, live.get("dataset", DATASET), where, ctx.log, order_by="date",
                                   http=session(live))
        if not records:
            return []
        name = f"odre_{DATASET}_{start.astimezone(UTC):%Y%m%dT%H%MZ}_{end.astimezone(UTC):%Y%m%dT%H%MZ}.json"
        return [landing.write_atomic(name, json.dumps(records, ensure_ascii=False))]


def paris_day(t: datetime) -> str:
    from energy_pipelines.clock import PARIS

    return t.astimezone(PARIS).strftime("%Y-%m-%d")


ADAPTER = TemperatureDailyAdapter()
