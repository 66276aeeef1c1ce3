"""Formats of a collective self-consumption operation (UC5): Enedis measure files and the PMO's files.

Enedis measure files (curves of each participant, and Enedis's own allocation results) follow the
CSV layout of Enedis measure exports (R63-style "mesures de courbe de charge"), ';'-separated,
UTF-8 (BOM tolerated), one row per PRM x quantity x step:

    Identifiant PRM;Date de début;Date de fin;Grandeur physique;Grandeur métier;Etape métier;Unité;
    Horodate;Valeur;Nature;Pas;Indice de vraisemblance;Etat complémentaire

- `Grandeur physique` EA (energy over the step, Wh or kWh) or PA (mean power over the step, W or kW);
- `Grandeur métier` CONS / PROD for measured curves; the allocation results add AUTOCONS,
  COMPLEMENT, AUTOPROD, SURPLUS (the quantities of the R15 ACC flux) [labels to verify against a
  real delivery];
- `Pas` the step as an ISO 8601 duration (PT15M, PT30M, PT60M);
- `Horodate` the END of the step, either with its UTC offset or, as portal exports give it, in Paris
  wall-clock time without offset. Then the autumn day repeats 02:00 and 02:30 (first CEST, then CET,
  in file order) and the spring day has no 02:00 / 02:30: a naive stamp that does not exist, or a
  third repetition, is refused with the reason (a day shifted by the DST change).
Values are turned into whole Wh: EA in Wh must be whole; kWh x 1000; PA x step / 60 min, rounded
to the Wh (half up) -- the only rounding, counted in the file's stats.

Accents, case and spacing of the labels are ignored. A row that cannot be typed (PRM, quantity,
step, time, negative or missing value, duplicate) is rejected with its reason; the others are kept.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME
from energy_pipelines.sources.base import FileRead, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import decode, first_reason, read_delimited, reject_rows, to_number

PRM = re.compile(r"^\d{14}$")
MEASURE_FIELDS = ["identifiant_prm", "date_de_debut", "date_de_fin", "grandeur_physique", "grandeur_metier",
                  "etape_metier", "unite", "horodate", "valeur", "nature", "pas", "indice_de_vraisemblance",
                  "etat_complementaire"]
MEASURE_REQUIRED = ["identifiant_prm", "grandeur_physique", "grandeur_metier", "unite", "horodate", "valeur", "pas"]
MEASURED = ("CONS", "PROD")
ALLOCATED = ("CONS", "AUTOCONS", "COMPLEMENT", "PROD", "AUTOPROD", "SURPLUS")
MEASURE_COLUMNS = ["datetime_utc", "prm", "grandeur_metier", "step_minutes", "energy_wh", "value", "unit",
                   "horodate", "nature", "source_line"]
_STEP = re.compile(r"^PT(\d+)M$|^PT(\d+)H$")
_DAY_IN_NAME = re.compile(r"_(\d{8})\.csv$", re.IGNORECASE)
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def plain_label(label: str) -> str:
    """'Grandeur métier ' -> 'grandeur_metier': accents, case and spacing ignored."""
    text = unicodedata.normalize("NFKD", label.strip().strip('"').lstrip("\ufeff")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def read_table(path: Path, required: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    """The file's rows as text under plain labels, with line numbers; malformed lines as rejects."""
    text = decode(path)
    first, _, rest = text.partition("\n")
    if first.count(";") == 0:
        raise SourceFileError(path, "header has no ';' separator: expected a ';'-separated file")
    header = ";".join(plain_label(h) for h in first.rstrip("\r").split(";"))
    return read_delimited(path, required=required, text=header + "\n" + rest)


def day_span(path: Path):
    """A `..._YYYYMMDD.csv` file covers that Paris day."""
    from energy_pipelines.clock import paris_day_bounds

    if m := _DAY_IN_NAME.search(path.name):
        d = m.group(1)
        return paris_day_bounds(f"{d[:4]}-{d[4:6]}-{d[6:]}")
    return None


def step_minutes(text: pd.Series) -> pd.Series:
    out = pd.Series(np.nan, index=text.index)
    parsed = text.str.upper().str.extract(_STEP)
    out = out.fillna(pd.to_numeric(parsed[0], errors="coerce"))
    out = out.fillna(pd.to_numeric(parsed[1], errors="coerce") * 60)
    return out


