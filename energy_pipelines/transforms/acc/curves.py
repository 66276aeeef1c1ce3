"""Participants' curves checked against the register (core_acc__participant_curves).

Every raw reading either lands here, typed and attributed to its participant, or in the rejects
with the reason: a PRM that is not in the register, a quantity on the wrong kind of PRM (PROD on a
withdrawal PRM), a reading outside the participant's membership, a step other than the operation's,
or a reading delivered again (the latest delivery wins; the earlier one is kept in the rejects).
Gaps are not invented: the figures list, per PRM, the steps of the window the participant should
have delivered and did not (the allocation then refuses those steps, see operation.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_pipelines.clock import Window, local_iso
from energy_pipelines.transforms.acc.params import OperationParams
from energy_pipelines.transforms.acc.register import CONSUMER, PRODUCER
from energy_pipelines.transforms.common import REJECT_COLUMNS, rejects_from_rows
from energy_pipelines.transforms.result import Derived

CURVE_COLUMNS = ["datetime_utc", "datetime_local", "operation_id", "participant_id", "prm", "role", "flow",
                 "step_minutes", "energy_wh", "nature", "source_file", "source_line"]
FLOW_ROLE = {"CONS": CONSUMER, "PROD": PRODUCER}


def step_grid(window: Window, step_minutes: int) -> pd.DatetimeIndex:
    return pd.date_range(window.start, window.end, freq=f"{step_minutes}min", inclusive="left")


def membership_mask(units: pd.DataFrame, steps: pd.DatetimeIndex) -> np.ndarray:
    """[T, K] True where unit k is in the operation at step t."""
    t = steps.values[:, None]
    start = pd.to_datetime(units["membership_start_utc"], utc=True).values[None, :]
    end = pd.to_datetime(units["membership_end_utc"], utc=True)
    end = end.fillna(pd.Timestamp.max.tz_localize("UTC").floor("D")).values[None, :]
    return (t >= start) & (t < end)


def participant_curves(curves: pd.DataFrame, participants: pd.DataFrame, params: OperationParams,
                       window: Window | None = None) -> Derived:
    window = window or Window.all_time()
    if curves.empty:
        return Derived(pd.DataFrame(columns=CURVE_COLUMNS), figures={"rows": 0})
    rows = curves.sort_values(["source_file", "source_line"]).reset_index(drop=True)
    units = participants[["prm", "role", "participant_id", "operation_id", "membership_start_utc",
                          "membership_end_utc"]]
    rows["flow"] = rows["grandeur_metier"]
    merged = rows.merge(units, on="prm", how="left", suffixes=("", "_unit"))
    t = pd.to_datetime(merged["datetime_utc"], utc=True)
    start = pd.to_datetime(merged["membership_start_utc"], utc=True)
    end = pd.to_datetime(merged["membership_end_utc"], utc=True)
    reason = pd.Series("", index=merged.index, dtype=object)

    def flag(mask, why) -> None:
        new = np.asarray(mask, dtype=bool) & (reason == "").to_numpy()
        reason[new] = why if isinstance(why, str) else why[new]

    flag(merged["role"].isna(), "PRM not in the operation register")
    flag(merged["role"].notna() & (merged["flow"].map(FLOW_ROLE) != merged["role"]),
         "quantity " + merged["flow"] + " on a " + merged["role"].fillna("") + " PRM")
    flag(t < start, "reading before the participant entered the operation (" + start.dt.strftime("%Y-%m-%d %H:%M UTC") + ")")
    flag(end.notna() & (t >= end), "reading after the participant left the operation")
    flag(merged["step_minutes"] != params.step_minutes,
         "step of " + merged["step_minutes"].astype(str) + " min differs from the operation's "
         + str(params.step_minutes) + " min")
    later = merged.duplicated(["prm", "flow", "datetime_utc"], keep="last") & (reason == "")
    flag(later, "superseded by a later delivery of the same PRM, quantity and step")
    bad = reason != ""
    rejects = rejects_from_rows(merged.loc[bad, curves.columns.tolist()], reason[bad]) if bad.any() else \
        pd.DataFrame(columns=REJECT_COLUMNS)
    ok = merged[~bad].copy()
    ok["datetime_local"] = local_iso(ok["datetime_utc"])
    ok = ok.sort_values(["datetime_utc", "role", "prm"]).reset_index(drop=True)
    figures = {"rows": int(len(ok)), "rejected": int(bad.sum()),
               "rejected_by_reason": reason[bad].str.replace(r"\(.*\)|\d+", "#", regex=True).value_counts().to_dict()}
    if not window.is_all_time:
        steps = step_grid(window, params.step_minutes)
        expected = membership_mask(participants, steps)
        have = np.zeros_like(expected)
        t = steps.get_indexer(pd.DatetimeIndex(pd.to_datetime(ok["datetime_utc"], utc=True)))
        k = pd.Index(participants["prm"]).get_indexer(ok["prm"])
        inside = (t >= 0) & (k >= 0)
        have[t[inside], k[inside]] = True
        gaps = expected & ~have
        missing = {prm: {"steps": int(gaps[:, i].sum()), "first": steps[np.argmax(gaps[:, i])].isoformat()}
                   for i, prm in enumerate(participants["prm"]) if gaps[:, i].any()}
        figures["steps_expected"] = int(expected.sum())
        figures["missing_steps_by_prm"] = missing
    return Derived(ok[CURVE_COLUMNS], rejects=rejects, figures=figures)
