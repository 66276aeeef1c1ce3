"""Clean bill lines: every received line with a status, a reason, and the quantity consumption may use.

What a line becomes (`status`, and whether it counts in consumption, `in_consumption`):
- `active`: an invoice line, counted;
- `regularisation`: the first read bill after estimated ones (its quantity, possibly negative,
  corrects them), counted; the estimated lines and it form one `allocation_group` whose total is
  re-spread over the group's whole span once the read index is known (`allocation.py`);
- `estimated`: an estimated line whose read index has not arrived yet, counted, flagged;
- `correction`: a credit note (AVOIR) that cancels nothing named, a negative quantity on its
  period, counted;
- `cancelled` / `cancellation`: an invoice and the credit note that cancels it (the first half of
  a cancel-and-rebill; the rebill is an ordinary line), not counted;
- `orphan_cancellation`: a credit note cancelling an invoice never received, not counted;
- `duplicate`: a second invoice for the same meter, period, quantity and amount, not counted
  (the first one is);
- `impossible`: a quantity that cannot be (negative without estimates to correct, an index running
  backwards, more than the meter's capacity could deliver, or a quantity disagreeing with its own
  indexes — then the index difference is what consumption uses, `quantity_source = index`).
Lines that cannot be used at all go to rejects with their reason: a meter unknown to the register,
a fluid that disagrees with the register, a gas bill in m³ without its conversion coefficient,
water billed in energy units, the same line delivered twice.
The implied energy price is checked against the contract range of the register (`price_check`).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from energy_pipelines.transforms.buildings.params import BillParams
from energy_pipelines.transforms.common import REJECT_COLUMNS

DAYS_PER_MONTH = 30.4375
ENERGY_FLUIDS = ("electricite", "gaz", "reseau_chaleur", "fioul", "bois")
LINE_COLUMNS = [
    "datetime_utc", "invoice_number", "invoice_date", "supplier", "document_type", "cancelled_invoice", "building_id",
    "meter_id", "fluid", "period_start", "period_end", "days", "index_start", "index_end", "index_nature",
    "quantity", "unit", "conversion_kwh_per_m3", "quantity_kwh", "quantity_m3", "used_unit", "quantity_used",
    "quantity_source", "amount_excl_vat_eur", "amount_incl_vat_eur", "energy_price_eur", "price_min_eur",
    "price_max_eur", "price_check", "status", "status_reason", "in_consumption", "allocation_group",
    "estimated_in_group", "source_file", "source_line",
]


def _rejects(rows: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    record_cols = [c for c in rows.columns if c not in ("source_file", "source_line")]
    return pd.DataFrame({
        "partition_start_utc": pd.to_datetime(rows["datetime_utc"], utc=True).to_numpy(),
        "source_file": rows["source_file"].to_numpy() if "source_file" in rows else None,
        "source_line": rows["source_line"].to_numpy() if "source_line" in rows else None,
        "reason": reasons.to_numpy(),
        "record": [json.dumps(r, ensure_ascii=False, default=str) for r in rows[record_cols].to_dict("records")],
    })


def current_meters(meters: pd.DataFrame) -> pd.DataFrame:
    """One row per meter: the latest register export's (a later export supersedes)."""
    order = [c for c in ("datetime_utc", "source_file", "source_line") if c in meters]
    return meters.sort_values(order).drop_duplicates("meter_id", keep="last").reset_index(drop=True)


def _capacity_kwh_per_day(row) -> float:
    """The most a meter can deliver in a day, in the bill's energy (kWh) or m³ for water."""
    cap, unit = row["capacity"], row["capacity_unit"]
    if pd.isna(cap) or pd.isna(unit):
        return np.inf
    if unit in ("kVA", "kW"):
        return float(cap) * 24.0
    if unit == "m3/h":
        factor = row["conversion_kwh_per_m3"] if row["fluid"] == "gaz" else 1.0
        return float(cap) * 24.0 * (factor if pd.notna(factor) else 12.0)
    return np.inf