def resolve_end_times(horodate: pd.Series, series_keys: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(UTC end instants, reason for the rows that cannot be placed) of Enedis end stamps.

    Offset-carrying stamps are exact. Naive Paris stamps are placed in file order within each
    series: the first of a repeated autumn stamp is summer time, the second winter time.
    """
    reason = pd.Series("", index=horodate.index, dtype=object)
    has_offset = horodate.str.contains(_HAS_OFFSET, na=False)
    end = pd.Series(pd.NaT, index=horodate.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        end[has_offset] = pd.to_datetime(horodate[has_offset], utc=True, errors="coerce", format="ISO8601")
    naive = ~has_offset
    if naive.any():
        local = pd.to_datetime(horodate[naive].str.replace("T", " ", regex=False), errors="coerce",
                               format="ISO8601")
        occurrence = pd.concat([series_keys[naive], local.rename("_t")], axis=1).groupby(
            [*series_keys.columns, "_t"], dropna=False, sort=False).cumcount()
        localized = pd.DatetimeIndex(local).tz_localize(
            PARIS_NAME, ambiguous=(occurrence == 0).to_numpy(), nonexistent="NaT")
        placed = pd.Series(localized, index=local.index).dt.tz_convert("UTC")
        ambiguous = pd.Series(pd.DatetimeIndex(local).tz_localize(PARIS_NAME, ambiguous="NaT",
                                                                   nonexistent="NaT"), index=local.index).isna()
        idx = local.index
        bad_text = local.isna()
        gap = placed.isna() & ~bad_text
        third = ambiguous & (occurrence >= 2) & ~gap & ~bad_text
        repeated = ~ambiguous & (occurrence >= 1) & ~bad_text
        reason[idx[bad_text.to_numpy()]] = "unparseable horodate"
        reason[idx[gap.to_numpy()]] = ("local time does not exist (spring DST change: clocks jump from 02:00 to "
                                       "03:00): the day looks shifted by the DST change")
        reason[idx[third.to_numpy()]] = "local time repeated more than twice (autumn DST change repeats it once)"
        reason[idx[repeated.to_numpy()]] = "duplicate reading: same PRM, quantity and horodate earlier in the file"
        end[naive] = placed.where(reason[naive] == "")
    reason[has_offset & end.isna() & (reason == "")] = "unparseable horodate"
    return end, reason


def read_measures(path: Path, allowed: tuple[str, ...], kind: str) -> FileRead:
    """One Enedis measure file (see the module docstring) -> typed rows in whole Wh, and rejects."""
    frame, rejects = read_table(path, MEASURE_REQUIRED)
    for name in MEASURE_FIELDS:
        if name not in frame:
            frame[name] = ""
    present = [c for c in frame.columns if c != "source_line"]
    text = frame[MEASURE_FIELDS].astype(str)
    grandeur = text["grandeur_metier"].str.upper().str.strip()
    physique = text["grandeur_physique"].str.upper().str.strip()
    unit = text["unite"].str.strip()
    step = step_minutes(text["pas"].str.strip())
    value = to_number(text["valeur"]).astype("float64")
    series = pd.DataFrame({"prm": text["identifiant_prm"], "g": grandeur, "p": text["pas"]})
    end, time_reason = resolve_end_times(text["horodate"].str.strip(), series)
    start = end - pd.to_timedelta(step.fillna(0), unit="min")
    factor = pd.Series(np.nan, index=frame.index)
    factor[(physique == "EA") & (unit == "Wh")] = 1.0
    factor[(physique == "EA") & (unit.str.lower() == "kwh")] = 1000.0
    factor[(physique == "PA") & (unit == "W")] = step / 60.0
    factor[(physique == "PA") & (unit.str.lower() == "kw")] = step * 1000.0 / 60.0
    energy = value * factor
    whole = np.floor(energy + 0.5)
    ea_not_whole = (physique == "EA") & energy.notna() & (np.abs(energy - np.round(energy)) > 1e-6)
    ok_time = end.notna()
    duplicate = pd.DataFrame({"prm": text["identifiant_prm"], "g": grandeur, "t": start}).duplicated() & ok_time
    reason = first_reason([
        (~text["identifiant_prm"].str.match(PRM), "invalid PRM (14 digits expected): " + text["identifiant_prm"]),
        (~grandeur.isin(allowed), f"grandeur métier not expected in a {kind} file ({', '.join(allowed)}): " + grandeur),
        (step.isna() | (step <= 0) | (1440 % step.fillna(7) != 0),
         "unknown step (Pas) " + text["pas"] + ": expected PT15M, PT30M, PT60M ..."),
        (factor.isna(), "unknown quantity/unit " + physique + " in " + unit + ": expected EA in Wh/kWh or PA in W/kW"),
        (text["valeur"].str.strip() == "", "missing value: Enedis sent no measure for this step"),
        (value.isna(), "non-numeric value " + text["valeur"]),
        (value < 0, "negative reading " + text["valeur"] + " " + unit),
        (ea_not_whole, "energy not in whole Wh: " + text["valeur"] + " " + unit),
        (time_reason != "", time_reason + ": " + text["horodate"]),
        (ok_time & ((start.dt.minute % step.fillna(1).clip(upper=60) != 0) | (start.dt.second != 0)),
         "horodate not on a step boundary: " + text["horodate"]),
        (duplicate, "duplicate reading: same PRM, quantity and step earlier in the file"),
    ], frame.index)
    bad = reason != ""
    rejects += reject_rows(frame, bad, reason, present, when=start.where(start.notna()))
    ok = ~bad
    rounded = int(((physique == "PA") & ok & (np.abs(energy - whole) > 1e-9)).sum())
    rows = pd.DataFrame({
        "datetime_utc": start[ok].astype("datetime64[us, UTC]").to_numpy(),
        "prm": text["identifiant_prm"][ok].to_numpy(),
        "grandeur_metier": grandeur[ok].to_numpy(),
        "step_minutes": step[ok].astype("int64").to_numpy(),
        "energy_wh": whole[ok].astype("int64").to_numpy(),
        "value": value[ok].astype(float).to_numpy(),
        "unit": (physique[ok] + " " + unit[ok]).to_numpy(),
        "horodate": text["horodate"][ok].to_numpy(),
        "nature": text["nature"][ok].replace("", None).to_numpy(),
        "source_line": frame["source_line"][ok].astype("int64").to_numpy(),
    })
    rows["datetime_utc"] = pd.to_datetime(rows["datetime_utc"], utc=True)
    return FileRead(rows=rows[MEASURE_COLUMNS], rejects=reject_frame(rejects),
                    stats={f"{kind}_rows": int(ok.sum()), f"{kind}_power_rows_rounded_to_wh": rounded})
