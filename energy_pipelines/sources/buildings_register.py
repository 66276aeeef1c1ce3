"""The Region's building register (patrimoine): one row per building, as its asset software exports it.

Format (file drop by the Région's buildings directorate into landing/patrimoine_batiments/):
';'-separated, UTF-8 with BOM or latin-1, decimal commas, one header row:
`id_batiment;nom;uai;code_commune;commune;surface_m2;usage;energie_chauffage;annee_construction;
categorie_operat;annee_reference_dt;conso_reference_kwh;valeur_absolue_kwh_m2`.
- `uai`: the lycée's Unité administrative immatriculée (7 digits and a key letter), empty for
  buildings that are not schools;
- `energie_chauffage`: Gaz naturel, Électricité, Réseau de chaleur, Fioul, Bois;
- `annee_reference_dt` / `conso_reference_kwh`: the décret tertiaire reference year and its final
  energy (kWh, all fluids but water) as declared on OPERAT, when declared;
- `valeur_absolue_kwh_m2`: the building's absolute 2030 target (Cabs) as OPERAT computes it, if known.
`datetime_utc` is the export day (a `_YYYYMMDD` in the file name), else 1970-01-01: the register
is a snapshot, not a time series. A row with no id, a bad commune code, a non-positive floor area
or a malformed UAI is rejected with its reason; a building id seen twice keeps its first row.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import UTC, paris_start
from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.buildings_common import (as_int, empty_to_none, fluid_codes, french_numbers)
from energy_pipelines.sources.delimited import first_reason, read_delimited, reject_rows
from energy_pipelines.territories import COMMUNE_CODE

FIELDS = ["id_batiment", "nom", "uai", "code_commune", "commune", "surface_m2", "usage", "energie_chauffage",
          "annee_construction"]
OPTIONAL = ["categorie_operat", "annee_reference_dt", "conso_reference_kwh", "valeur_absolue_kwh_m2"]
COLUMNS = ["datetime_utc", "building_id", "name", "uai", "commune_code", "commune_name", "floor_area_m2", "use",
           "heating_fluid", "heating_label", "year_built", "operat_category", "reference_year", "reference_kwh",
           "absolute_target_kwh_m2", "source_line"]
UAI = re.compile(r"^\d{7}[A-Z]$")
_EXPORT_DAY = re.compile(r"_(\d{8})\.csv$")


def snapshot_time(path: Path) -> pd.Timestamp:
    if m := _EXPORT_DAY.search(path.name):
        return pd.Timestamp(paris_start(datetime.strptime(m.group(1), "%Y%m%d").date()))
    return pd.Timestamp(datetime(1970, 1, 1, tzinfo=UTC))


class BuildingRegisterAdapter(SourceAdapter):
    suffixes = (".csv",)

    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_delimited(path, required=FIELDS)
        for name in OPTIONAL:
            if name not in frame:
                frame[name] = ""
        area = french_numbers(frame["surface_m2"])
        built = french_numbers(frame["annee_construction"])
        ref_year = french_numbers(frame["annee_reference_dt"])
        ref_kwh = french_numbers(frame["conso_reference_kwh"])
        cabs = french_numbers(frame["valeur_absolue_kwh_m2"])
        heating = fluid_codes(frame["energie_chauffage"])
        duplicate = frame["id_batiment"].duplicated() & frame["id_batiment"].ne("")
        reason = first_reason([
            (frame["id_batiment"].eq(""), "empty id_batiment"),
            (duplicate, "id_batiment already given on an earlier line of the file: " + frame["id_batiment"]),
            (~frame["code_commune"].str.match(COMMUNE_CODE.pattern), "invalid INSEE commune code " + frame["code_commune"]),
            (area.isna() | (area <= 0), "floor area surface_m2 missing or not positive: " + frame["surface_m2"]),
            (frame["uai"].ne("") & ~frame["uai"].str.match(UAI.pattern), "malformed UAI (7 digits + letter): " + frame["uai"]),
            (frame["annee_reference_dt"].ne("") & (ref_year.isna() | (ref_year < 2010) | (ref_year > 2100)),
             "décret tertiaire reference year must be 2010 or later: " + frame["annee_reference_dt"]),
            (frame["conso_reference_kwh"].ne("") & (ref_kwh.isna() | (ref_kwh <= 0)),
             "conso_reference_kwh is not a positive number: " + frame["conso_reference_kwh"]),
        ], frame.index)
        bad = reason != ""
        stamp = snapshot_time(path)
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"], when=stamp)
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": stamp, "building_id": frame.loc[ok, "id_batiment"], "name": frame.loc[ok, "nom"],
            "uai": empty_to_none(frame.loc[ok, "uai"]), "commune_code": frame.loc[ok, "code_commune"],
            "commune_name": frame.loc[ok, "commune"], "floor_area_m2": area[ok], "use": frame.loc[ok, "usage"],
            "heating_fluid": heating[ok], "heating_label": frame.loc[ok, "energie_chauffage"],
            "year_built": as_int(built[ok]), "operat_category": empty_to_none(frame.loc[ok, "categorie_operat"]),
            "reference_year": as_int(ref_year[ok]), "reference_kwh": ref_kwh[ok],
            "absolute_target_kwh_m2": cabs[ok], "source_line": frame.loc[ok, "source_line"],
        }, columns=COLUMNS).reset_index(drop=True)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out, rejects=reject_frame(rejects), stats={"buildings": len(out)})


ADAPTER = BuildingRegisterAdapter()
