"""Daily context of the lycées: occupancy (school days, holidays, weekends, public holidays) and temperature.

Occupancy comes from the official school calendar of the PACA academies (zone B) plus the French
public holidays of the `holidays` package (the ministry's file lists school holidays only).
A school day is a weekday, not a public holiday, inside no pupils' holiday. Temperatures are the
ODRÉ daily means of the region; a day without a published temperature stays without one.
"""

from __future__ import annotations

from datetime import date

import holidays as public_holidays
import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME


def _paris_days(instants: pd.Series) -> pd.Series:
    return pd.to_datetime(instants, utc=True).dt.tz_convert(PARIS_NAME).dt.tz_localize(None).dt.normalize()


def school_days(calendar: pd.DataFrame, first: date, last: date,
                academies: tuple[str, ...] = ("Aix-Marseille", "Nice")) -> pd.DataFrame:
    """Per Paris day first..last: school_day, holiday, summer_holiday, public_holiday, weekend.

    Holidays are the pupils' ones (population '-' or 'Élèves'); a day is a holiday in the zone when
    it is one in any of `academies` (they share zone B). Fails loudly when the calendar does not
    cover the days asked: occupancy is never guessed.
    """
    days = pd.date_range(first, last, freq="D")
    rows = calendar[calendar["location"].isin(academies)
                    & ~calendar["population"].fillna("-").str.lower().str.startswith("enseignant")]
    if rows.empty:
        raise ValueError(f"school calendar has no row for the academies {academies}")
    start, end = _paris_days(rows["start_utc"]), _paris_days(rows["end_utc"])
    covered_until = end.max()
    if days[-1] >= covered_until + pd.Timedelta(days=1) and days[-1] >= pd.Timestamp(covered_until.year + 1, 9, 1):
        raise ValueError(f"school calendar ends {covered_until:%Y-%m-%d}: occupancy after it is unknown")
    holiday = np.zeros(len(days), dtype=bool)
    summer = np.zeros(len(days), dtype=bool)
    for s, e, desc in zip(start, end, rows["description"], strict=True):
        inside = (days >= s) & (days < e)
        holiday |= inside
        if "été" in desc.lower() or "ete" in desc.lower():
            summer |= inside
    fr = public_holidays.France(years=range(first.year, last.year + 1))
    public = np.array([d.date() in fr for d in days])
    weekend = np.asarray(days.dayofweek >= 5)
    return pd.DataFrame({"day": days.date, "school_day": ~holiday & ~public & ~weekend, "holiday": holiday,
                         "summer_holiday": summer, "public_holiday": public, "weekend": weekend})


def daily_temperature(temperature: pd.DataFrame, area_code: str = "93", area_level: str = "region") -> pd.DataFrame:
    """One mean temperature per day of the area (the latest delivery wins where files overlap)."""
    t = temperature[(temperature["area_level"] == area_level) & (temperature["area_code"] == area_code)]
    if t.empty:
        raise ValueError(f"no daily temperature for {area_level} {area_code}")
    order = [c for c in ("source_file", "source_line") if c in t]
    t = t.sort_values(order).drop_duplicates("day", keep="last") if order else t.drop_duplicates("day", keep="last")
    out = t[["day", "tmin_c", "tmax_c", "tmean_c"]].copy()
    out["day"] = pd.to_datetime(out["day"]).dt.date
    return out.sort_values("day").reset_index(drop=True)


def day_context(calendar: pd.DataFrame, temperature: pd.DataFrame, first: date, last: date,
                academies: tuple[str, ...] = ("Aix-Marseille", "Nice"), area_code: str = "93") -> pd.DataFrame:
    """Occupancy and mean temperature per Paris day first..last (tmean_c null where unpublished)."""
    occ = school_days(calendar, first, last, academies)
    temp = daily_temperature(temperature, area_code)
    return occ.merge(temp, on="day", how="left")


def degree_days(tmean: np.ndarray, base_c: float, kind: str = "heating") -> np.ndarray:
    """Daily degree days from daily mean temperatures: max(base - T, 0) or max(T - base, 0)."""
    return np.clip(base_c - tmean, 0, None) if kind == "heating" else np.clip(tmean - base_c, 0, None)
