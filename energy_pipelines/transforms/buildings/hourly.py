"""Hourly meter series (building monitoring systems, archives) to monthly "bills", zero-filled gaps told apart.

Archives often replace missing readings by 0. A run of zero hours is classified:
- electricity: always a gap (a building's electricity never stops: lighting, servers, fridges);
- heating (gas): a gap when the building is normally heated in those conditions: during the run the
  hours are cold (below `cold_c`) and, on the rest of the series, the same hours of the week at such
  temperatures consume in at least `heated_share` of cases; otherwise a plausible real zero (heating
  off in summer, at weekends by schedule).
A month then counts its valid hours (measured or plausible zeros); its use rate is the valid use
over the valid hours (CalTRACK's sufficiency: months with < 90 % valid hours are not used).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def classify_zeros(values: pd.Series, temperature: pd.Series, fluid: str, cold_c: float = 10.0,
                   heated_share: float = 0.8) -> pd.Series:
    """Per hour: 'measured', 'zero' (plausible real zero) or 'gap' (a zero standing for a missing reading)."""
    zero = values.eq(0)
    out = pd.Series(np.where(zero, "zero", "measured"), index=values.index, dtype=object)
    if not zero.any():
        return out
    run_id = (zero != zero.shift()).cumsum()[zero]
    if fluid == "electricite":
        out[zero] = "gap"
        return out
    t = temperature.reindex(values.index)
    how = values.index.dayofweek * 24 + values.index.hour
    cold = t < cold_c
    heated = (values > 0)[cold].groupby(how[cold]).mean()  # how often such an hour is heated when cold
    for _, idx in values[zero].groupby(run_id).groups.items():
        hours = pd.DatetimeIndex(idx)
        c = cold.reindex(hours).fillna(False).to_numpy()
        normally_on = heated.reindex(hours.dayofweek * 24 + hours.hour).fillna(0).to_numpy() >= heated_share
        if (c & normally_on).mean() >= 0.5:
            out[hours] = "gap"
    return out


def monthly_from_hourly(values: pd.Series, quality: pd.Series, min_valid: float = 0.9) -> pd.DataFrame:
    """Per calendar month: valid use, valid hours, coverage, and the month's use at the valid rate."""
    valid = quality.ne("gap")
    frame = pd.DataFrame({"kwh": values.where(valid, 0.0), "valid": valid.astype(int), "hours": 1})
    m = frame.resample("MS").sum()
    m["coverage"] = m["valid"] / m["hours"]
    m["quantity"] = np.where(m["valid"] > 0, m["kwh"] / m["valid"].replace(0, np.nan) * m["hours"], np.nan)
    m.loc[m["coverage"] < min_valid, "quantity"] = np.nan
    m["gap_hours"] = m["hours"] - m["valid"]
    out = m.reset_index().rename(columns={m.index.name or "index": "month_start", "kwh": "valid_kwh"})
    out["month"] = out.iloc[:, 0].dt.strftime("%Y-%m")
    return out[["month", "valid_kwh", "quantity", "coverage", "gap_hours", "hours"]]
