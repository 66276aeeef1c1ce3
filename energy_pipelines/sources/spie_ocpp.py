"""SPIE's deliveries for the SyMEnergie05 network: the historical transaction export and the
half-hourly OCPP 1.6 transaction and event logs (file drops by the operator, `;`-separated UTF-8).

- Transaction log `spie_symenergie05_transactions_<YYYYMMDDTHHMM>Z.csv`: StartTransaction /
  StopTransaction / MeterValues with `timestamp` (UTC, ISO 8601), `charge_point_id` (the IRVE
  `id_pdc_itinerance`), `connector_id`, `transaction_id`, `id_tag` (RFID badge: personal data),
  `meter_value` and `unit` (OCPP sampledValue.value / .unit: meterStart / meterStop are integers
  in Wh; a MeterValues row carries whatever the charger samples), `measurand` (empty = OCPP's
  default Energy.Active.Import.Register), `context`, `reason` (stop reason). Files of the first
  format, with a `meter_wh` column and no unit, are read as Wh.
  Every row is kept in raw, whatever its measurand; `meter_wh` is the energy register normalised
  to Wh (Wh or kWh received) and is null for other measurands (Power.Active.Import in W, SoC in %,
  Current.Import ...), so nothing downstream can sum a power or a percentage as energy.
  `datetime_utc` is the half-hour the row reports on: the half-hour of its timestamp, except that a
  clock-aligned reading (context Sample.Clock) stamped on a :00/:30 boundary closes the half-hour
  before it (OCPP ClockAlignedData). A file holds the rows of its own half-hour only. Chargers
  report at any cadence (OCPP 1.6 ClockAlignedDataInterval defaults to 0: no clock-aligned
  readings at all; MeterValueSampleInterval may be seconds, or start/stop only).
- Event log `spie_symenergie05_events_<YYYYMMDDTHHMM>Z.csv`: StatusNotification rows (`status`,
  `error_code`, `info`, `vendor_error_code`).
- Historical export `spie_symenergie05_historique_transactions_<YYYY-MM>.csv`: one row per
  transaction (`id_transaction; id_pdc_itinerance; connecteur; badge; debut; fin; index_debut_wh;
  index_fin_wh; energie_wh; motif_arret`), local times with their offset; the month is the UTC
  month of the session end, and `datetime_utc` the half-hour in which the session ended.

Both are delivered by SPIE (`delivery: file_drop`): live mode fetches nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_pipelines.sources.base import FileRead, SourceAdapter, SourceFileError, reject_frame
from energy_pipelines.sources.delimited import (
    IRVE_ID,
    UTC_TS,
    all_true,
    arrow_read,
    first_reason,
    floats,
    ints,
    irve_ids,
    null_if_empty,
    to_frame,
    read_delimited,
    reject_rows,
    slot_of_file,
    slot_span,
    to_number,
    to_utc,
)

UTC = timezone.utc
MESSAGES = ("StartTransaction", "StopTransaction", "MeterValues")
STATUSES = ("Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV", "Finishing", "Reserved",
            "Unavailable", "Faulted")
ERROR_CODES = ("NoError", "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
               "InternalError", "LocalListConflict", "OtherError", "OverCurrentFailure", "OverVoltage",
               "PowerMeterFailure", "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage",
               "WeakSignal")
TX_FIELDS = ["timestamp", "charge_point_id", "connector_id", "message", "transaction_id", "id_tag",
             "id_tag_status", "meter_value", "unit", "measurand", "context", "reason"]
# the first delivery format: the value column was named meter_wh and there was no unit (Wh)
LEGACY_TX_FIELDS = ["timestamp", "charge_point_id", "connector_id", "message", "transaction_id", "id_tag",
                    "id_tag_status", "meter_wh", "measurand", "context", "reason"]
REGISTER = "Energy.Active.Import.Register"
# OCPP 1.6 Measurand values (section 7.31); anything else is a typo we refuse rather than ignore
MEASURANDS = ("Energy.Active.Export.Register", REGISTER, "Energy.Reactive.Export.Register",
              "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
              "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval", "Power.Active.Export",
              "Power.Active.Import", "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import",
              "Power.Factor", "Current.Import", "Current.Export", "Current.Offered", "Voltage", "Frequency",
              "Temperature", "SoC", "RPM")
# Wh per unit of the energy register (OCPP UnitOfMeasure; empty = the default Wh)
ENERGY_UNITS = {"Wh": 1.0, "kWh": 1000.0}
EVENT_FIELDS = ["timestamp", "charge_point_id", "connector_id", "status", "error_code", "info", "vendor_error_code"]
HISTORY_FIELDS = ["id_transaction", "id_pdc_itinerance", "connecteur", "badge", "debut", "fin",
                  "index_debut_wh", "index_fin_wh", "energie_wh", "motif_arret"]
TX_COLUMNS = ["datetime_utc", "timestamp_utc", "message", "id_pdc_itinerance", "connector_id", "transaction_id",
              "id_tag", "id_tag_status", "meter_value", "unit", "measurand", "meter_wh", "context", "stop_reason",
              "source_line"]
EVENT_COLUMNS = ["datetime_utc", "timestamp_utc", "id_pdc_itinerance", "connector_id", "status", "error_code",
                 "info", "vendor_error_code", "source_line"]
HISTORY_COLUMNS = ["datetime_utc", "transaction_id", "id_pdc_itinerance", "connector_id", "id_tag", "start_utc",
                   "end_utc", "meter_start_wh", "meter_stop_wh", "energy_wh", "stop_reason", "source_line"]
_MONTH = re.compile(r"_(\d{4}-\d{2})\.csv$")
HALF_HOUR = pd.Timedelta(minutes=30)


def _empty(text: pd.Series) -> pd.Series:
    return text.isna() | (text.astype(str) == "")


def _none_if_empty(text: pd.Series) -> pd.Series:
    return text.where(~_empty(text), None)


def _integer(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(values as Int64, bad mask): bad = present but not a whole number."""
    number = to_number(text)
    bad = ~_empty(text) & (number.isna() | (number % 1 != 0))
    return number.where(~bad).astype("Int64"), bad


