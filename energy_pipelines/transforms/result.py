"""What a transform returns: the table, its quarantined rows, figures and charts. No Dagster here.

A derived dataset is declared in its catalogue YAML (`derive:` names the inputs and a pure
function `module:function`); the asset factory calls that function with the input tables as
keyword arguments, plus, when the function asks for them by name:

- `window`: the run's `clock.Window` (UTC bounds of the partition or range; all time if none);
- `params`: the use-case settings declared under `derive.params`, parsed by the pydantic model the
  parameter is annotated with (errors name the file and the field);
- `catalog`: the catalogue (for a schema, a title), read-only;
- `spec`: the catalogue entry of the dataset being made (its schema, its title).

It may return a bare DataFrame / Arrow table, or a `Derived` for rejects, figures and charts.
Figures are plain Python values (int, float, str, bool, dict, list; None/NaN shown as n/a);
charts are PNG bytes (`reporting.to_png(fig)`), embedded in the asset's page by the factory;
warnings are sentences the factory writes to the run's log (something to look at, not a failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa


@dataclass
class Derived:
    data: pa.Table | pd.DataFrame
    rejects: pa.Table | pd.DataFrame | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    charts: dict[str, bytes] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
