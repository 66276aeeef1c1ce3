"""The commune / EPCI referential: INSEE's Code officiel géographique and DGCL's EPCI composition.

Formats read (recognised from their header):
- INSEE COG communes (`v_commune_YYYY.csv` and the etalab/decoupage-administratif copy):
  `TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT`, ',' separated, UTF-8;
- DGCL/BANATIC `epcicom` as CSV: `dept,siren,raison_sociale,nature_juridique,mode_financ,
  nb_membres,total_pop_tot,total_pop_mun,dep_com,insee,siren_membre,nom_membre,ptot_YYYY,pmun_YYYY`.
Both are yearly reference files the Region drops into `landing/insee_cog/` (delivery: file
drop); the sample simulator writes the same two formats for the communes of the declared
territories. Rows carry `datetime_utc` = 1 January (Paris) of the millésime found in the file
name or in a `ptot_YYYY` column, else 1970-01-01 (millésime unknown).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import UTC, paris_start
from energy_pipelines.sources.base import FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.territories import COMMUNE_CODE

COG_FIELDS = ["TYPECOM", "COM", "REG", "DEP", "LIBELLE"]
EPCI_FIELDS = ["siren", "raison_sociale", "nature_juridique", "insee", "nom_membre", "dep_com"]
RAW_COLUMNS = ["datetime_utc", "file_kind", "millesime", "commune_code", "commune_type", "commune_name",
               "departement_code", "region_code", "epci_siren", "epci_name", "epci_nature", "population",
               "source_line"]
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


def _millesime(path: Path, header: list[str]) -> int | None:
    if m := _YEAR.search(path.name):
        return int(m.group(1))
    for h in header:
        if m := re.fullmatch(r"ptot_(20\d\d)", h):
            return int(m.group(1))
    return None


class InseeCogAdapter(SourceAdapter):
    suffixes = (".csv",)

    def read_file(self, path: Path) -> FileRead:
        raw = path.read_bytes()
        if not raw.strip():
            raise SourceFileError(path, "empty file")
        text = raw.decode("utf-8-sig")
        first = text.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        header = [h.strip() for h in records[0]]
        if all(f in header for f in COG_FIELDS):
            kind = "cog_communes"
        elif all(f in header for f in EPCI_FIELDS):
            kind = "epci_composition"
        else:
            raise SourceFileError(path, f"unrecognised header {header[:6]}...: expected the INSEE COG communes "
                                        f"file ({','.join(COG_FIELDS)}...) or DGCL epcicom ({','.join(EPCI_FIELDS)}...)")
        year = _millesime(path, header)
        stamp = paris_start(date(year, 1, 1)) if year else datetime(1970, 1, 1, tzinfo=UTC)
        pop_field = f"ptot_{year}" if year and f"ptot_{year}" in header else next(
            (h for h in header if h.startswith("ptot_")), None)
        rows, rejects = [], []
        for lineno, fields in enumerate(records[1:], start=2):
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                rejects.append({"datetime_utc": None, "source_line": lineno,
                                "reason": f"row has {len(fields)} fields, header has {len(header)}",
                                "record": delimiter.join(fields)})
                continue
            r = dict(zip(header, (f.strip() for f in fields), strict=True))
            code = r["COM"] if kind == "cog_communes" else r["insee"]
            if not COMMUNE_CODE.match(code):
                rejects.append({"datetime_utc": None, "source_line": lineno,
                                "reason": f"invalid INSEE commune code {code!r}", "record": r})
                continue
            if kind == "cog_communes":
                rows.append({"commune_code": code, "commune_type": r["TYPECOM"], "commune_name": r["LIBELLE"],
                             "departement_code": r["DEP"] or None, "region_code": r["REG"] or None,
                             "epci_siren": None, "epci_name": None, "epci_nature": None, "population": None,
                             "source_line": lineno})
            else:
                pop = r.get(pop_field) if pop_field else None
                rows.append({"commune_code": code, "commune_type": "COM", "commune_name": r["nom_membre"],
                             "departement_code": r["dep_com"] or None, "region_code": None,
                             "epci_siren": r["siren"], "epci_name": r["raison_sociale"],
                             "epci_nature": r["nature_juridique"],
                             "population": int(pop) if pop and pop.isdigit() else None, "source_line": lineno})
        frame = pd.DataFrame(rows, columns=RAW_COLUMNS[3:])
        frame.insert(0, "millesime", pd.array([year] * len(frame), dtype="Int64"))
        frame.insert(0, "file_kind", kind)
        frame.insert(0, "datetime_utc", pd.Timestamp(stamp))
        frame["population"] = pd.array(frame["population"], dtype="Int64")
        return FileRead(rows=frame[RAW_COLUMNS], rejects=reject_frame(rejects), stats={f"rows_{kind}": len(frame)})


ADAPTER = InseeCogAdapter()