class _SlotDrop(SourceAdapter):
    """A half-hourly drop: the half-hour is in the file name, rows of other half-hours are refused."""

    def span_from_name(self, path: Path):
        return slot_span(path)

    @staticmethod
    def _outside_own_slot(path: Path, slot: pd.Series) -> tuple[pd.Series, datetime | None]:
        own = slot_of_file(path)
        if own is None:
            return pd.Series(False, index=slot.index), None
        return slot.notna() & (slot != pd.Timestamp(own)), own


def _own_slot_ok(path: Path, slot) -> bool:
    own = slot_of_file(path)
    return own is None or all_true(pc.equal(slot, pa.scalar(own, UTC_TS)))


def _utc(column, fmt: str = "%Y-%m-%dT%H:%M:%SZ"):
    ts = pc.strptime(column, format=fmt, unit="us", error_is_null=True)
    return None if ts.null_count else ts.cast(UTC_TS)


class TransactionLogAdapter(_SlotDrop):
    def _fast(self, path: Path) -> FileRead | None:
        read = arrow_read(path, TX_FIELDS)
        if read is None:
            read = arrow_read(path, LEGACY_TX_FIELDS)
            if read is None:
                return None
            t, n = read
            t = t.rename_columns(["meter_value" if c == "meter_wh" else c for c in t.column_names])
            t = t.append_column("unit", pa.array([""] * t.num_rows, pa.string()))
        else:
            t, n = read
        ts = _utc(t["timestamp"])
        numbers = [ints(t[c]) for c in ("connector_id", "transaction_id")]
        value = floats(t["meter_value"])
        if ts is None or value is None or value.null_count or any(x is None or x.null_count for x in numbers) \
                or not irve_ids(t["charge_point_id"]):
            return None
        connector, tx = numbers
        msg, unit, measurand = t["message"], t["unit"], t["measurand"]
        is_meter_values = pc.equal(msg, "MeterValues")
        register = pc.and_(is_meter_values, pc.or_(pc.equal(measurand, ""), pc.equal(measurand, REGISTER)))
        start_stop = pc.invert(is_meter_values)
        if not (all_true(pc.is_in(msg, value_set=pa.array(MESSAGES))) and all_true(pc.greater_equal(connector, 1))
                and all_true(pc.or_(pc.equal(measurand, ""), pc.is_in(measurand, value_set=pa.array(MEASURANDS))))
                # meterStart / meterStop: integers in Wh
                and all_true(pc.or_(pc.invert(start_stop), pc.and_(
                    pc.and_(pc.greater_equal(value, 0), pc.equal(pc.floor(value), value)),
                    pc.is_in(unit, value_set=pa.array(["", "Wh"])))))
                and all_true(pc.or_(pc.invert(register), pc.and_(
                    pc.greater_equal(value, 0), pc.is_in(unit, value_set=pa.array(["", *ENERGY_UNITS])))))
                and not pc.any(pc.and_(pc.equal(msg, "StartTransaction"), pc.equal(t["id_tag"], ""))).as_py()):
            return None
        factor = pc.if_else(pc.equal(unit, "kWh"), ENERGY_UNITS["kWh"], 1.0)
        meter_wh = pc.if_else(pc.or_(start_stop, register), pc.multiply(value, factor), pa.scalar(None, pa.float64()))
        floor = pc.floor_temporal(ts, multiple=30, unit="minute")
        closing = pc.and_(pc.and_(pc.equal(ts, floor), pc.equal(t["context"], "Sample.Clock")), is_meter_values)
        slot = pc.if_else(closing, pc.subtract(floor, pa.scalar(timedelta(minutes=30))), floor)
        if not _own_slot_ok(path, slot):
            return None
        rows = to_frame({"datetime_utc": slot, "timestamp_utc": ts, "message": msg,
                         "id_pdc_itinerance": t["charge_point_id"], "connector_id": connector, "transaction_id": tx,
                         "id_tag": null_if_empty(t["id_tag"]), "id_tag_status": null_if_empty(t["id_tag_status"]),
                         "meter_value": value, "unit": null_if_empty(unit), "measurand": null_if_empty(measurand),
                         "meter_wh": meter_wh, "context": null_if_empty(t["context"]),
                         "stop_reason": null_if_empty(t["reason"])},
                        n, TX_COLUMNS)
        return FileRead(rows=rows)

    def read_file(self, path: Path) -> FileRead:
        fast = self._fast(path)
        if fast is not None:
            return fast
        try:
            frame, rejects = read_delimited(path, required=TX_FIELDS)
            fields = TX_FIELDS
        except SourceFileError as current:
            try:
                frame, rejects = read_delimited(path, required=LEGACY_TX_FIELDS)
            except SourceFileError:
                raise current from None  # the error names the current format's columns
            fields = LEGACY_TX_FIELDS
            frame = frame.rename(columns={"meter_wh": "meter_value"})
            frame["unit"] = ""
        ts = to_utc(frame["timestamp"])
        transaction_id, bad_tx = _integer(frame["transaction_id"])
        value = to_number(frame["meter_value"])
        connector, bad_conn = _integer(frame["connector_id"])
        unit = frame["unit"].fillna("").astype(str)
        measurand = frame["measurand"].fillna("").astype(str)
        is_meter_values = frame["message"] == "MeterValues"
        register = is_meter_values & measurand.isin(["", REGISTER])
        start_stop = frame["message"].isin(["StartTransaction", "StopTransaction"])
        on_boundary = ts.notna() & (ts == ts.dt.floor("30min"))
        closing = on_boundary & (frame["context"] == "Sample.Clock") & is_meter_values
        slot = ts.dt.floor("30min") - closing.astype(int) * HALF_HOUR
        outside, own = self._outside_own_slot(path, slot)
        reason = first_reason([
            (ts.isna(), "unparseable timestamp: " + frame["timestamp"].astype(str)),
            (~frame["message"].isin(MESSAGES), "unknown OCPP message: " + frame["message"].astype(str)),
            (~frame["charge_point_id"].str.match(IRVE_ID), "charge_point_id is not an IRVE id_pdc_itinerance"),
            (bad_conn | connector.isna() | (connector < 1), "connector_id is not a positive integer"),
            (bad_tx | transaction_id.isna(), "transaction_id missing or not an integer"),
            (value.isna(), "meter value missing or not a number"),
            (start_stop & ((value < 0) | (value % 1 != 0) | ~unit.isin(["", "Wh"])),
             "meterStart / meterStop is not a non-negative integer in Wh (OCPP 1.6)"),
            (is_meter_values & ~measurand.isin(["", *MEASURANDS]), "unknown OCPP 1.6 measurand: " + measurand),
            (register & (value < 0), "negative energy register"),
            (register & ~unit.isin(["", *ENERGY_UNITS]), "energy register in " + unit + ": expected Wh or kWh"),
            ((frame["message"] == "StartTransaction") & _empty(frame["id_tag"]), "StartTransaction without idTag"),
            (outside, "row reports on another half-hour than its file"),
        ], frame.index)
        bad = reason != ""
        record_fields = ["meter_value" if c == "meter_wh" else c for c in fields]  # the line as received
        rejects += reject_rows(frame, bad, reason, record_fields,
                               when=slot.where(~outside, pd.Timestamp(own) if own else pd.NaT))
        ok = ~bad
        factor = unit.map(ENERGY_UNITS).fillna(1.0)
        meter_wh = (value * factor).where(start_stop | register)
        out = pd.DataFrame({
            "datetime_utc": slot[ok], "timestamp_utc": ts[ok], "message": frame.loc[ok, "message"],
            "id_pdc_itinerance": frame.loc[ok, "charge_point_id"], "connector_id": connector[ok],
            "transaction_id": transaction_id[ok], "id_tag": _none_if_empty(frame.loc[ok, "id_tag"]),
            "id_tag_status": _none_if_empty(frame.loc[ok, "id_tag_status"]),
            "meter_value": value[ok].astype("float64"), "unit": _none_if_empty(unit[ok]),
            "measurand": _none_if_empty(measurand[ok]), "meter_wh": meter_wh[ok].astype("float64"),
            "context": _none_if_empty(frame.loc[ok, "context"]),
            "stop_reason": _none_if_empty(frame.loc[ok, "reason"]), "source_line": frame.loc[ok, "source_line"],
        }, columns=TX_COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        out["timestamp_utc"] = pd.to_datetime(out["timestamp_utc"], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects))


