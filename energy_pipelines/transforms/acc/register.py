"""The operation's register and keys, typed and checked across rows (core layer).

- `participants`: the latest register snapshot, one row per PRM (a consommateur_producteur has two:
  its withdrawal PRM as consumer, its injection PRM as producer), with the UTC bounds of its
  membership [entry day 00:00 Paris, day after the exit day 00:00 Paris).
- `allocation_keys`: each declared key checked whole: one type, coefficients in [0, 100] that sum to
  100 % (per step for dynamic simple, per step and producer for full dynamic), consumers that are
  in the register. A bad key is refused whole (its rows quarantined with the reason) and kept as a
  single `refusee` row over its validity, so no step it was meant for is silently allocated with
  another key. A later key overrides an earlier one from its first day on.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from energy_pipelines.clock import paris_start
from energy_pipelines.transforms.common import REJECT_COLUMNS, rejects_from_rows
from energy_pipelines.transforms.result import Derived

PARTICIPANT_COLUMNS = ["operation_id", "participant_id", "participant_type", "prm", "role", "name", "entry_date",
                       "exit_date", "membership_start_utc", "membership_end_utc", "latitude", "longitude",
                       "pv_peak_kwc", "injection_kva", "subscribed_kva", "tariff", "snapshot_date"]
KEY_COLUMNS = ["key_id", "coefficient_index", "operation_id", "key_type", "redistribution", "status", "status_reason",
               "valid_from_utc", "valid_to_utc", "step_start_utc", "prm_injection", "prm_soutirage", "coefficient"]
CONSUMER, PRODUCER = "consommateur", "producteur"
SUM_TOLERANCE_PCT = 1e-6


def _rejects(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REJECT_COLUMNS)


def participants(register: pd.DataFrame) -> Derived:
    """core_acc__participants from raw_acc__participants (every snapshot): the latest snapshot, per PRM."""
    if register.empty:
        return Derived(pd.DataFrame(columns=PARTICIPANT_COLUMNS), figures={"participants": 0, "snapshot": None})
    latest_day = register["snapshot_date"].max()
    latest = register[register["snapshot_date"] == latest_day].sort_values(["source_file", "source_line"])
    rejects = []
    operations = latest["id_operation"].unique()
    if len(operations) > 1:
        main = latest["id_operation"].value_counts().index[0]
        other = latest["id_operation"] != main
        rejects.append(rejects_from_rows(latest[other], pd.Series(
            f"register snapshot mixes operations: this row is not of {main}", index=latest[other].index)))
        latest = latest[~other]
    dup = latest.duplicated("id_participant", keep="first")
    if dup.any():
        rejects.append(rejects_from_rows(latest[dup], pd.Series(
            "id_participant listed twice in the snapshot (first row kept)", index=latest[dup].index)))
        latest = latest[~dup]
    units = []
    for role, column in ((CONSUMER, "prm_soutirage"), (PRODUCER, "prm_injection")):
        sub = latest[latest[column].notna()].copy()
        sub["prm"], sub["role"] = sub[column], role
        units.append(sub)
    units = pd.concat(units, ignore_index=True).sort_values(["source_file", "source_line", "role"])
    dup = units.duplicated("prm", keep="first")
    if dup.any():
        rejects.append(rejects_from_rows(units[dup], pd.Series(
            "PRM already declared for another participant of the snapshot", index=units[dup].index)))
        units = units[~dup]
    entry = pd.to_datetime(units["date_entree"])
    exit_ = pd.to_datetime(units["date_sortie"])
    out = pd.DataFrame({
        "operation_id": units["id_operation"], "participant_id": units["id_participant"],
        "participant_type": units["type_participant"], "prm": units["prm"], "role": units["role"],
        "name": units["nom"], "entry_date": entry.dt.date, "exit_date": exit_.dt.date.where(exit_.notna(), None),
        "membership_start_utc": [paris_start(d.date()) for d in entry],
        "membership_end_utc": [paris_start(d.date() + timedelta(days=1)) if pd.notna(d) else pd.NaT for d in exit_],
        "latitude": units["latitude"], "longitude": units["longitude"],
        "pv_peak_kwc": units["puissance_crete_kwc"].where(units["role"] == PRODUCER),
        "injection_kva": units["puissance_injection_kva"].where(units["role"] == PRODUCER),
        "subscribed_kva": units["puissance_souscrite_kva"].where(units["role"] == CONSUMER),
        "tariff": units["tarif"], "snapshot_date": units["snapshot_date"],
    })
    out["membership_start_utc"] = pd.to_datetime(out["membership_start_utc"], utc=True)
    out["membership_end_utc"] = pd.to_datetime(out["membership_end_utc"], utc=True)
    out = out.sort_values(["role", "participant_id"]).reset_index(drop=True)
    return Derived(out[PARTICIPANT_COLUMNS], rejects=_rejects(rejects), figures={
        "snapshot": str(latest_day), "participants": int(latest["id_participant"].nunique()),
        "consumers": int((out["role"] == CONSUMER).sum()), "producers": int((out["role"] == PRODUCER).sum())})


def _key_problem(rows: pd.DataFrame, consumers: set[str], producers: set[str]) -> str | None:
    kinds = rows["type_cle"].unique()
    if len(kinds) != 1:
        return f"key mixes types {sorted(kinds)}"
    kind = kinds[0]
    for col in ("date_debut", "date_fin", "redistribution", "id_operation"):
        if rows[col].astype(str).nunique(dropna=False) != 1:
            return f"key rows disagree on {col}"
    if kind == "dynamique_defaut":
        return None if len(rows) == 1 else "the default dynamic key is one row"
    unknown = sorted(set(rows["prm_soutirage"]) - consumers)
    if unknown:
        return f"consumer PRM(s) not in the register: {', '.join(unknown[:5])}"
    if kind == "full_dynamique":
        unknown = sorted(set(rows["prm_injection"]) - producers)
        if unknown:
            return f"producer PRM(s) not in the register: {', '.join(unknown[:5])}"
    group = {"statique": [], "dynamique_simple": ["step_start_utc"],
             "full_dynamique": ["step_start_utc", "prm_injection"]}[kind]
    keys = [*group, "prm_soutirage"]
    if rows.duplicated(keys).any():
        return "a consumer has two coefficients for the same " + ("step" if group else "key")
    sums = rows.groupby(group)["coefficient_pct"].sum() if group else pd.Series([rows["coefficient_pct"].sum()])
    off = sums[(sums - 100).abs() > SUM_TOLERANCE_PCT]
    if len(off):
        where = f" at {off.index[0]}" if group else ""
        return f"coefficients sum to {off.iloc[0]:.6f} %{where}, not 100 %"
    return None


def allocation_keys(keys: pd.DataFrame, participants: pd.DataFrame) -> Derived:
    """core_acc__allocation_keys from raw_acc__keys and core_acc__participants."""
    if keys.empty:
        return Derived(pd.DataFrame(columns=KEY_COLUMNS), figures={"keys": 0, "refused": 0})
    consumers = set(participants.loc[participants["role"] == CONSUMER, "prm"])
    producers = set(participants.loc[participants["role"] == PRODUCER, "prm"])
    heads, bodies, rejects, refused = [], [], [], {}
    for key_id, rows in keys.groupby("id_cle", sort=False):
        problem = _key_problem(rows, consumers, producers)
        first = rows.iloc[0]
        start = paris_start(pd.Timestamp(first["date_debut"]).date())
        end = (paris_start(pd.Timestamp(first["date_fin"]).date() + timedelta(days=1))
               if pd.notna(first["date_fin"]) and first["date_fin"] is not None else pd.NaT)
        heads.append({"key_id": key_id, "operation_id": first["id_operation"], "key_type": first["type_cle"],
                      "redistribution": bool(first["redistribution"]), "valid_from_utc": start, "declared_to_utc": end,
                      "status": "refusee" if problem else "en_vigueur", "status_reason": problem})
        if problem:
            refused[key_id] = problem
            rejects.append(rejects_from_rows(rows, pd.Series(f"key {key_id} refused: {problem}", index=rows.index)))
        else:
            bodies.append(rows)
    head = pd.DataFrame(heads).sort_values(["valid_from_utc", "key_id"]).reset_index(drop=True)
    head["valid_from_utc"] = pd.to_datetime(head["valid_from_utc"], utc=True)
    head["declared_to_utc"] = pd.to_datetime(head["declared_to_utc"], utc=True)
    # a later key takes over from its first day
    nxt = head["valid_from_utc"].shift(-1)
    head["valid_to_utc"] = head["declared_to_utc"].where(
        head["declared_to_utc"].notna() & (nxt.isna() | (head["declared_to_utc"] <= nxt)), nxt)
    overridden = head["valid_to_utc"].notna() & (head["valid_to_utc"] <= head["valid_from_utc"])
    head.loc[overridden, "status"] = "remplacee"
    head.loc[overridden, "status_reason"] = "replaced by a key starting the same day"
    body = pd.concat(bodies, ignore_index=True) if bodies else keys.iloc[:0]
    body = body.rename(columns={"id_cle": "key_id"})
    body["coefficient"] = body["coefficient_pct"] / 100.0
    out = head.drop(columns=["declared_to_utc"]).merge(
        body[["key_id", "step_start_utc", "prm_injection", "prm_soutirage", "coefficient"]], on="key_id", how="left")
    out["step_start_utc"] = pd.to_datetime(out["step_start_utc"], utc=True)
    out["coefficient"] = out["coefficient"].astype(float)
    out["coefficient_index"] = out.groupby("key_id").cumcount()
    return Derived(out[KEY_COLUMNS], rejects=_rejects(rejects), figures={
        "keys": int(len(head)), "refused": refused,
        "in_force": head.loc[head["status"] == "en_vigueur", "key_id"].tolist()})


def key_periods(keys: pd.DataFrame) -> pd.DataFrame:
    """One row per key: key_id, type, redistribution, status, reason, [valid_from_utc, valid_to_utc)."""
    cols = ["key_id", "key_type", "redistribution", "status", "status_reason", "valid_from_utc", "valid_to_utc"]
    if keys.empty:
        return pd.DataFrame(columns=cols)
    return keys.drop_duplicates("key_id")[cols].sort_values("valid_from_utc").reset_index(drop=True)


def key_at(periods: pd.DataFrame, steps: pd.DatetimeIndex) -> np.ndarray:
    """Index into `periods` of the key covering each step (-1: none declared: Enedis's default key)."""
    out = np.full(len(steps), -1)
    live = periods[periods["status"] != "remplacee"]
    for i, row in live.iterrows():
        end = row["valid_to_utc"] if pd.notna(row["valid_to_utc"]) else pd.Timestamp.max.tz_localize("UTC")
        out[(steps >= row["valid_from_utc"]) & (steps < end)] = i
    return out
