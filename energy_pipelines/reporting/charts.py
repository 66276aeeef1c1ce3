"""Small PNG charts embedded in materialisation metadata (the Dagster UI renders them inline)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import dagster as dg
import matplotlib

matplotlib.use("Agg")  # no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from energy_pipelines.clock import PARIS  # noqa: E402
from energy_pipelines.storage.atomic import write_bytes_atomic  # noqa: E402


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def as_metadata(png: bytes, path: Path, *, inline: bool, alt: str = "chart") -> dg.MetadataValue:
    """The chart is always saved beside the outputs; inline, the UI shows it under [Show Markdown].

    Output metadata of a range run is copied onto every partition's materialisation: assets built
    by the factories attach charts to the run's last partition only (`assets.common.scoped_metadata`);
    the older module assets link the file for ranges instead.
    """
    write_bytes_atomic(path, png)
    if inline:
        alt = alt.replace("]", ")").replace("[", "(")
        return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")
    return dg.MetadataValue.path(str(path))


def chart_metadata(reports_dir: Path, dataset: str, name: str, window, png: bytes) -> dg.MetadataValue:
    """Save a chart of a run under reports/charts/<dataset>/ and return its metadata value."""
    stem = f"{window.start:%Y%m%dT%H%M}_{window.end:%Y%m%dT%H%M}" if not window.is_all_time else "all"
    # inline: the UI shows it under [Show Markdown]; a range run puts it on its last partition only
    return as_metadata(png, reports_dir / "charts" / dataset / f"{name}_{stem}.png", inline=True,
                       alt=f"{dataset}: {name}, {stem}")


def time_series(frame: pd.DataFrame, time_column: str, series: dict[str, str], title: str,
                secondary: dict[str, str] | None = None, max_points: int = 2000) -> bytes:
    """Lines over Paris time; long windows are resampled to daily means to stay readable."""
    data = frame.set_index(pd.to_datetime(frame[time_column], utc=True).dt.tz_convert(PARIS))
    cols = list(series) + list(secondary or {})
    data = data[cols].astype(float)
    if len(data) > max_points:
        data = data.resample("1D").mean()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for col, label in series.items():
        ax.plot(data.index, data[col], label=label, lw=1)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if secondary:
        ax2 = ax.twinx()
        for col, label in secondary.items():
            ax2.plot(data.index, data[col], label=label, lw=1, color="tab:green", alpha=0.7)
        ax2.set_ylabel(", ".join(secondary.values()), fontsize=8)
        ax2.legend(loc="upper right", fontsize=7)
    ax.legend(loc="upper left", fontsize=7)
    fig.autofmt_xdate()
    return to_png(fig)
