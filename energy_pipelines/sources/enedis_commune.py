"""Enedis per-commune half-hourly extracts (closed data, delivered as files by Enedis).

The format is the one of the FlexGRID deliveries as modelled here [to verify against a real
delivery]: UTF-8 (BOM tolerated), ';'-separated, one row per commune x sector (consumption) or
commune x filière (production) x half-hour, field names in Enedis open-data style; the French
column labels of Enedis portal exports are accepted too. `horodate` is the start of the
half-hour in ISO 8601 with its UTC offset (so the repeated October hour is unambiguous).

Consumption: horodate; code_commune; nom_commune; secteur_activite (Résidentiel / Professionnel /
  Entreprise); nb_points_soutirage; total_energie_soutiree_wh; energie_soutiree_max_point_wh
Production: horodate; code_commune; nom_commune; filiere_de_production (F1 ... F6 labels of
  prod-region); nb_points_injection; puissance_installee_kw; total_energie_injectee_wh;
  energie_injectee_max_point_wh
The `*_max_point_wh` figure (energy of the largest single point of the cell) is what lets the
platform apply the dominance rule of statistical secrecy downstream.

File names `ENEDIS_FLEXGRID_{CONSO|PROD}_COMMUNES_<first Paris day>_<last Paris day>.csv` give
the span. Rows are typed here; a row that cannot be (bad time, code, number, negative energy,
largest point above the cell total) is rejected with its reason, the others are kept.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from energy_pipelines.sources.base import FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.enedis_open import check_delivery
from energy_pipelines.sources.delimited import decode
from energy_pipelines.sources.timeparse import parse_instants
from energy_pipelines.territories import COMMUNE_CODE

FIELDS = {
    "consumption": ["horodate", "code_commune", "nom_commune", "secteur_activite", "nb_points_soutirage",
                    "total_energie_soutiree_wh", "energie_soutiree_max_point_wh"],
    "production": ["horodate", "code_commune", "nom_commune", "filiere_de_production", "nb_points_injection",
                   "puissance_installee_kw", "total_energie_injectee_wh", "energie_injectee_max_point_wh"],
}
OPTIONAL = {"nom_commune", "energie_soutiree_max_point_wh", "energie_injectee_max_point_wh", "puissance_installee_kw"}
NUMERIC = {
    "consumption": {"count": "nb_points_soutirage", "energy": "total_energie_soutiree_wh",
                    "largest": "energie_soutiree_max_point_wh", "other": []},
    "production": {"count": "nb_points_injection", "energy": "total_energie_injectee_wh",
                   "largest": "energie_injectee_max_point_wh", "other": ["puissance_installee_kw"]},
}
# French labels of portal exports (accents and case ignored) -> field names
LABELS = {
    "horodate": "horodate", "code insee commune": "code_commune", "code commune": "code_commune",
    "code insee": "code_commune", "nom commune": "nom_commune", "commune": "nom_commune",
    "secteur activite": "secteur_activite", "secteur d'activite": "secteur_activite",
    "nb points soutirage": "nb_points_soutirage", "total energie soutiree (wh)": "total_energie_soutiree_wh",
    "energie soutiree max point (wh)": "energie_soutiree_max_point_wh",
    "filiere de production": "filiere_de_production", "nb points injection": "nb_points_injection",
    "puissance installee (kw)": "puissance_installee_kw", "total energie injectee (wh)": "total_energie_injectee_wh",
    "energie injectee max point (wh)": "energie_injectee_max_point_wh",
}
SOURCE_FLOWS = {"enedis_commune_consumption": "consumption", "enedis_commune_production": "production"}
_SPAN = re.compile(r"_(\d{8})_(\d{8})\.csv$", re.IGNORECASE)


def _plain(label: str) -> str:
    text = unicodedata.normalize("NFKD", label.strip().strip('"')).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text.lower())


def _field(label: str) -> str:
    plain = _plain(label)
    return LABELS.get(plain, plain.replace(" ", "_"))


def raw_columns(flow: str) -> list[str]:
    return ["datetime_utc", *FIELDS[flow][1:], "source_line"]


class EnedisCommuneAdapter(SourceAdapter):
    suffixes = (".csv",)

    def span_from_name(self, path: Path):
        m = _SPAN.search(path.name)
        if not m:
            return None
        from energy_pipelines.partitions import paris_day_bounds

        first, last = (datetime.strptime(g, "%Y%m%d") for g in m.groups())
        return paris_day_bounds(f"{first:%Y-%m-%d}")[0], paris_day_bounds(f"{last:%Y-%m-%d}")[1]

    def read_file(self, path: Path) -> FileRead:
        text = decode(path)  # UTF-8 (BOM or not), UTF-16 by its BOM, latin-1; empty or binary refused
        first_line = text.split("\n", 1)[0]
        if first_line.count(";") == 0:
            raise SourceFileError(path, "header has no ';' separator: Enedis extracts are ';'-separated")
        header = [_field(h) for h in first_line.rstrip("\r").split(";")]
        flow = "production" if "filiere_de_production" in header else (
            "consumption" if "secteur_activite" in header else None)
        if flow is None:
            raise SourceFileError(path, f"unrecognised header {header[:6]}...: expected an Enedis per-commune "
                                        "consumption (secteur_activite) or production (filiere_de_production) extract")
        check_delivery(path, flow, SOURCE_FLOWS, header, [f for f in FIELDS[flow] if f not in OPTIONAL])
        frame, rejects = self._table(text, header)
        return self._typed(path, flow, frame, rejects)

    @staticmethod
    def _table(text: str, header: list[str]) -> tuple[pd.DataFrame, list[dict]]:
        """All fields as text with their line numbers; rows of the wrong width are rejected.

        Fast path (no quoting): pandas parses, the separators counted per line find the short
        rows (pandas pads them silently). Quoted files or too-long rows take the csv module.
        """
        rejects: list[dict] = []
        lines = text.rstrip("\n").split("\n")[1:]
        width = len(header) - 1
        seps = np.fromiter((line.count(";") for line in lines), dtype=np.int64, count=len(lines))
        if '"' not in text and not (seps > width).any():
            frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False, header=0,
                                names=header, skip_blank_lines=False, engine="c")
            frame["source_line"] = np.arange(2, len(frame) + 2)
            blank = np.fromiter((not line.strip() for line in lines), dtype=bool, count=len(lines))
            short = (seps < width) & ~blank
            for i in np.flatnonzero(short):
                rejects.append({"datetime_utc": None, "source_line": i + 2,
                                "reason": f"truncated row: {seps[i] + 1} fields, header has {len(header)}",
                                "record": lines[i].rstrip("\r")})
            return frame[~(short | blank)].reset_index(drop=True), rejects
        rows, numbers = [], []
        for lineno, fields in enumerate(csv.reader(io.StringIO(text), delimiter=";"), start=1):
            if lineno == 1 or not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                kind = "truncated row" if len(fields) < len(header) else "row too long"
                rejects.append({"datetime_utc": None, "source_line": lineno,
                                "reason": f"{kind}: {len(fields)} fields, header has {len(header)}",
                                "record": ";".join(fields)})
                continue
            rows.append(fields)
            numbers.append(lineno)
        frame = pd.DataFrame(rows, columns=header, dtype=str)
        frame["source_line"] = np.asarray(numbers, dtype="int64")
        return frame, rejects

    @staticmethod
    def _typed(path: Path, flow: str, frame: pd.DataFrame, rejects: list[dict]) -> FileRead:
        spec = NUMERIC[flow]
        for name in FIELDS[flow]:
            if name not in frame:
                frame[name] = ""
        text = frame[FIELDS[flow]]
        if any(text[c].str.len().ne(text[c].str.strip().str.len()).any() for c in ("horodate", "code_commune")):
            text = text.apply(lambda c: c.str.strip())
        # 48 distinct stamps a day: parse each once
        parsed = parse_instants(text["horodate"], "horodate")  # parses each distinct stamp once
        when = parsed.utc
        reason = pd.Series("", index=frame.index, dtype=object)

        def flag(mask: pd.Series, why) -> None:
            """Give `mask` rows not yet rejected the reason `why` (text, or a function of the rows)."""
            new = (mask & (reason == "")).to_numpy()
            if new.any():
                reason[new] = why if isinstance(why, str) else why(text[new]).to_numpy()

        flag(parsed.refused, lambda t: parsed.reason[t.index])
        flag(when.notna() & ((when.dt.minute % 30 != 0) | (when.dt.second != 0)),
             lambda t: "horodate not on a half-hour boundary: " + t["horodate"])
        codes = pd.Series(text["code_commune"].unique())
        valid_codes = set(codes[codes.str.match(COMMUNE_CODE.pattern)])
        flag(~text["code_commune"].isin(valid_codes), lambda t: "invalid INSEE commune code " + t["code_commune"].map(repr))
        category = "filiere_de_production" if flow == "production" else "secteur_activite"
        flag(text[category] == "", f"empty {category}")
        numbers = {}
        for name in [spec["count"], spec["energy"], spec["largest"], *spec["other"]]:
            value = pd.to_numeric(text[name], errors="coerce")
            if value.isna().any():  # decimal commas, then give up
                value = value.fillna(pd.to_numeric(text[name].str.replace(",", ".", regex=False), errors="coerce"))
            optional = name in OPTIONAL
            flag(value.isna() & ~(optional & (text[name] == "")),
                 lambda t, n=name: f"non-numeric {n}: " + t[n].map(repr))
            flag(value < 0, lambda t, n=name: f"negative {n}: " + t[n])
            numbers[name] = value
        flag(numbers[spec["largest"]] > numbers[spec["energy"]] + 1,
             lambda t: "largest point above the cell total: " + t[spec["largest"]] + " > " + t[spec["energy"]])
        flag((numbers[spec["count"]] == 0) & (numbers[spec["energy"]] > 0), "energy without any delivery point")
        bad = (reason != "").to_numpy()
        for i in np.flatnonzero(bad):
            rejects.append({"datetime_utc": when.iat[i] if pd.notna(when.iat[i]) else None,
                            "source_line": int(frame["source_line"].iat[i]), "reason": reason.iat[i],
                            "record": ";".join(text.iloc[i].tolist())})
        ok = ~bad
        out = pd.DataFrame({"datetime_utc": when[ok].reset_index(drop=True)})
        out["code_commune"] = text["code_commune"][ok].to_numpy()
        out["nom_commune"] = text["nom_commune"][ok].replace("", None).to_numpy()
        out[category] = text[category][ok].to_numpy()
        out[spec["count"]] = numbers[spec["count"]][ok].astype("int64").to_numpy()
        for name in [*spec["other"], spec["energy"], spec["largest"]]:
            out[name] = numbers[name][ok].astype("float64").to_numpy()
        out["source_line"] = frame["source_line"][ok].astype("int64").to_numpy()
        return FileRead(rows=out[raw_columns(flow)], rejects=reject_frame(rejects),
                        stats={f"{flow}_rows": int(ok.sum())})


ADAPTER = EnedisCommuneAdapter()
