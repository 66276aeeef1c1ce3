"""out_acc__dashboard: the operation's HTML page per period, built by reporting/uc5.py.

Participants are shown under pseudonyms ordered by a keyed hash of their PRM (the platform's
pseudonymisation key, transforms/anonymise.py), so neither the order of entry nor the PRM shows
through "Participant 07". The page stays restricted to the operation's members.
"""

from __future__ import annotations

import string

import pandas as pd

from energy_pipelines.clock import Window, paris_periods
from energy_pipelines.reporting.uc5 import operation_dashboard
from energy_pipelines.transforms.acc.params import OperationParams
from energy_pipelines.transforms.acc.register import CONSUMER
from energy_pipelines.transforms.anonymise import Pseudonymiser, pseudonymiser_for
from energy_pipelines.transforms.result import Derived

DASHBOARD_COLUMNS = ["period_start_utc", "period_end_utc", "period_local", "operation_id", "steps",
                     "self_consumption_rate_pct", "self_production_rate_pct", "html"]


def pseudonym_labels(participants: pd.DataFrame, pseudonymiser: Pseudonymiser, prefix: str = "Participant") -> dict:
    """PRM -> 'Participant 07' (consumers) / 'Producteur B' (producers), ordered by keyed hash."""
    labels = {}
    for role, units in participants.groupby("role"):
        ranked = sorted(units["prm"], key=lambda p: pseudonymiser.one(p, "acc_prm"))
        for i, prm in enumerate(ranked):
            labels[prm] = (f"{prefix} {i + 1:02d}" if role == CONSUMER
                           else f"Producteur {string.ascii_uppercase[i % 26]}{'' if i < 26 else i // 26}")
    return labels


REGISTER_SOURCE = "acc_register"  # the participants' register, the only input naming people


def _default_pseudonymiser() -> Pseudonymiser:
    from energy_pipelines.settings import load_settings

    settings = load_settings()
    key = settings.pseudonymisation_key
    return pseudonymiser_for({REGISTER_SOURCE: settings.source_mode(REGISTER_SOURCE)},
                             key.get_secret_value() if key else None)


def dashboard(allocation: pd.DataFrame, participants: pd.DataFrame, params: OperationParams,
              window: Window | None = None, pseudonymiser: Pseudonymiser | None = None) -> Derived:
    """core_acc__allocation (the period) and core_acc__participants (all) -> one page per Paris year."""
    labels = pseudonym_labels(participants, pseudonymiser or _default_pseudonymiser(), params.pseudonym_prefix)
    alloc = allocation.copy()
    alloc["datetime_utc"] = pd.to_datetime(alloc["datetime_utc"], utc=True)
    if window is None or window.is_all_time:
        if alloc.empty:
            return Derived(pd.DataFrame(columns=DASHBOARD_COLUMNS), figures={"pages": 0})
        t = alloc["datetime_utc"]
        window = Window(t.min().to_pydatetime(), (t.max() + pd.Timedelta(days=1)).to_pydatetime())
    operation = participants["operation_id"].iloc[0] if len(participants) else "ACC"
    rows, charts, figures = [], {}, {}
    for year in paris_periods(window.start, window.end, "year", partial=True):
        sub = alloc[(alloc["datetime_utc"] >= year.start) & (alloc["datetime_utc"] < year.end)]
        label = f"{year.start:%Y-%m-%d} – {year.end:%Y-%m-%d} (UTC), année {year.label}"
        page = operation_dashboard(sub, labels, f"Autoconsommation collective — opération {operation}", label)
        rows.append({"period_start_utc": year.start, "period_end_utc": year.end, "period_local": year.label,
                     "operation_id": operation, "steps": page.figures.get("steps", 0),
                     "self_consumption_rate_pct": page.figures.get("taux_autoconsommation_pct"),
                     "self_production_rate_pct": page.figures.get("taux_autoproduction_pct"), "html": page.html})
        charts.update({f"{year.label}_{k}": v for k, v in page.charts.items()})
        figures[year.label] = page.figures
    out = pd.DataFrame(rows, columns=DASHBOARD_COLUMNS)
    for c in ("period_start_utc", "period_end_utc"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return Derived(out, charts=charts, figures=figures)
