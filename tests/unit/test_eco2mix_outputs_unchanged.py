"""The éCO2mix chain's outputs are row-identical to the snapshot taken before the speed work (issue #12).

A synthetic RTE archive with every quirk the reader and the core step handle (both 2017 DST days,
the empty :15/:45 grid, ND and '-', a decimal comma, a filler row, a truncated row, a quoted
field, a blank line, an unparseable time, a non-numeric value, a disclaimer) goes through what the
two assets do: read the landing window, conform, write raw, read raw back, clean, conform, write
core; then the same Paris day is materialised again (a window rewrite that keeps the other rows of
its two UTC day files). Raw, core and both reject lists must equal tests/snapshots/
eco2mix_outputs.json, written by the code before the change (`python -m tests.unit.
test_eco2mix_outputs_unchanged > tests/snapshots/eco2mix_outputs.json` regenerates it; do that only
for a change that is meant to change the outputs, and say so).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "eco2mix_outputs.json"
HEADER = ("Périmètre;Nature;Date;Heures;Consommation;Thermique;Nucléaire;Eolien;Solaire;Hydraulique;Pompage;"
          "Bioénergies;Ech. physiques")
DISCLAIMER = "RTE ne pourra être tenu responsable de l'usage qui pourrait être fait des données.;;;;;;;;;;;;"
DAYS = ["25/03/2017", "26/03/2017", "27/03/2017", "28/10/2017", "29/10/2017", "30/10/2017"]


def archive_text() -> str:
    lines = [HEADER]
    for d, day in enumerate(DAYS):
        for h in range(24):
            for m in (0, 15, 30, 45):
                hhmm = f"{h:02d}:{m:02d}"
                if m in (15, 45):
                    lines.append(f"PACA;Données définitives;{day};{hhmm};;;;;;;;;")
                    continue
                k = d * 48 + h * 2 + m // 30
                wind = "ND" if k % 37 == 0 else str(k % 11)
                hydro = f"{1200 + k % 97},5" if k % 53 == 0 else str(1200 + k % 97)
                lines.append(f"PACA;Données définitives;{day};{hhmm};{4000 + k};{150 + k % 7};-;{wind};"
                             f"{max(0, 40 - abs(h - 13) * 6)};{hydro};{k % 3};{100 + k % 5};{k - 1558}")
    # the oddities, each once, among the rows
    lines.insert(20, "PACA;Données définitives;25/03/2017;04:30;4100;150")  # truncated
    lines.insert(30, "PACA;Données définitives;25/03/2017;25:00;4100;150;-;1;0;1200;0;100;-1")  # no such time
    lines.insert(40, "")  # blank line
    lines.insert(50, 'PACA;"Données définitives";25/03/2017;07:15;4100;150;-;1;0;1200;0;100;-1')  # quoted, quarter
    lines.insert(60, "PACA;Données définitives;25/03/2017;09:00;abc;150;-;1;0;1200;0;100;-1")  # non-numeric
    lines.insert(70, "PACA;Données définitives;25/03/2017;09:30;;;;;;;;;")  # half-hour with no value
    lines.append(DISCLAIMER)
    return "\n".join(lines) + "\n"


def _records(frame: pd.DataFrame) -> list[list[str]]:
    """Rows as text, in a stable order, so two runs compare value for value."""
    columns = sorted(frame.columns)
    rows = frame[columns].astype(str).to_numpy().tolist()
    return [columns, *sorted(rows)]


def outputs(root: Path) -> dict:
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.partitions import paris_day_bounds
    from energy_pipelines.sources.landing import LandingZone
    from energy_pipelines.sources.rte_eco2mix import ADAPTER
    from energy_pipelines.storage import ParquetStore
    from energy_pipelines.storage.schema import conform
    from energy_pipelines.transforms.eco2mix import clean_eco2mix

    landing = root / "landing" / "rte_eco2mix_regional"
    landing.mkdir(parents=True)
    (landing / "eCO2mix_RTE_PACA_Annuel-Definitif_2017.csv").write_bytes(archive_text().encode("latin-1"))
    catalog = default_catalog()
    store = ParquetStore(root / "warehouse")
    raw_spec, core_spec = catalog["raw_rte__eco2mix_regional"], catalog["core_rte__eco2mix_regional"]
    rejects = {}
    for first, end in (("2017-03-25", "2017-03-28"), ("2017-10-28", "2017-10-31"), ("2017-10-29", "2017-10-30")):
        window = (paris_day_bounds(first)[0], paris_day_bounds(end)[0])
        read = LandingZone(root / "landing", "rte_eco2mix_regional").read_window(ADAPTER, *window)
        rows = read.rows.drop(columns=["delivered_utc"], errors="ignore")  # the copy's arrival time
        store.write(raw_spec.id, conform(rows, raw_spec.table_schema.to_arrow(), raw_spec.id),
                    time_column="datetime_utc", window=window)
        raw = store.read(raw_spec.id, time_column="datetime_utc", window=window).to_pandas()
        cleaned = clean_eco2mix(raw)
        store.write(core_spec.id, conform(cleaned.data, core_spec.table_schema.to_arrow(), core_spec.id,
                                          core_spec.table_schema.primary_key),
                    time_column="datetime_utc", window=window)
        rejects[f"read {first}"] = _records(read.rejects)
        rejects[f"core {first}"] = _records(cleaned.rejects)
    return {
        "raw": _records(store.read(raw_spec.id, time_column="datetime_utc").to_pandas()),
        "core": _records(store.read(core_spec.id, time_column="datetime_utc").to_pandas()),
        "raw_files": sorted(p.parent.name for p in store.files(raw_spec.id)),
        "core_files": sorted(p.parent.name for p in store.files(core_spec.id)),
        "rejects": rejects,
    }


def test_raw_core_and_rejects_are_row_identical_to_the_snapshot(tmp_path):
    got = outputs(tmp_path)
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert got["raw_files"] == expected["raw_files"]
    assert got["core_files"] == expected["core_files"]
    assert got["raw"] == expected["raw"]
    assert got["core"] == expected["core"]
    assert got["rejects"] == expected["rejects"]
    # the sample does hold what it is for: both DST days, rejects of each kind
    reasons = " ".join(" ".join(row) for part in got["rejects"].values() for row in part[1:])
    for expected_reason in ("does not exist", "truncated row", "unparseable date/time", "quarter-hour row carries",
                            "no value in any column", "non-numeric value"):
        assert expected_reason in reasons
    assert "date=2017-03-26" in got["core_files"] and "date=2017-10-29" in got["core_files"]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(outputs(Path(tmp)), ensure_ascii=False, indent=0, default=str))
