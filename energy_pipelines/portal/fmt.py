"""Numbers, dates and sizes as French readers write them (Paris time, decimal comma, narrow spaces)."""

from __future__ import annotations

import html
import math
from datetime import date, datetime

import pandas as pd

from energy_pipelines.clock import PARIS

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MISSING = "n.d."


def e(value: object) -> str:
    """HTML-escaped text ('' for None)."""
    return html.escape("" if value is None else str(value))


def missing(x: object) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x)) or (isinstance(x, float) and not math.isfinite(x))
    except (TypeError, ValueError):
        return False


def number(x: float | int | None, digits: int = 0, unit: str = "") -> str:
    """1234567.8 -> '1 234 568' (narrow no-break spaces, decimal comma); missing -> 'n.d.'."""
    if missing(x):
        return MISSING
    text = f"{x:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    if text in ("-0", "-0," + "0" * digits):
        text = text[1:]
    return f"{text}\u00a0{unit}" if unit else text


def paris(t: datetime | pd.Timestamp) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{t} has no zone: cannot show it in Paris time")
    return pd.Timestamp(t).tz_convert(PARIS).to_pydatetime()


def day(d: date | datetime, weekday: bool = False) -> str:
    """'26 octobre 2025' ('dimanche 26 octobre 2025'); a datetime is taken in Paris time."""
    if isinstance(d, datetime):
        d = paris(d).date()
    text = f"{d.day}{'er' if d.day == 1 else ''} {MONTHS[d.month - 1]} {d.year}"
    return f"{DAYS[d.weekday()]} {text}" if weekday else text


def month(t: date | datetime) -> str:
    if isinstance(t, datetime):
        t = paris(t).date()
    return f"{MONTHS[t.month - 1]} {t.year}"


def clock(t: datetime) -> str:
    """'14 h 30' in Paris time."""
    p = paris(t)
    return f"{p.hour} h {p.minute:02d}"


def moment(t: datetime) -> str:
    """'26 octobre 2025 à 14 h 30' (Paris time), with the offset on the two ambiguous autumn hours."""
    p = paris(t)
    text = f"{day(p.date())} à {clock(t)}"
    folded = pd.Timestamp(t).tz_convert(PARIS)
    # the repeated hour of the last Sunday of October: say which one
    other = (folded - pd.Timedelta(hours=1)).tz_convert(PARIS)
    later = (folded + pd.Timedelta(hours=1)).tz_convert(PARIS)
    if other.hour == folded.hour or later.hour == folded.hour:
        text += f" (UTC{p.strftime('%z')[:3]})"
    return text


def span(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return MISSING
    return f"du {moment(start)} au {moment(end)}"


def size(n: int | None) -> str:
    if n is None:
        return MISSING
    for unit, scale in (("Go", 1e9), ("Mo", 1e6), ("ko", 1e3)):
        if n >= scale:
            return number(n / scale, 1, unit)
    return number(n, 0, "octets")


def slug(text: str) -> str:
    keep = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(p for p in keep.split("-") if p)
