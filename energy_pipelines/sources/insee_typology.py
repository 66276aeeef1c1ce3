"""INSEE commune typology: the "grille communale de densité" (7 levels), one row per commune.

INSEE publishes it as a spreadsheet each year; the owner's file is dropped in the landing zone as a
`;`-separated CSV export with INSEE's column names: `CODGEO` (commune code), `LIBGEO`, `DENS`
(1 = grands centres urbains ... 7 = rural à habitat très dispersé), `LIBDENS`, `PMUN` (municipal
population). `datetime_utc` is the 1st of January of the vintage year found in the file name
(`..._2024...`), Paris time; without one, the file's modification time.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import UTC, paris_start
from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.delimited import first_reason, read_delimited, reject_rows, to_number

FIELDS = ["CODGEO", "LIBGEO", "DENS", "LIBDENS"]
COLUMNS = ["datetime_utc", "commune_code", "commune_name", "density_level", "density_label", "population",
           "source_line"]
_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")


class CommuneTypologyAdapter(SourceAdapter):
    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_delimited(path, required=FIELDS)
        if m := _YEAR.search(path.name):
            vintage = pd.Timestamp(paris_start(date(int(m.group(1)), 1, 1)))
        else:
            vintage = pd.Timestamp(datetime.fromtimestamp(path.stat().st_mtime, UTC))
        level = to_number(frame["DENS"])
        pop = to_number(frame["PMUN"]) if "PMUN" in frame else pd.Series(float("nan"), index=frame.index)
        reason = first_reason([
            (~frame["CODGEO"].str.fullmatch(r"([013-9]\d|2[AB1-9])\d{3}"), "CODGEO is not an INSEE commune code"),
            (~level.isin(range(1, 8)), "DENS is not a level 1-7: " + frame["DENS"].astype(str)),
        ], frame.index)
        bad = reason != ""
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"], when=vintage)
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": vintage, "commune_code": frame.loc[ok, "CODGEO"], "commune_name": frame.loc[ok, "LIBGEO"],
            "density_level": level[ok].astype("int64"), "density_label": frame.loc[ok, "LIBDENS"],
            "population": pop[ok].astype("Int64"), "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects))


ADAPTER = CommuneTypologyAdapter()
