"""Allocation keys the PMO declares to Enedis (landing/acc_keys/), one file per key.

`CLE_ACC_<operation>_<id_cle>.csv`, ';'-separated UTF-8:

    id_operation;id_cle;type_cle;redistribution;date_debut;date_fin;horodate;prm_injection;prm_soutirage;coefficient_pct

- type_cle: statique, dynamique_defaut, dynamique_simple, full_dynamique (Enedis's four keys);
- redistribution: oui / non, whether what a consumer cannot absorb is offered again to the others;
- date_debut / date_fin: first and last Paris day the key is in force (date_fin empty: until
  replaced). A later key overrides an earlier one from its date_debut on;
- statique: one row per consumer (prm_soutirage, coefficient_pct); dynamique_defaut: one row with
  no PRM and no coefficient; dynamique_simple: one row per consumer and step, `horodate` the START
  of the step in ISO 8601 with its UTC offset (a naive time would be ambiguous on the autumn DST
  day); full_dynamique: the same per (prm_injection, prm_soutirage) pair.
Coefficients are percentages; that a key's coefficients sum to 100 % (per step and producer) is a
rule across rows, checked by the core (transforms/acc/register.py), which quarantines a bad key
whole. Rows carry `datetime_utc` = the step start (dynamic rows) or Paris midnight of date_debut.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from energy_pipelines.sources.acc_formats import PRM, plain_label, read_table
from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.delimited import first_reason, paris_midnight_utc, reject_rows, to_number

FIELDS = ["id_operation", "id_cle", "type_cle", "redistribution", "date_debut", "date_fin", "horodate",
          "prm_injection", "prm_soutirage", "coefficient_pct"]
REQUIRED = ["id_operation", "id_cle", "type_cle", "date_debut", "prm_soutirage", "coefficient_pct"]
KEY_TYPES = ("statique", "dynamique_defaut", "dynamique_simple", "full_dynamique")
RAW_COLUMNS = ["datetime_utc", "id_operation", "id_cle", "type_cle", "redistribution", "date_debut", "date_fin",
               "step_start_utc", "prm_injection", "prm_soutirage", "coefficient_pct", "source_line"]
_YES = {"oui": True, "o": True, "yes": True, "true": True, "1": True,
        "non": False, "n": False, "no": False, "false": False, "0": False, "": False}


class AccKeysAdapter(SourceAdapter):
    suffixes = (".csv",)

    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_table(path, REQUIRED)
        for name in FIELDS:
            if name not in frame:
                frame[name] = ""
        t = frame[FIELDS].astype(str).apply(lambda c: c.str.strip())
        kind = t["type_cle"].map(plain_label)
        redistribution = t["redistribution"].str.lower().map(_YES)
        start_day = paris_midnight_utc(t["date_debut"])
        end_day = paris_midnight_utc(t["date_fin"])
        step = pd.to_datetime(t["horodate"].where(t["horodate"].str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", na=False)),
                              utc=True, errors="coerce", format="ISO8601")
        coef = to_number(t["coefficient_pct"]).astype("float64")
        dynamic = kind.isin(["dynamique_simple", "full_dynamique"])
        needs_consumer = kind.isin(["statique", "dynamique_simple", "full_dynamique"])
        reason = first_reason([
            (t["id_operation"] == "", "empty id_operation"),
            (t["id_cle"] == "", "empty id_cle"),
            (~kind.isin(KEY_TYPES), "unknown type_cle " + t["type_cle"] + f" (expected {', '.join(KEY_TYPES)})"),
            (redistribution.isna(), "redistribution must be oui or non: " + t["redistribution"]),
            (start_day.isna(), "date_debut is not a date YYYY-MM-DD: " + t["date_debut"]),
            ((t["date_fin"] != "") & end_day.isna(), "date_fin is not a date YYYY-MM-DD: " + t["date_fin"]),
            (end_day.notna() & (end_day < start_day), "date_fin before date_debut"),
            (dynamic & (t["horodate"] == ""), "a dynamic key row needs the horodate of its step"),
            (dynamic & step.isna(), "horodate must be ISO 8601 with its UTC offset (naive times are ambiguous "
                                    "on the autumn DST day): " + t["horodate"]),
            (~dynamic & (t["horodate"] != ""), "horodate given for a key that is not dynamic"),
            (needs_consumer & ~t["prm_soutirage"].str.match(PRM),
             "prm_soutirage must be a PRM (14 digits): " + t["prm_soutirage"]),
            ((kind == "full_dynamique") & ~t["prm_injection"].str.match(PRM),
             "a full dynamic key row needs its producer's prm_injection (14 digits): " + t["prm_injection"]),
            ((kind != "full_dynamique") & (t["prm_injection"] != ""), "prm_injection only belongs to full dynamic keys"),
            (needs_consumer & coef.isna(), "coefficient_pct is not a number: " + t["coefficient_pct"]),
            (needs_consumer & ((coef < 0) | (coef > 100)), "coefficient_pct outside [0, 100]: " + t["coefficient_pct"]),
            ((kind == "dynamique_defaut") & ((t["prm_soutirage"] != "") | (t["coefficient_pct"] != "")),
             "the default dynamic key takes no PRM and no coefficient"),
        ], frame.index)
        bad = (reason != "").to_numpy()
        when = step.where(step.notna(), start_day)
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"], when=when)
        ok = ~bad
        rows = pd.DataFrame({
            "datetime_utc": when[ok].to_numpy(),
            "id_operation": t["id_operation"][ok].to_numpy(),
            "id_cle": t["id_cle"][ok].to_numpy(),
            "type_cle": kind[ok].to_numpy(),
            "redistribution": redistribution[ok].astype(bool).to_numpy(),
            "date_debut": pd.to_datetime(t["date_debut"][ok], format="%Y-%m-%d").dt.date.to_numpy(),
            "date_fin": pd.to_datetime(t["date_fin"][ok], format="%Y-%m-%d", errors="coerce").dt.date.to_numpy(),
            "step_start_utc": step[ok].to_numpy(),
            "prm_injection": t["prm_injection"][ok].replace("", None).to_numpy(),
            "prm_soutirage": t["prm_soutirage"][ok].replace("", None).to_numpy(),
            "coefficient_pct": coef[ok].astype(float).to_numpy(),
            "source_line": frame["source_line"][ok].astype("int64").to_numpy(),
        })
        rows["datetime_utc"] = pd.to_datetime(rows["datetime_utc"], utc=True)
        rows["step_start_utc"] = pd.to_datetime(rows["step_start_utc"], utc=True)
        rows["date_fin"] = rows["date_fin"].astype(object).where(pd.notna(rows["date_fin"]), None)
        return FileRead(rows=rows[RAW_COLUMNS], rejects=reject_frame(rejects), stats={"key_rows": int(ok.sum())})


ADAPTER = AccKeysAdapter()
