"""INSEE legal populations per commune (recensement de la population, populations légales).

Formats read (recognised from the header), `;` separated, UTF-8 or latin-1, dropped by the Region
in `landing/insee_population/` (INSEE publishes files, no open API without a key):
- "Populations légales" `donnees_communes.csv` of the yearly `ensemble.zip`:
  `REG;Région;DEP;CODARR;CODCAN;CODCOM;COM;PMUN;PCAP;PTOT` — the commune code is DEP + CODCOM (CODCOM
  is the number within the département), COM the name, PMUN the population municipale, PTOT the
  population totale. The millésime (reference year) is not in the file: it must be in the file name
  (`donnees_communes_2021.csv`), else the file is refused;
- "Séries historiques de population": `CODGEO;REG;DEP;LIBGEO;PMUN2021;PMUN2020;...` (and optionally
  `PTOT<year>`), one row per commune and year column.
A millésime is the population at 1 January of that year; rows carry that instant as `datetime_utc`.
A millésime that is not over yet, an invalid commune code or population is quarantined with the reason.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.sources.base import FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.ore_consumption import (
    COMMUNE_PATTERN, line_rejects, numbers, pad_codes, read_table, repair_names, year_problems, year_start_utc,
)

LEGAL_FIELDS = ["DEP", "CODCOM", "COM", "PMUN"]
HISTORY_FIELDS = ["CODGEO", "LIBGEO"]
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_PMUN = re.compile(r"^PMUN(\d{4})$")
RAW_COLUMNS = ["datetime_utc", "year", "commune_code", "commune_name", "population_municipale",
               "population_totale", "source_format", "source_line"]


class InseePopulationAdapter(SourceAdapter):
    suffixes = (".csv", ".gz")

    def read_file(self, path: Path, *, now: datetime | None = None) -> FileRead:
        frame, rejects, sep = read_table(path)
        header = [c for c in frame.columns if c != "source_line"]
        upper = {h.strip().upper(): h for h in header}
        if all(f in upper for f in LEGAL_FIELDS):
            m = _YEAR.search(path.name)
            if not m:
                raise SourceFileError(path, "populations légales file without its millésime: name the file with the "
                                            "reference year, e.g. donnees_communes_2021.csv")
            dep, _, pad_dep = pad_codes(frame[upper["DEP"]], 2, r"[0-9]{2}|2[AB]|97")
            num = frame[upper["CODCOM"]].fillna("").astype(str).str.strip()
            num = num.where(~num.str.fullmatch(r"\d{1,3}"), num.str.zfill(3))
            # overseas départements: DEP 971 + CODCOM 01 -> 97101
            code = np.where(dep.fillna("").str.len() == 3, dep.fillna("") + num.str[-2:], dep.fillna("") + num)
            long = pd.DataFrame({
                "line": np.arange(len(frame)), "year_text": m.group(1), "code": code,
                "name": frame[upper["COM"]], "pmun": frame[upper["PMUN"]],
                "ptot": frame[upper["PTOT"]] if "PTOT" in upper else "",
            })
            fmt, padded = "insee_populations_legales", pad_dep
        elif all(f in upper for f in HISTORY_FIELDS) and any(_PMUN.match(h) for h in upper):
            parts = []
            for key, h in upper.items():
                if m := _PMUN.match(key):
                    parts.append(pd.DataFrame({
                        "line": np.arange(len(frame)), "year_text": m.group(1), "code": frame[upper["CODGEO"]],
                        "name": frame[upper["LIBGEO"]], "pmun": frame[h],
                        "ptot": frame[upper[f"PTOT{m.group(1)}"]] if f"PTOT{m.group(1)}" in upper else "",
                    }))
            long = pd.concat(parts, ignore_index=True)
            fmt, padded = "insee_series_historiques", 0
        else:
            raise SourceFileError(path, f"unrecognised header {header[:8]}: expected INSEE populations légales "
                                        f"({';'.join(LEGAL_FIELDS)}...) or séries historiques (CODGEO;LIBGEO;PMUN<year>...)")
        stats = {"lines": len(frame)}
        code, valid, n = pad_codes(pd.Series(long["code"]), 5, COMMUNE_PATTERN)
        stats["codes_padded"] = padded + n
        years = pd.to_numeric(long["year_text"]).astype("Int64")
        problems = year_problems(years, long["year_text"], now)
        problems[(problems == "") & (~valid | code.isna())] = "invalid commune code " + long["code"].astype(str).map(repr)
        pmun, blank = numbers(long["pmun"])
        problems[(problems == "") & (pmun.isna() | (pmun < 0))] = ("invalid population municipale "
                                                                  + long["pmun"].astype(str).map(repr))
        ptot, _ = numbers(long["ptot"])
        line = long["line"].to_numpy()
        # a line with any bad year column is quarantined whole, with every reason
        line_reason = pd.Series("", index=frame.index, dtype=object)
        for i, reasons in problems[problems != ""].groupby(line[problems.to_numpy() != ""]):
            line_reason.iat[int(i)] = "; ".join(dict.fromkeys(reasons))
        rejects += line_rejects(frame, line_reason, header, sep)
        keep = line_reason.to_numpy()[line] == ""
        names, stats["names_repaired"] = repair_names(long["name"].replace("", None))
        out = pd.DataFrame({
            "year": years, "commune_code": code, "commune_name": names,
            "population_municipale": pmun.round(), "population_totale": ptot.round(),
            "source_format": fmt, "source_line": frame["source_line"].to_numpy()[line],
        })[keep].reset_index(drop=True)
        out["year"] = out["year"].astype("int64")
        for c in ("population_municipale", "population_totale"):
            out[c] = out[c].astype("Int64")
        out.insert(0, "datetime_utc", year_start_utc(out["year"]))
        stats["rows"] = len(out)
        return FileRead(rows=out[RAW_COLUMNS], rejects=reject_frame(rejects), stats=stats)


ADAPTER = InseePopulationAdapter()
