"""Enedis open data, half-hourly regional aggregates: conso-inf36-region, conso-sup36-region, prod-region.

Formats read (the dataset is recognised from its fields, not from the file name):
- Opendatasoft CSV exports (';', API field names, `horodate` ISO 8601 with its UTC offset);
- Opendatasoft JSON exports (a list of records; `horodate` in UTC with `timezone=UTC`).
Values are kept as received (text): the core layer types them and interprets the secrecy
marks. Enedis masks a segment's curve when it has too few sites: `indice_representativite_*`
is then `S` and the curve is only published as the mean of its day (step 1440 min) [V: Ampère
module comments, reference/data-formats.md §2]. `< 1` is a real (tiny) representativity.

Live mode: the Explore API v2.1 export of [start, end) for the configured region, one JSON
file per fetch (`sources.http.fetch_ods_export`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energy_pipelines.clock import UTC
from energy_pipelines.sources.base import FetchContext, FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import decode
from energy_pipelines.sources.timeparse import parse_instants


CURVE_FIELDS = ["courbe_moyenne_ndeg1_wh", "indice_representativite_courbe_ndeg1",
                "courbe_moyenne_ndeg2_wh", "indice_representativite_courbe_ndeg2",
                "courbe_moyenne_ndeg1_ndeg2_wh", "indice_representativite_courbe_ndeg1_ndeg2",
                "jour_max_du_mois_0_1", "semaine_max_du_mois_0_1"]
FIELDS = {
    "conso-inf36-region": ["horodate", "region", "code_region", "profil", "plage_de_puissance_souscrite",
                           "nb_points_soutirage", "total_energie_soutiree_wh", *CURVE_FIELDS],
    "conso-sup36-region": ["horodate", "region", "code_region", "profil", "plage_de_puissance_souscrite",
                           "secteur_activite", "nb_points_soutirage", "total_energie_soutiree_wh", *CURVE_FIELDS],
    "prod-region": ["horodate", "region", "code_region", "plage_de_puissance_injection", "filiere_de_production",
                    "nb_points_injection", "total_energie_injectee_wh", *CURVE_FIELDS],
}
# landing folder (source id) -> Enedis dataset id
SOURCE_DATASETS = {"enedis_conso_inf36_region": "conso-inf36-region",
                   "enedis_conso_sup36_region": "conso-sup36-region",
                   "enedis_prod_region": "prod-region"}
# optional fields: older exports lack the curve halves and the max-day flags
REQUIRED = {name: [f for f in fields if f not in CURVE_FIELDS or f.endswith("ndeg1_ndeg2") or
                   f.endswith("ndeg1_ndeg2_wh")] for name, fields in FIELDS.items()}
RAW_TAIL = ["source_line", "source_format"]
_UTC_SPAN = re.compile(r"_(\d{8}T\d{4}Z)_(\d{8}T\d{4}Z)\.")
_PARIS_DAY = re.compile(r"_(\d{4}-\d{2}-\d{2})\.(?:csv|json)$")


def dataset_of(names: list[str] | set[str]) -> str | None:
    names = set(names)
    if "filiere_de_production" in names:
        return "prod-region"
    if "secteur_activite" in names:
        return "conso-sup36-region"
    if "profil" in names:
        return "conso-inf36-region"
    return None


def check_delivery(path: Path, kind: str, folder_kinds: dict[str, str], names, required) -> None:
    """A file of `kind` must sit in its own landing folder and hold the `required` fields."""
    folder = next((folder_kinds[p] for p in path.parts if p in folder_kinds), kind)
    if folder != kind:
        raise SourceFileError(path, f"a {kind} file in the landing folder of {folder}")
    missing = [f for f in required if f not in names]
    if missing:
        raise SourceFileError(path, f"missing field(s) {missing} in the {kind} file")


def raw_columns(dataset: str) -> list[str]:
    return ["datetime_utc", *FIELDS[dataset], *RAW_TAIL]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


class EnedisOpenAdapter(SourceAdapter):
    suffixes = (".csv", ".json")

    def span_from_name(self, path: Path):
        if m := _UTC_SPAN.search(path.name):
            return tuple(datetime.strptime(g, "%Y%m%dT%H%MZ").replace(tzinfo=UTC) for g in m.groups())
        if m := _PARIS_DAY.search(path.name):
            from energy_pipelines.partitions import paris_day_bounds

            return paris_day_bounds(m.group(1))
        return None

    def read_file(self, path: Path) -> FileRead:
        text = decode(path)  # UTF-8 (BOM or not), UTF-16 by its BOM, latin-1; empty or binary refused
        if text.lstrip()[:1] in ("[", "{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SourceFileError(path, f"invalid JSON (truncated?): {exc.msg} at line {exc.lineno}") from None
            records = data if isinstance(data, list) else data.get("results", [data])
            numbered = list(enumerate(records, start=1))
            return self._records(path, numbered, "ods_json")
        reader = csv.reader(io.StringIO(text), delimiter=";")
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise SourceFileError(path, "empty file") from None
        if len(header) < 2:
            raise SourceFileError(path, "header has no ';' separator: Opendatasoft CSV exports are ';'-separated")
        numbered, rejects = [], []
        for lineno, fields in enumerate(reader, start=2):
            if not fields or not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                rejects.append({"datetime_utc": None, "source_line": lineno,
                                "reason": f"row has {len(fields)} fields, header has {len(header)}",
                                "record": ";".join(fields)})
                continue
            numbered.append((lineno, dict(zip(header, fields, strict=True))))
        return self._records(path, numbered, "ods_csv", rejects, header=header)

    def _records(self, path: Path, numbered: list[tuple[int, Any]], fmt: str,
                 rejects: list[dict] | None = None, header: list[str] | None = None) -> FileRead:
        rejects = list(rejects or [])
        good = []
        for n, r in numbered:
            if isinstance(r, dict):
                good.append((n, r))
            else:
                rejects.append({"datetime_utc": None, "source_line": n, "reason": "record is not an object",
                                "record": r})
        names = header if header is not None else (list(good[0][1]) if good else [])
        dataset = dataset_of(names)
        if dataset is None:
            raise SourceFileError(path, f"unrecognised fields {names[:6]}...: expected an Enedis conso-inf36-region, "
                                        "conso-sup36-region or prod-region export")
        check_delivery(path, dataset, SOURCE_DATASETS, names, REQUIRED[dataset])
        frame = pd.DataFrame({f: [_text(r.get(f)) for _, r in good] for f in FIELDS[dataset]})
        lines = np.array([n for n, _ in good], dtype="int64")
        parsed = parse_instants(frame["horodate"], "horodate")
        stamp = parsed.utc
        bad = parsed.refused.to_numpy()
        for i in np.flatnonzero(bad):
            rejects.append({"datetime_utc": None, "source_line": int(lines[i]),
                            "reason": parsed.reason.iat[i], "record": good[i][1]})
        frame = frame[~bad].reset_index(drop=True)
        frame.insert(0, "datetime_utc", stamp[~bad].reset_index(drop=True))
        frame["source_line"] = lines[~bad]
        frame["source_format"] = fmt
        return FileRead(rows=frame, rejects=reject_frame(rejects), stats={f"rows_{dataset}": len(frame)})

    # -- writers --------------------------------------------------------------------------

    def fetch(self, landing, start, end, ctx: FetchContext):
        from energy_pipelines.sources.http import fetch_ods_export

        dataset = ctx.live.get("dataset") or SOURCE_DATASETS[landing.source_id]
        region = str(ctx.live.get("region_code", "93"))
        lo, hi = start.astimezone(UTC), end.astimezone(UTC)
        # a single export per run; long ranges are cut in chunks of `chunk_days` to keep responses small
        chunk = timedelta(days=float(ctx.live.get("chunk_days", 31)))
        written, t = [], lo
        while t < hi:
            u = min(t + chunk, hi)
            where = (f"code_region='{region}' and horodate >= '{t:%Y-%m-%dT%H:%M:%S}Z' "
                     f"and horodate < '{u:%Y-%m-%dT%H:%M:%S}Z'")
            records = fetch_ods_export(ctx.live, dataset, where, ctx.log, order_by="horodate")
            if records:
                name = f"ods_{dataset}_{region}_{t:%Y%m%dT%H%MZ}_{u:%Y%m%dT%H%MZ}.json"
                written.append(landing.write_atomic(name, json.dumps(records, ensure_ascii=False)))
            elif records is not None:
                ctx.log.info("Enedis %s: no rows yet for [%s, %s)", dataset, t, u)
            t = u
        return written


ADAPTER = EnedisOpenAdapter()
