"""GRDF daily gas volumes of the remotely read meters (ADICT "consommations informatives").

Where a PCE is read remotely every day (T3/T4 with a daily or monthly publication), GRDF gives the
authorised third party its daily "informative" data; the Region's files land in
landing/grdf_adict/ as JSON Lines, one record per PCE and gas day [format to verify against the
ADICT API documentation]:
`{"pce": {"id_pce": ...}, "consommation": {"date_debut_consommation", "date_fin_consommation",
"journee_gaziere", "index_debut", "index_fin", "volume_brut", "coeff_calcul": {"coeff_conversion"},
"volume_converti", "energie", "type_qualif_conso", "statut_conso", ...}}`.
The gas day runs from 06:00 to 06:00 (Paris); `datetime_utc` is 06:00 Paris of `journee_gaziere`.
`energie` is in kWh PCS = volume x coefficient. Rejected with a reason: a line that is not JSON
or lacks the PCE, the day or the volume; a negative volume; a volume that disagrees with the index
difference; an energy that disagrees with volume x coefficient by more than 2 %.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from energy_pipelines.clock import PARIS_NAME, UTC, paris_day_bounds
from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.delimited import decode

COLUMNS = ["datetime_utc", "gas_day", "pce", "index_start_m3", "index_end_m3", "volume_m3",
           "conversion_kwh_per_m3", "energy_kwh", "qualification", "status", "source_line"]
_DAY = re.compile(r"_(\d{4}-\d{2}-\d{2})\.jsonl?$")


def _num(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).replace(",", "."))
    except ValueError:
        return None


class GrdfDailyAdapter(SourceAdapter):
    suffixes = (".jsonl", ".json")

    def span_from_name(self, path: Path):
        if m := _DAY.search(path.name):
            lo, hi = paris_day_bounds(m.group(1))
            return lo, hi + timedelta(hours=6)  # the gas day ends at 06:00 the next day
        return None

    def read_file(self, path: Path) -> FileRead:
        text = decode(path)
        rows, rejects = [], []
        numbered = list(enumerate(text.splitlines(), start=1))
        if text.lstrip().startswith("["):
            try:
                numbered = [(i, json.dumps(r)) for i, r in enumerate(json.loads(text), start=1)]
            except json.JSONDecodeError as exc:
                raise ValueError(f"invalid JSON array: {exc.msg} at line {exc.lineno}") from None
        for lineno, line in numbered:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                rejects.append({"datetime_utc": None, "source_line": lineno, "reason": f"not JSON: {exc.msg}",
                                "record": line})
                continue
            conso = record.get("consommation") if isinstance(record, dict) else None
            pce = (record.get("pce") or {}).get("id_pce") if isinstance(record, dict) else None
            if not isinstance(conso, dict) or not pce:
                rejects.append({"datetime_utc": None, "source_line": lineno,
                                "reason": "record without pce.id_pce or consommation", "record": record})
                continue
            day_text = conso.get("journee_gaziere") or conso.get("date_debut_consommation")
            try:
                day = datetime.strptime(str(day_text), "%Y-%m-%d").date()
            except ValueError:
                rejects.append({"datetime_utc": None, "source_line": lineno,
                                "reason": f"unparseable journee_gaziere {day_text!r}", "record": record})
                continue
            when = pd.Timestamp(datetime(day.year, day.month, day.day, 6), tz=PARIS_NAME).tz_convert(UTC)
            volume, i0, i1 = _num(conso.get("volume_brut")), _num(conso.get("index_debut")), _num(conso.get("index_fin"))
            coef = _num((conso.get("coeff_calcul") or {}).get("coeff_conversion"))
            energy = _num(conso.get("energie"))
            problem = None
            if volume is None:
                problem = "no volume_brut"
            elif volume < 0:
                problem = f"negative volume_brut {volume}"
            elif i0 is not None and i1 is not None and abs((i1 - i0) - volume) > 1:
                problem = f"volume_brut {volume} differs from index_fin - index_debut = {i1 - i0}"
            elif energy is not None and coef and volume > 0 and abs(energy - volume * coef) > 0.02 * volume * coef + 1:
                problem = f"energie {energy} differs from volume x coefficient = {volume * coef:.0f} by more than 2 %"
            if problem:
                rejects.append({"datetime_utc": when, "source_line": lineno, "reason": problem, "record": record})
                continue
            rows.append({"datetime_utc": when, "gas_day": day, "pce": str(pce).strip(), "index_start_m3": i0,
                         "index_end_m3": i1, "volume_m3": volume, "conversion_kwh_per_m3": coef,
                         "energy_kwh": energy if energy is not None else (volume * coef if coef else None),
                         "qualification": conso.get("type_qualif_conso"), "status": conso.get("statut_conso"),
                         "source_line": lineno})
        out = pd.DataFrame(rows, columns=COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        for c in ("index_start_m3", "index_end_m3", "volume_m3", "conversion_kwh_per_m3", "energy_kwh"):
            out[c] = out[c].astype("float64")
        out["source_line"] = out["source_line"].astype("int64")
        return FileRead(rows=out, rejects=reject_frame(rejects), stats={"gas_days": len(out)})


ADAPTER = GrdfDailyAdapter()