class EventLogAdapter(_SlotDrop):
    def _fast(self, path: Path) -> FileRead | None:
        read = arrow_read(path, EVENT_FIELDS)
        if read is None:
            return None
        t, n = read
        ts = _utc(t["timestamp"])
        connector = ints(t["connector_id"])
        if ts is None or connector is None or connector.null_count or not irve_ids(t["charge_point_id"]):
            return None
        if not (all_true(pc.is_in(t["status"], value_set=pa.array(STATUSES)))
                and all_true(pc.is_in(t["error_code"], value_set=pa.array(ERROR_CODES)))
                and all_true(pc.greater_equal(connector, 0))):
            return None
        slot = pc.floor_temporal(ts, multiple=30, unit="minute")
        if not _own_slot_ok(path, slot):
            return None
        rows = to_frame({"datetime_utc": slot, "timestamp_utc": ts, "id_pdc_itinerance": t["charge_point_id"],
                         "connector_id": connector, "status": t["status"], "error_code": t["error_code"],
                         "info": null_if_empty(t["info"]), "vendor_error_code": null_if_empty(t["vendor_error_code"])},
                        n, EVENT_COLUMNS)
        return FileRead(rows=rows)

    def read_file(self, path: Path) -> FileRead:
        fast = self._fast(path)
        if fast is not None:
            return fast
        frame, rejects = read_delimited(path, required=EVENT_FIELDS)
        ts = to_utc(frame["timestamp"])
        connector, bad_conn = _integer(frame["connector_id"])
        slot = ts.dt.floor("30min")
        outside, own = self._outside_own_slot(path, slot)
        reason = first_reason([
            (ts.isna(), "unparseable timestamp: " + frame["timestamp"].astype(str)),
            (~frame["charge_point_id"].str.match(IRVE_ID), "charge_point_id is not an IRVE id_pdc_itinerance"),
            (bad_conn | connector.isna() | (connector < 0), "connector_id is not an integer >= 0"),
            (~frame["status"].isin(STATUSES), "unknown OCPP 1.6 status: " + frame["status"].astype(str)),
            (~frame["error_code"].isin(ERROR_CODES), "unknown OCPP 1.6 error code: " + frame["error_code"].astype(str)),
            (outside, "row reports on another half-hour than its file"),
        ], frame.index)
        bad = reason != ""
        rejects += reject_rows(frame, bad, reason, EVENT_FIELDS, when=slot.where(~outside, pd.Timestamp(own) if own else pd.NaT))
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": slot[ok], "timestamp_utc": ts[ok], "id_pdc_itinerance": frame.loc[ok, "charge_point_id"],
            "connector_id": connector[ok], "status": frame.loc[ok, "status"], "error_code": frame.loc[ok, "error_code"],
            "info": _none_if_empty(frame.loc[ok, "info"]),
            "vendor_error_code": _none_if_empty(frame.loc[ok, "vendor_error_code"]),
            "source_line": frame.loc[ok, "source_line"],
        }, columns=EVENT_COLUMNS)
        out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True)
        out["timestamp_utc"] = pd.to_datetime(out["timestamp_utc"], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects))


