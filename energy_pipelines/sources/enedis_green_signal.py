"""Enedis' green signal for the SyMEnergie05 stations (file drops by Enedis, `;`-separated UTF-8).

- Half-hourly `enedis_signal_vert_05_<YYYYMMDDTHHMM>Z.csv`: per station (`id_station_itinerance`,
  its delivery point `num_pdl`) and half-hour (`horodate`, Paris time with offset, start of the
  half-hour), the renewable production and the consumption of the grid node (`code_poste_source`)
  that feeds it, in Wh over the half-hour, and their ratio `ratio_vert`.
- History `enedis_signal_vert_historique_05_<YYYY>.csv`: the seasonal median ratio per station,
  season (hiver/printemps/ete/automne), day type (ouvre/week-end) and local half-hour.

Rows are refused, with the reason, when the time is not a half-hour start, a value is missing or
negative, the consumption is zero (the ratio is undefined) or the delivered ratio disagrees with
production / consumption by more than 1 %.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_pipelines.clock import paris_start
from energy_pipelines.sources.base import FileRead, SourceAdapter, reject_frame
from energy_pipelines.sources.delimited import (
    IRVE_ID,
    UTC_TS,
    all_true,
    arrow_read,
    first_reason,
    floats,
    irve_ids,
    null_if_empty,
    to_frame,
    paris_midnight_utc,
    read_delimited,
    reject_rows,
    slot_of_file,
    slot_span,
    to_number,
    to_utc,
)

SIGNAL_FIELDS = ["horodate", "id_station_itinerance", "num_pdl", "code_poste_source", "production_enr_wh",
                 "consommation_wh", "ratio_vert"]
SIGNAL_COLUMNS = ["datetime_utc", "id_station_itinerance", "num_pdl", "code_poste_source", "production_enr_wh",
                  "consommation_wh", "ratio_vert", "source_line"]
HISTORY_FIELDS = ["id_station_itinerance", "code_poste_source", "saison", "type_jour", "heure_locale",
                  "ratio_vert_median", "nb_valeurs", "periode_debut", "periode_fin"]
HISTORY_COLUMNS = ["datetime_utc", "id_station_itinerance", "code_poste_source", "season", "day_type",
                   "slot_local", "ratio_median", "n_values", "period_start", "period_end", "source_line"]
SEASONS = ("hiver", "printemps", "ete", "automne")
DAY_TYPES = ("ouvre", "week-end")
_YEAR = re.compile(r"_(\d{4})\.csv$")


class GreenSignalAdapter(SourceAdapter):
    def span_from_name(self, path: Path):
        return slot_span(path)

    def _fast(self, path: Path) -> FileRead | None:
        read = arrow_read(path, SIGNAL_FIELDS)
        if read is None:
            return None
        t, n = read
        when = pc.strptime(t["horodate"], format="%Y-%m-%dT%H:%M:%S%z", unit="us", error_is_null=True)
        prod, cons, ratio = (floats(t[c]) for c in ("production_enr_wh", "consommation_wh", "ratio_vert"))
        if when.null_count or prod is None or cons is None or ratio is None or prod.null_count or cons.null_count:
            return None
        when = when.cast(UTC_TS)
        own = slot_of_file(path)
        computed = pc.divide(prod, cons)
        gap = pc.abs(pc.subtract(ratio, computed))
        tolerance = pc.multiply(pc.max_element_wise(pc.abs(computed), 0.01), 0.01)
        if not (irve_ids(t["id_station_itinerance"]) and all_true(pc.greater(cons, 0))
                and all_true(pc.greater_equal(prod, 0)) and ratio.null_count == 0
                and all_true(pc.less_equal(gap, tolerance))
                and all_true(pc.equal(when, pc.floor_temporal(when, multiple=30, unit="minute")))
                and (own is None or all_true(pc.equal(when, pa.scalar(own, UTC_TS))))):
            return None
        rows = to_frame({"datetime_utc": when, "id_station_itinerance": t["id_station_itinerance"],
                         "num_pdl": null_if_empty(t["num_pdl"]), "code_poste_source": t["code_poste_source"],
                         "production_enr_wh": prod, "consommation_wh": cons, "ratio_vert": ratio}, n, SIGNAL_COLUMNS)
        return FileRead(rows=rows)

    def read_file(self, path: Path) -> FileRead:
        fast = self._fast(path)
        if fast is not None:
            return fast
        frame, rejects = read_delimited(path, required=SIGNAL_FIELDS)
        t = to_utc(frame["horodate"])
        prod, cons, ratio = (to_number(frame[c]) for c in ("production_enr_wh", "consommation_wh", "ratio_vert"))
        own = slot_of_file(path)
        computed = prod / cons.where(cons > 0)
        reason = first_reason([
            (t.isna(), "unparseable horodate (expected ISO 8601 with offset): " + frame["horodate"].astype(str)),
            (t.notna() & (t != t.dt.floor("30min")), "horodate is not the start of a half-hour"),
            (~frame["id_station_itinerance"].str.match(IRVE_ID), "id_station_itinerance does not match the IRVE pattern"),
            (prod.isna() | cons.isna(), "production_enr_wh or consommation_wh missing or not a number"),
            ((prod < 0) | (cons < 0), "negative energy"),
            (cons == 0, "consumption is zero: the ratio is undefined"),
            (ratio.notna() & ((ratio - computed).abs() > 0.01 * computed.abs().clip(lower=0.01)),
             "ratio_vert disagrees with production_enr_wh / consommation_wh"),
            (pd.Series(own is not None, index=frame.index) & t.notna() & (t != (pd.Timestamp(own) if own else t)),
             "row reports on another half-hour than its file"),
        ], frame.index)
        bad = reason != ""
        rejects += reject_rows(frame, bad, reason, SIGNAL_FIELDS, when=pd.Timestamp(own) if own else t.dt.floor("30min"))
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": t[ok], "id_station_itinerance": frame.loc[ok, "id_station_itinerance"],
            "num_pdl": frame.loc[ok, "num_pdl"].where(frame.loc[ok, "num_pdl"] != "", None),
            "code_poste_source": frame.loc[ok, "code_poste_source"],
            "production_enr_wh": prod[ok].astype(float), "consommation_wh": cons[ok].astype(float),
            "ratio_vert": ratio[ok].where(ratio[ok].notna(), computed[ok]).astype(float),
            "source_line": frame.loc[ok, "source_line"],
        }, columns=SIGNAL_COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects))


class GreenSignalHistoryAdapter(SourceAdapter):
    def span_from_name(self, path: Path):
        if m := _YEAR.search(path.name):
            year = int(m.group(1))
            return paris_start(date(year, 1, 1)), paris_start(date(year + 1, 1, 1))
        return None

    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_delimited(path, required=HISTORY_FIELDS)
        start = paris_midnight_utc(frame["periode_debut"])
        median, n = to_number(frame["ratio_vert_median"]), to_number(frame["nb_valeurs"])
        slot_ok = frame["heure_locale"].str.fullmatch(r"([01]\d|2[0-3]):(00|30)")
        reason = first_reason([
            (start.isna(), "unparseable periode_debut (YYYY-MM-DD)"),
            (~frame["id_station_itinerance"].str.match(IRVE_ID), "id_station_itinerance does not match the IRVE pattern"),
            (~frame["saison"].isin(SEASONS), "unknown saison: " + frame["saison"].astype(str)),
            (~frame["type_jour"].isin(DAY_TYPES), "unknown type_jour: " + frame["type_jour"].astype(str)),
            (~slot_ok.fillna(False).astype(bool), "heure_locale is not a half-hour HH:MM"),
            (median.isna() | (median < 0), "ratio_vert_median missing or negative"),
        ], frame.index)
        bad = reason != ""
        rejects += reject_rows(frame, bad, reason, HISTORY_FIELDS, when=start)
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": start[ok], "id_station_itinerance": frame.loc[ok, "id_station_itinerance"],
            "code_poste_source": frame.loc[ok, "code_poste_source"], "season": frame.loc[ok, "saison"],
            "day_type": frame.loc[ok, "type_jour"], "slot_local": frame.loc[ok, "heure_locale"],
            "ratio_median": median[ok].astype(float), "n_values": n[ok].astype("Int64"),
            "period_start": frame.loc[ok, "periode_debut"], "period_end": frame.loc[ok, "periode_fin"],
            "source_line": frame.loc[ok, "source_line"],
        }, columns=HISTORY_COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects))


ADAPTER = GreenSignalAdapter()
HISTORY = GreenSignalHistoryAdapter()

