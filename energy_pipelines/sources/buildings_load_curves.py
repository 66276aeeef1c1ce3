"""Enedis load curves of the buildings' electricity meters, as SGE delivers them to a trusted third party.

The Region, authorised by each site, receives the "mesures détaillées" (R63) of its PRMs through
SGE Tiers; files land in landing/enedis_sge_courbes/, one per Paris day (`..._YYYYMMDD.csv`).
Format (R63 CSV [to verify against Enedis.SGE.GUI.0476]): ';'-separated, UTF-8 (BOM tolerated),
`Identifiant PRM;Date de début;Date de fin;Grandeur physique;Grandeur métier;Etape métier;Unité;
Horodate;Valeur;Nature;Pas;Indice de vraisemblance;Etat complémentaire`, one row per point:
- `Grandeur physique` PA (active power), `Grandeur métier` CONS (withdrawal), `Unité` W (kW accepted);
- `Valeur`: the mean power over the interval; `Pas`: PT10M (C1-C4) or PT30M (C5), and a file may
  switch step, so every row carries its own;
- `Horodate`: the END of the interval, local time, with its UTC offset (ISO 8601). A naive local
  stamp is accepted too: its repeated October hour is read first as summer time, second as winter
  time (per PRM, in file order), and a stamp inside the March gap is rejected;
- `Nature`: the point's quality as Enedis gives it (R real, E estimated, C corrected, S
  substituted...): kept as delivered, the transforms decide what counts as measured.
Rows read: `datetime_utc` = START of the interval in UTC (end minus step), the PRM, the step in
minutes, `power_w`, `energy_wh` = power x step. Rejected with a reason: other quantities than PA,
an unknown step or unit, an unparseable or non-existent stamp, a non-numeric or negative value,
and a second row for the same PRM and interval in the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.clock import PARIS_NAME, UTC
from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.buildings_common import day_span_from_name, french_numbers, plain
from energy_pipelines.sources.delimited import decode, first_reason, reject_rows
import io

LABELS = {"identifiant prm": "prm", "date de debut": "date_debut", "date de fin": "date_fin",
          "grandeur physique": "grandeur_physique", "grandeur metier": "grandeur_metier",
          "etape metier": "etape_metier", "unite": "unite", "horodate": "horodate", "valeur": "valeur",
          "nature": "nature", "pas": "pas", "indice de vraisemblance": "indice_vraisemblance",
          "etat complementaire": "etat_complementaire"}
REQUIRED = ["prm", "grandeur_physique", "unite", "horodate", "valeur", "pas"]
COLUMNS = ["datetime_utc", "prm", "step_minutes", "power_w", "energy_wh", "nature", "likelihood_index",
           "complementary_state", "interval_end_local", "source_line"]
_STEP = re.compile(r"^PT(\d+)M$")
UNIT_FACTOR = {"w": 1.0, "kw": 1000.0}


class EnedisLoadCurveAdapter(SourceAdapter):
    suffixes = (".csv",)

    def span_from_name(self, path: Path):
        return day_span_from_name(path)

    def read_file(self, path: Path) -> FileRead:
        text = decode(path)
        first = text.split("\n", 1)[0].rstrip("\r")
        header = [LABELS.get(plain(h).strip('"'), plain(h)) for h in first.split(";")]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ValueError(f"missing R63 column(s) {missing} in header {first[:120]!r}")
        lines = text.splitlines()[1:]
        width = len(header)
        seps = np.fromiter((ln.count(";") for ln in lines), dtype=np.int64, count=len(lines))
        blank = np.fromiter((not ln.strip() for ln in lines), dtype=bool, count=len(lines))
        wrong = (seps != width - 1) & ~blank
        rejects = [{"datetime_utc": None, "source_line": int(i) + 2,
                    "reason": f"row has {seps[i] + 1} fields, header has {width}", "record": lines[i]}
                   for i in np.flatnonzero(wrong)]
        good = np.flatnonzero(~wrong & ~blank)
        frame = pd.read_csv(io.StringIO("\n".join(lines[i] for i in good)), sep=";", header=None, names=header,
                            dtype=str, keep_default_na=False, engine="c") if len(good) else \
            pd.DataFrame(columns=header, dtype=str)
        frame["source_line"] = good + 2
        for c in ("nature", "indice_vraisemblance", "etat_complementaire"):
            if c not in frame:
                frame[c] = ""
        step = frame["pas"].str.extract(_STEP, expand=False).astype(float)
        factor = frame["unite"].str.strip().str.lower().map(UNIT_FACTOR)
        value = french_numbers(frame["valeur"])
        # every distinct stamp parsed once (a day holds 144 of them)
        stamps = pd.Series(frame["horodate"].unique())
        with_offset = stamps.str.contains(r"(?:[+-]\d{2}:?\d{2}|Z)$", regex=True)
        parsed = pd.Series(pd.NaT, index=stamps.index, dtype="datetime64[ns, UTC]")
        parsed[with_offset] = pd.to_datetime(stamps[with_offset], utc=True, errors="coerce", format="ISO8601")
        end_utc = frame["horodate"].map(pd.Series(parsed.to_numpy(), index=stamps.to_numpy()))
        end_utc = pd.to_datetime(end_utc, utc=True)
        naive = ~frame["horodate"].isin(set(stamps[with_offset]))
        if naive.any():
            local = pd.to_datetime(frame.loc[naive, "horodate"], errors="coerce", format="ISO8601")
            first_seen = ~pd.DataFrame({"p": frame.loc[naive, "prm"], "t": local}).duplicated()
            end_utc[naive] = local.dt.tz_localize(PARIS_NAME, ambiguous=first_seen.to_numpy(),
                                                  nonexistent="NaT").dt.tz_convert(UTC)
        start_utc = end_utc - pd.to_timedelta(step, unit="min")
        dup = pd.DataFrame({"p": frame["prm"], "t": start_utc}).duplicated() & start_utc.notna()
        reason = first_reason([
            (frame["prm"].eq(""), "empty Identifiant PRM"),
            (~frame["grandeur_physique"].str.strip().str.upper().eq("PA"),
             "not a load curve: Grandeur physique " + frame["grandeur_physique"].map(repr) + " (expected PA)"),
            ("grandeur_metier" in frame and ~frame.get("grandeur_metier", pd.Series("CONS", index=frame.index))
             .str.strip().str.upper().isin(["CONS", ""]),
             "not a withdrawal curve: Grandeur métier " + frame.get("grandeur_metier", frame["prm"]).map(repr)),
            (factor.isna(), "unknown unit " + frame["unite"].map(repr) + " (expected W or kW)"),
            (step.isna() | (step <= 0), "unknown step " + frame["pas"].map(repr) + " (expected PTnM)"),
            (end_utc.isna(), "unparseable or non-existent local Horodate " + frame["horodate"].map(repr)),
            (value.isna(), "Valeur is not a number: " + frame["valeur"].map(repr)),
            (value < 0, "negative power " + frame["valeur"]),
            (dup, "second value for the same PRM and interval in the file"),
        ], frame.index)
        bad = (reason != "").to_numpy()
        rejects += reject_rows(frame, bad, reason, [c for c in frame.columns if c != "source_line"],
                               when=start_utc.where(start_utc.notna()))
        ok = ~bad
        power = (value * factor)[ok]
        out = pd.DataFrame({
            "datetime_utc": start_utc[ok], "prm": frame.loc[ok, "prm"].str.strip(),
            "step_minutes": step[ok].astype("int64"), "power_w": power,
            "energy_wh": power * step[ok] / 60.0, "nature": frame.loc[ok, "nature"].str.strip().replace("", None),
            "likelihood_index": frame.loc[ok, "indice_vraisemblance"].replace("", None),
            "complementary_state": frame.loc[ok, "etat_complementaire"].replace("", None),
            "interval_end_local": frame.loc[ok, "horodate"], "source_line": frame.loc[ok, "source_line"].astype("int64"),
        }, columns=COLUMNS).reset_index(drop=True)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out, rejects=reject_frame(rejects), stats={"curve_points": len(out)})


ADAPTER = EnedisLoadCurveAdapter()
