"""Providers' timestamps -> UTC instants, refusing every value whose instant would be a guess.

Two kinds of formats, and one rule for each:

- **Instants** (ISO 8601 with a UTC offset or `Z`: ODRÉ `date_heure`, Enedis `horodate`, SPIE
  timestamps). A value without an offset is refused with a reason naming it: its zone is not
  given, and at the autumn DST change a Paris wall-clock time names two instants. (pandas'
  ISO 8601 parser would silently give such a value the offset of the row before it.)
- **Wall-clock times in a zone the format defines** (RTE's annual archives: Paris time;
  Météo-France `AAAAMMJJHH`: UTC). A local time that does not exist (the spring DST gap) is
  refused, anchored at the instant the clocks jumped; a local time that occurs twice (the autumn
  hour) is resolved by the format's documented rule, or refused when the format has none.

Values are parsed once per distinct text (a year of half-hours repeats few stamps per station).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME

_DATE_TIME = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
_OFFSET = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)"
WITH_OFFSET = re.compile(rf"{_DATE_TIME}{_OFFSET}")
WITHOUT_OFFSET = re.compile(_DATE_TIME)

# the documented rules for a repeated (autumn) local time
#  "order": the first row carrying a label is the first (summer-time) occurrence, a second row
#           with the same label the second (winter-time) one: RTE's annual archives
#  "refuse": the format gives no way to tell them apart
Repeated = Literal["order", "refuse"]


@dataclass(frozen=True)
class Parsed:
    """UTC instants (NaT where refused) and, row by row, why a value was refused ('' = parsed)."""

    utc: pd.Series
    reason: pd.Series

    @property
    def refused(self) -> pd.Series:
        return self.reason != ""


def parse_instants(text: pd.Series, what: str = "timestamp") -> Parsed:
    """ISO 8601 stamps carrying their UTC offset -> tz-aware UTC; every other value is refused.

    `what` names the field in the reasons, e.g. "date_heure '2025-10-26T02:10:00' has no UTC
    offset: ...". Leading/trailing spaces are ignored; an empty value is "missing".
    """
    values = pd.Series(text, copy=False).astype("string").str.strip()
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = pd.Index(uniques, dtype="string")
    shaped = uniques.str.fullmatch(WITH_OFFSET.pattern).fillna(False).to_numpy(dtype=bool)
    text = uniques if shaped.all() else uniques.where(shaped, None)
    parsed = pd.DatetimeIndex(pd.to_datetime(text.to_numpy(dtype=object), utc=True, errors="coerce",
                                             format="ISO8601"))
    reasons = np.full(len(uniques), "", dtype=object)
    for i in np.flatnonzero(parsed.isna()):
        value = uniques[i]
        if value == "":
            reasons[i] = f"missing {what}"
        elif WITHOUT_OFFSET.fullmatch(value):
            reasons[i] = (f"{what} {value!r} has no UTC offset: a local time without its zone is refused "
                          "(it would be a guess, and names two instants at the autumn DST change)")
        else:
            reasons[i] = (f"unparseable {what} {value!r} (expected ISO 8601 with a UTC offset, "
                          "e.g. 2025-10-26T02:10:00+01:00)")
    missing = codes < 0
    take = np.where(missing, 0, codes)
    utc = pd.Series(parsed.take(take) if len(uniques) else pd.DatetimeIndex([], tz="UTC"), index=values.index)
    reason = pd.Series(reasons.take(take) if len(uniques) else np.array([], dtype=object), index=values.index,
                       dtype=object)
    if missing.any():
        utc[missing] = pd.NaT
        reason[missing] = f"missing {what}"
    return Parsed(utc=utc.astype("datetime64[ns, UTC]"), reason=reason)


@dataclass(frozen=True)
class WallClock:
    """Local wall-clock times located in UTC.

    `utc` is NaT where refused; `anchor` is an instant for every parsed row (for a non-existent
    spring time: the instant the clocks jumped), so a refused row still belongs to a half-hour;
    `reason` is '' where located.
    """

    utc: pd.Series
    anchor: pd.Series
    reason: pd.Series


def wall_clock_to_utc(naive: pd.Series, zone: str = PARIS_NAME, *, repeated: Repeated = "refuse") -> WallClock:
    """Naive local date-times of `zone` -> UTC, by the format's rule for repeated times.

    `naive` must hold parsed, naive datetimes (NaT allowed: it stays NaT with no reason; the
    caller names unparseable text itself). With repeated="order" the rows must be in file order.
    """
    naive = pd.Series(naive, copy=False)
    reason = pd.Series("", index=naive.index, dtype=object)
    if zone == "UTC":
        utc = naive.dt.tz_localize("UTC")
        return WallClock(utc=utc, anchor=utc, reason=reason)
    n = len(naive)
    # the zone given by name takes pandas' fast path (a ZoneInfo object is ~100x slower here)
    summer = naive.dt.tz_localize(zone, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT").dt.tz_convert("UTC")
    winter = naive.dt.tz_localize(zone, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT").dt.tz_convert("UTC")
    gap = naive.notna() & summer.isna()
    twice = summer.notna() & (summer != winter)
    if repeated == "order":
        first = ~naive.duplicated()
        utc = summer.where(first, winter)
    else:
        utc = summer.where(~twice)
        if twice.any():
            label = naive[twice].dt.strftime("%Y-%m-%d %H:%M")
            reason[twice] = ("local time " + label + f" occurs twice in {zone} (autumn DST change) "
                             "and the format does not say which")
    anchor = utc.where(utc.notna(), summer)
    if gap.any():
        label = naive[gap].dt.strftime("%Y-%m-%d %H:%M")
        reason[gap] = "local time " + label + f" does not exist in {zone} (spring-forward DST gap)"
        jumped = naive[gap].dt.tz_localize(zone, nonexistent="shift_forward").dt.tz_convert("UTC")
        anchor[gap] = jumped
    return WallClock(utc=utc, anchor=anchor, reason=reason)
