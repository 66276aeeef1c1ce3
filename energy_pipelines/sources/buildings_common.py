"""What the UC4 readers share: French numbers and dates, fluid labels, Paris days in UTC.

The Region's exports and the suppliers' billing files are French spreadsheets: ';'-separated,
decimal commas, dd/mm/yyyy dates, UTF-8 with a BOM or latin-1 (the shared decoder handles both).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME, UTC

FLUIDS = ("electricite", "gaz", "eau", "reseau_chaleur", "fioul", "bois")
# labels seen in exports (accents and case ignored) -> fluid code
FLUID_LABELS = {
    "electricite": "electricite", "elec": "electricite", "electricity": "electricite",
    "gaz": "gaz", "gaz naturel": "gaz", "gas": "gaz",
    "eau": "eau", "eau potable": "eau", "water": "eau",
    "reseau de chaleur": "reseau_chaleur", "chauffage urbain": "reseau_chaleur", "rcu": "reseau_chaleur",
    "reseau_chaleur": "reseau_chaleur", "fioul": "fioul", "fioul domestique": "fioul", "bois": "bois",
}
_DATE_FR = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_SPAN_DAY = re.compile(r"_(\d{8})\.csv$", re.IGNORECASE)


def plain(text: str) -> str:
    """Lower case, no accents, single spaces: how labels are compared."""
    out = unicodedata.normalize("NFKD", str(text).strip()).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", out.lower())


def fluid_codes(labels: pd.Series) -> pd.Series:
    """Fluid codes of the labels; None where the label is unknown."""
    return labels.map(lambda v: FLUID_LABELS.get(plain(v)) if isinstance(v, str) else None)


def french_numbers(text: pd.Series) -> pd.Series:
    """'1 234,56' / '1234.56' / '' -> float (NaN when empty or not a number)."""
    cleaned = (text.astype("string").str.replace("\u00a0", "", regex=False).str.replace("\u202f", "", regex=False)
               .str.replace(" ", "", regex=False).str.replace(",", ".", regex=False))
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def french_dates(text: pd.Series) -> pd.Series:
    """dd/mm/yyyy or yyyy-mm-dd -> datetime64 at midnight (NaT when neither or invalid)."""
    text = text.astype("string").str.strip()
    fr = pd.to_datetime(text.where(text.str.match(_DATE_FR.pattern, na=False)), format="%d/%m/%Y", errors="coerce")
    iso = pd.to_datetime(text.where(~text.str.match(_DATE_FR.pattern, na=False)), format="%Y-%m-%d", errors="coerce")
    return fr.fillna(iso)


def paris_midnight(days: pd.Series) -> pd.Series:
    """Naive calendar days -> the UTC instant of their Paris midnight."""
    return pd.to_datetime(days).dt.tz_localize(PARIS_NAME).dt.tz_convert(UTC)


def empty_to_none(text: pd.Series) -> pd.Series:
    text = text.astype(object)
    return text.where(text.map(lambda v: isinstance(v, str) and v.strip() != ""), None)


def day_span_from_name(path: Path) -> tuple[datetime, datetime] | None:
    """A `..._YYYYMMDD.csv` delivery covers that Paris day."""
    if m := _SPAN_DAY.search(path.name):
        from energy_pipelines.clock import paris_day_bounds

        day = datetime.strptime(m.group(1), "%Y%m%d").date()
        return paris_day_bounds(day)
    return None


def as_int(values: pd.Series) -> pd.Series:
    return pd.array(np.where(values.notna(), values, np.nan), dtype="Float64").round().astype("Int64")
