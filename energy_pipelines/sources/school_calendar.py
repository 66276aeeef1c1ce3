"""French school holidays: the ministry's official calendar (data.education.gouv.fr, Licence Ouverte).

Dataset `fr-en-calendrier-scolaire`, CSV with a byte-order mark:
`description;population;start_date;end_date;location;zones;annee_scolaire`, one row per holiday,
academy (`location`) and population (`-`, `Élèves`, `Enseignants`). `start_date` and `end_date`
are UTC instants of Paris midnights: the first holiday day and the day classes resume
(2017-10-20T22:00:00+00:00 = Saturday 21 October, Paris). Date-only values are read as Paris
midnights. The PACA academies, Aix-Marseille and Nice, are zone B.

Why this file and not a package: it is the authoritative source (the `vacances-scolaires-france`
package embeds a copy of it, released when its maintainers update it), it names the academies
directly, and live mode fetches it from the ministry's Opendatasoft portal. Public holidays are
not in it: the UC4 transforms take them from the `holidays` package.
A row whose end equals its start (the file's one-day holidays, e.g. a Pont or a local day) covers
that one Paris day. Rows rejected with a reason: an instant that does not parse, a holiday ending
before it starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import PARIS
from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.buildings_common import paris_midnight
from energy_pipelines.sources.delimited import first_reason, read_delimited, reject_rows
from energy_pipelines.sources.file_fetch import session
from energy_pipelines.sources.http import fetch_ods_export

FIELDS = ["description", "population", "start_date", "end_date", "location", "zones", "annee_scolaire"]
COLUMNS = ["datetime_utc", "description", "population", "start_utc", "end_utc", "location", "zones",
           "school_year", "source_line"]
DEFAULT_API = "https://data.education.gouv.fr/api/explore/v2.1"
DATASET = "fr-en-calendrier-scolaire"


def _instants(text: pd.Series) -> pd.Series:
    text = text.astype(str).str.strip()
    full = pd.to_datetime(text.where(text.str.len() > 10), utc=True, errors="coerce", format="ISO8601")
    day_only = pd.to_datetime(text.where(text.str.len() == 10), format="%Y-%m-%d", errors="coerce")
    return full.fillna(paris_midnight(day_only.where(day_only.notna(), pd.Timestamp("1970-01-01"))).where(day_only.notna()))


class SchoolCalendarAdapter(SourceAdapter):
    suffixes = (".csv", ".json")

    def read_file(self, path: Path) -> FileRead:
        if path.suffix.lower() == ".json":
            records = json.loads(path.read_text(encoding="utf-8"))
            frame = pd.DataFrame.from_records(records).reindex(columns=FIELDS).fillna("").astype(str)
            frame["source_line"] = range(1, len(frame) + 1)
            rejects = []
        else:
            frame, rejects = read_delimited(path, required=FIELDS)
        start, end = _instants(frame["start_date"]), _instants(frame["end_date"])
        reason = first_reason([
            (start.isna(), "unparseable start_date " + frame["start_date"].map(repr)),
            (end.isna(), "unparseable end_date " + frame["end_date"].map(repr)),
            (end < start, "holiday ends before it starts"),
            (frame["location"].eq(""), "empty location (academy)"),
        ], frame.index)
        bad = reason != ""
        rejects += reject_rows(frame, bad, reason, FIELDS, when=start.where(start.notna()))
        ok = ~bad
        one_day = ok & (end == start)
        end = end.where(~one_day, paris_midnight(start.dt.tz_convert(PARIS).dt.tz_localize(None).dt.normalize()
                                                 + pd.Timedelta(days=1)))
        out = pd.DataFrame({
            "datetime_utc": start[ok], "description": frame.loc[ok, "description"],
            "population": frame.loc[ok, "population"].replace("", "-"), "start_utc": start[ok], "end_utc": end[ok],
            "location": frame.loc[ok, "location"], "zones": frame.loc[ok, "zones"],
            "school_year": frame.loc[ok, "annee_scolaire"], "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS).reset_index(drop=True)
        for c in ("datetime_utc", "start_utc", "end_utc"):
            out[c] = pd.to_datetime(out[c], utc=True)
        out["source_line"] = out["source_line"].astype("int64")
        return FileRead(rows=out, rejects=reject_frame(rejects), stats={"holiday_rows": len(out)})

    def fetch(self, landing, start, end, ctx: FetchContext):
        """The whole calendar (a few thousand rows) from the ministry's portal, replaced when it changes."""
        live = {"base_url": DEFAULT_API, **ctx.live}
        records = fetch_ods_export(live, live.get("dataset", DATASET), live.get("where", "end_date >= '2015-01-01'"),
                                   ctx.log, order_by="start_date", http=session(live))
        if not records:
            return []
        return [landing.write_atomic("fr-en-calendrier-scolaire_odre.json", json.dumps(records, ensure_ascii=False))]


ADAPTER = SchoolCalendarAdapter()