def clean_bills(bills: pd.DataFrame, meters: pd.DataFrame, params: BillParams = BillParams()
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bill lines with status and usable quantity, rejects). See the module docstring."""
    bills = bills.copy()
    rejected = []
    if bills.empty:
        return pd.DataFrame(columns=LINE_COLUMNS), pd.DataFrame(columns=REJECT_COLUMNS)
    for c in ("period_start", "period_end", "invoice_date"):
        bills[c] = pd.to_datetime(bills[c]).dt.date
    for c in ("index_start", "index_end", "quantity", "conversion_kwh_per_m3", "amount_excl_vat_eur", "vat_eur",
              "amount_incl_vat_eur"):
        bills[c] = pd.to_numeric(bills[c], errors="coerce").astype("float64")
    order = [c for c in ("datetime_utc", "source_file", "source_line") if c in bills]
    bills = bills.sort_values(order).reset_index(drop=True)
    # 1. the same line delivered twice (a re-sent file): the first delivery is the line
    key = ["invoice_number", "meter_id", "document_type", "period_start", "period_end", "quantity", "amount_incl_vat_eur"]
    again = bills.duplicated(key, keep="first")
    if again.any():
        first_file = bills.drop_duplicates(key).set_index(key)["source_file"] if "source_file" in bills else None
        reasons = bills[again].apply(
            lambda r: f"line delivered again: invoice {r['invoice_number']} already read"
                      + (f" from {first_file.loc[tuple(r[k] for k in key)]}" if first_file is not None else ""), axis=1)
        rejected.append(_rejects(bills[again], reasons))
        bills = bills[~again].reset_index(drop=True)
    # 2. the register knows the meter, and the fluid
    reg = current_meters(meters)[["meter_id", "building_id", "fluid", "capacity", "capacity_unit", "price_min_eur",
                                  "price_max_eur", "price_unit", "fixed_eur_month"]].rename(columns={"fluid": "register_fluid"})
    bills = bills.merge(reg, on="meter_id", how="left")
    reason = pd.Series("", index=bills.index, dtype=object)
    reason[bills["building_id"].isna()] = ("meter " + bills["meter_id"] + " is unknown to the register "
                                           "(raw_patrimoine__meters): the bill cannot be given a building")
    mismatch = (reason == "") & (bills["register_fluid"] != bills["fluid"])
    reason[mismatch] = ("fluid " + bills["fluid"] + " differs from the register's " + bills["register_fluid"].astype(str)
                        + " for meter " + bills["meter_id"])
    # 3. units: kWh for energy, m³ for water
    energy = bills["fluid"].isin(ENERGY_FLUIDS)
    coef = bills["conversion_kwh_per_m3"]
    gas_m3 = (bills["unit"] == "m3") & energy
    reason[(reason == "") & gas_m3 & (coef.isna() | (coef <= 0))] = (
        "gas billed in m3 without conversion coefficient (kWh PCS per m3): its energy cannot be known")
    reason[(reason == "") & ~energy & (bills["unit"] != "m3")] = "water billed in " + bills["unit"] + ": expected m3"
    bad = reason != ""
    if bad.any():
        rejected.append(_rejects(bills[bad].drop(columns=["building_id", "register_fluid", "capacity", "capacity_unit",
                                                            "price_min_eur", "price_max_eur", "price_unit",
                                                            "fixed_eur_month"]), reason[bad]))
        bills = bills[~bad].reset_index(drop=True)
    energy = bills["fluid"].isin(ENERGY_FLUIDS)
    factor = np.where(bills["unit"] == "MWh", 1000.0, np.where(bills["unit"] == "m3", bills["conversion_kwh_per_m3"], 1.0))
    bills["quantity_kwh"] = np.where(energy, bills["quantity"] * factor, np.nan)
    bills["quantity_m3"] = np.where(~energy, bills["quantity"], np.nan)
    bills["used_unit"] = np.where(energy, "kWh", "m3")
    bills["days"] = (pd.to_datetime(bills["period_end"]) - pd.to_datetime(bills["period_start"])).dt.days + 1
    bills["quantity_used"] = np.where(energy, bills["quantity_kwh"], bills["quantity_m3"])
    bills["quantity_source"] = "bill"
    bills["status"] = np.where(bills["document_type"] == "AVOIR", "correction", "active")
    bills["status_reason"] = None
    bills = _cancellations(bills)
    bills = _index_and_capacity(bills, params)
    bills = _duplicates(bills)
    bills = _estimates(bills)
    bills = _prices(bills, params)
    bills["in_consumption"] = bills["status"].isin(["active", "regularisation", "estimated", "correction"]) | (
        (bills["status"] == "impossible") & (bills["quantity_source"] == "index"))
    out = bills.reindex(columns=LINE_COLUMNS)
    out = out.sort_values(["building_id", "meter_id", "period_start", "invoice_date", "invoice_number"]).reset_index(drop=True)
    rejects = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=REJECT_COLUMNS)
    return out, rejects


def _cancellations(bills: pd.DataFrame) -> pd.DataFrame:
    avoir = (bills["document_type"] == "AVOIR") & bills["cancelled_invoice"].notna()
    invoices = set(zip(bills.loc[bills["document_type"] == "FACTURE", "invoice_number"],
                       bills.loc[bills["document_type"] == "FACTURE", "meter_id"], strict=True))
    targets = set(zip(bills.loc[avoir, "cancelled_invoice"], bills.loc[avoir, "meter_id"], strict=True))
    cancelled = (bills["document_type"] == "FACTURE") & pd.Series(
        [(n, m) in targets for n, m in zip(bills["invoice_number"], bills["meter_id"], strict=True)], index=bills.index)
    bills.loc[cancelled, "status"] = "cancelled"
    bills.loc[cancelled, "status_reason"] = "cancelled by a credit note (cancel-and-rebill)"
    matched = avoir & pd.Series([(n, m) in invoices for n, m in zip(bills["cancelled_invoice"], bills["meter_id"],
                                                                     strict=True)], index=bills.index)
    bills.loc[matched, "status"] = "cancellation"
    bills.loc[matched, "status_reason"] = "credit note cancelling " + bills.loc[matched, "cancelled_invoice"]
    orphan = avoir & ~matched
    bills.loc[orphan, "status"] = "orphan_cancellation"
    bills.loc[orphan, "status_reason"] = ("credit note cancelling " + bills.loc[orphan, "cancelled_invoice"]
                                          + ", an invoice never received: nothing to take out of consumption")
    return bills


def _index_and_capacity(bills: pd.DataFrame, params: BillParams) -> pd.DataFrame:
    invoice = (bills["document_type"] == "FACTURE") & (bills["status"] == "active")
    has_index = bills["index_start"].notna() & bills["index_end"].notna()
    units = bills["index_end"] - bills["index_start"]
    to_billed = np.where((bills["fluid"] == "gaz") & (bills["unit"] == "kWh"), bills["conversion_kwh_per_m3"], 1.0)
    expected = units * to_billed
    to_billed = np.asarray(to_billed, dtype="float64")
    tol = np.maximum(params.index_tolerance_units * np.where(np.isnan(to_billed), 1, to_billed),
                     params.index_tolerance_share * expected.abs())
    # a quantity that disagrees with its own indexes: the meter's difference is what was used
    disagree = invoice & has_index & ((bills["quantity"] - expected).abs() > tol) & pd.notna(expected)
    bills.loc[disagree, "status"] = "impossible"
    bills.loc[disagree, "status_reason"] = ("quantity " + bills.loc[disagree, "quantity"].round(3).astype(str)
                                            + " differs from the index difference "
                                            + expected[disagree].round(3).astype(str))
    factor = np.where(bills["unit"] == "MWh", 1000.0, np.where(bills["unit"] == "m3", bills["conversion_kwh_per_m3"], 1.0))
    index_used = np.where(bills["fluid"].isin(ENERGY_FLUIDS), expected * factor, expected)
    bills.loc[disagree, "quantity_used"] = index_used[disagree]
    bills.loc[disagree, "quantity_source"] = "index"
    backwards = invoice & ~disagree & has_index & (units < 0) & (bills["index_nature"] != "E")
    # the rest of the negative quantities are judged once estimates are known (_estimates)
    bills["_negative"] = invoice & ~disagree & (bills["quantity"] < 0)
    bills["_backwards"] = backwards
    per_day = bills["quantity_used"] / bills["days"]
    capacity = bills.apply(_capacity_kwh_per_day, axis=1)
    over = invoice & ~disagree & (per_day > capacity)
    bills.loc[over, "status"] = "impossible"
    bills.loc[over, "status_reason"] = ("more than the meter's capacity could deliver: " + per_day[over].round(0).astype(str)
                                        + " per day > " + capacity[over].round(0).astype(str))
    bills.loc[over, "quantity_used"] = np.nan
    return bills


def _duplicates(bills: pd.DataFrame) -> pd.DataFrame:
    # a cancelled invoice still has its twin: cancelling the original leaves the copy to pay
    live = bills["document_type"].eq("FACTURE") & bills["status"].isin(["active", "impossible", "cancelled"])
    key = ["meter_id", "period_start", "period_end", "quantity", "amount_incl_vat_eur"]
    sub = bills[live].sort_values(["invoice_date", "invoice_number"])
    dup = sub.duplicated(key, keep="first") & sub["status"].ne("cancelled")
    first = sub.drop_duplicates(key).set_index(key)["invoice_number"]
    for i in sub.index[dup]:
        original = first.loc[tuple(bills.loc[i, k] for k in key)]
        original = original if isinstance(original, str) else original.iloc[0]
        bills.loc[i, "status"] = "duplicate"
        bills.loc[i, "status_reason"] = f"same meter, period, quantity and amount as invoice {original}"
    return bills


def _estimates(bills: pd.DataFrame) -> pd.DataFrame:
    """Groups estimated lines with the read line that corrects them; judges negative quantities."""
    bills["allocation_group"] = None
    bills["estimated_in_group"] = 0
    counted = bills["status"].isin(["active", "correction", "impossible"]) & ~(
        (bills["status"] == "impossible") & bills["quantity_used"].isna())
    ordered = bills[counted].sort_values(["period_start", "invoice_date", "invoice_number"])
    for meter, sub in ordered.groupby("meter_id", sort=False):
        run: list[int] = []
        for i in sub.index:
            nature = bills.at[i, "index_nature"]
            doc = bills.at[i, "document_type"]
            group = f"{meter}:{bills.at[i, 'period_start']}"
            if doc == "FACTURE" and nature == "E" and bills.at[i, "status"] == "active":
                run.append(i)
                continue
            if run and doc == "FACTURE":
                group = f"{meter}:{bills.at[run[0], 'period_start']}"
                for j in run:
                    bills.at[j, "allocation_group"] = group
                    bills.at[j, "estimated_in_group"] = len(run)
                if bills.at[i, "status"] == "active":
                    bills.at[i, "status"] = "regularisation"
                    bills.at[i, "status_reason"] = f"read index after {len(run)} estimated bill(s): corrects them"
                bills.at[i, "estimated_in_group"] = len(run)
                run = []
            elif bills.at[i, "_negative"] and bills.at[i, "status"] == "active":
                bills.at[i, "status"] = "impossible"
                bills.at[i, "status_reason"] = ("negative quantity on an invoice that follows no estimate"
                                                + (" (index running backwards)" if bills.at[i, "_backwards"] else ""))
                bills.at[i, "quantity_used"] = np.nan
            bills.at[i, "allocation_group"] = group
        for j in run:  # estimates whose read index has not come yet
            bills.at[j, "status"] = "estimated"
            bills.at[j, "status_reason"] = "estimated index, not yet corrected by a read"
            bills.at[j, "allocation_group"] = f"{meter}:{bills.at[j, 'period_start']}"
    # rebills: a read invoice whose period covers cancelled estimated lines
    cancelled_e = bills[(bills["status"] == "cancelled") & (bills["index_nature"] == "E")]
    for meter, group in cancelled_e.groupby("meter_id"):
        rebills = bills[(bills["meter_id"] == meter) & bills["status"].isin(["active", "regularisation"])]
        for i, r in rebills.iterrows():
            inside = group[(group["period_start"] >= r["period_start"]) & (group["period_end"] <= r["period_end"])]
            if len(inside):
                bills.at[i, "estimated_in_group"] = len(inside)
                bills.at[i, "status_reason"] = f"rebill with a read index replacing {len(inside)} cancelled estimate(s)"
    return bills.drop(columns=["_negative", "_backwards"])


def _prices(bills: pd.DataFrame, params: BillParams) -> pd.DataFrame:
    """Implied energy price = (amount excl. VAT - fixed part of the period) / priced quantity."""
    per = np.where(bills["price_unit"] == "EUR/MWh", bills["quantity_kwh"] / 1000.0,
                   np.where(bills["price_unit"] == "EUR/m3", bills["quantity_m3"], bills["quantity_kwh"]))
    fixed = bills["fixed_eur_month"].fillna(0) * bills["days"] / DAYS_PER_MONTH
    price = (bills["amount_excl_vat_eur"] - fixed) / per
    checkable = (bills["document_type"] == "FACTURE") & bills["status"].isin(["active", "regularisation", "estimated"]) \
        & (np.abs(per) >= params.price_check_min_units) & bills["price_min_eur"].notna() & bills["price_max_eur"].notna()
    bills["energy_price_eur"] = np.where(checkable, price, np.nan)
    tol = params.price_tolerance_share
    above = checkable & (price > bills["price_max_eur"] * (1 + tol))
    below = checkable & (price < bills["price_min_eur"] * (1 - tol))
    bills["price_check"] = np.select([above, below, checkable], ["above_contract", "below_contract", "ok"],
                                     default="not_checked")
    return bills