class TransactionHistoryAdapter(SourceAdapter):
    def span_from_name(self, path: Path):
        if m := _MONTH.search(path.name):
            start = datetime.strptime(m.group(1), "%Y-%m").replace(tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
            return start, end
        return None

    def read_file(self, path: Path) -> FileRead:
        frame, rejects = read_delimited(path, required=HISTORY_FIELDS)
        start, end = to_utc(frame["debut"]), to_utc(frame["fin"])
        tx, bad_tx = _integer(frame["id_transaction"])
        m0, bad0 = _integer(frame["index_debut_wh"])
        m1, bad1 = _integer(frame["index_fin_wh"])
        energy, bad_e = _integer(frame["energie_wh"])
        connector, bad_conn = _integer(frame["connecteur"])
        reason = first_reason([
            (bad_tx | tx.isna(), "id_transaction missing or not an integer"),
            (~frame["id_pdc_itinerance"].str.match(IRVE_ID), "id_pdc_itinerance does not match the IRVE pattern"),
            (start.isna(), "unparseable debut (expected ISO 8601 with offset): " + frame["debut"].astype(str)),
            (end.isna(), "unparseable fin (expected ISO 8601 with offset): " + frame["fin"].astype(str)),
            (bad0 | bad1 | m0.isna() | m1.isna(), "meter index missing or not an integer (Wh)"),
            (bad_e | bad_conn, "energie_wh or connecteur not an integer"),
        ], frame.index)
        bad = reason != ""
        rejects += reject_rows(frame, bad, reason, HISTORY_FIELDS, when=end.dt.floor("30min"))
        ok = ~bad
        out = pd.DataFrame({
            "datetime_utc": end[ok].dt.floor("30min"), "transaction_id": tx[ok],
            "id_pdc_itinerance": frame.loc[ok, "id_pdc_itinerance"], "connector_id": connector[ok],
            "id_tag": _none_if_empty(frame.loc[ok, "badge"]), "start_utc": start[ok], "end_utc": end[ok],
            "meter_start_wh": m0[ok], "meter_stop_wh": m1[ok], "energy_wh": energy[ok],
            "stop_reason": _none_if_empty(frame.loc[ok, "motif_arret"]), "source_line": frame.loc[ok, "source_line"],
        }, columns=HISTORY_COLUMNS)
        for col in ("datetime_utc", "start_utc", "end_utc"):
            out[col] = pd.to_datetime(out[col], utc=True)
        return FileRead(rows=out.reset_index(drop=True), rejects=reject_frame(rejects))


TRANSACTION_HISTORY = TransactionHistoryAdapter()
TRANSACTION_LOG = TransactionLogAdapter()
EVENT_LOG = EventLogAdapter()
