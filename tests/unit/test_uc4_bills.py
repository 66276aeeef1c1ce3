"""UC4 bill cleaning and allocation: each awkward bill handled with a clear reason."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_pipelines.transforms.buildings import allocation, anomalies, bills

METERS = pd.DataFrame([
    {"datetime_utc": pd.Timestamp("1970-01-01", tz="UTC"), "building_id": "LYC-1", "fluid": "gaz", "meter_id": "GI000001",
     "capacity": 100.0, "capacity_unit": "m3/h", "price_min_eur": 0.06, "price_max_eur": 0.08, "price_unit": "EUR/kWh",
     "fixed_eur_month": 50.0, "valid_from": date(2022, 1, 1), "valid_to": None},
    {"datetime_utc": pd.Timestamp("1970-01-01", tz="UTC"), "building_id": "LYC-1", "fluid": "electricite",
     "meter_id": "30000000000001", "capacity": 120.0, "capacity_unit": "kVA", "price_min_eur": 0.15,
     "price_max_eur": 0.18, "price_unit": "EUR/kWh", "fixed_eur_month": 100.0, "valid_from": date(2022, 1, 1),
     "valid_to": None},
])


def line(number, meter="30000000000001", start="2024-01-01", end="2024-01-31", qty=10_000.0, unit="kWh",
         fluid="electricite", doc="FACTURE", cancels=None, nature="R", i0=None, i1=None, coef=None, price=0.16,
         issued="2024-02-05", amount=None):
    days = (pd.Timestamp(end) - pd.Timestamp(start)).days + 1
    kwh = qty * (coef or 1.0) if unit == "m3" else qty
    ht = amount if amount is not None else round((50.0 if fluid == "gaz" else 100.0) * days / 30.4375 + price * kwh, 2)
    return {"datetime_utc": pd.Timestamp(issued, tz="Europe/Paris").tz_convert("UTC"), "invoice_number": number,
            "invoice_date": date.fromisoformat(issued), "supplier": "S", "document_type": doc, "cancelled_invoice": cancels,
            "meter_id": meter, "fluid": fluid, "fluid_label": fluid, "period_start": date.fromisoformat(start),
            "period_end": date.fromisoformat(end), "index_start": i0, "index_end": i1, "index_nature": nature,
            "quantity": qty, "unit": unit, "conversion_kwh_per_m3": coef, "amount_excl_vat_eur": ht,
            "vat_eur": round(ht * 0.2, 2), "amount_incl_vat_eur": round(ht * 1.2, 2), "source_file": "f.csv",
            "source_line": abs(hash(number)) % 10_000}


def clean(rows):
    return bills.clean_bills(pd.DataFrame(rows), METERS)


def test_meter_unknown_to_the_register_is_rejected_with_the_reason():
    lines, rejects = clean([line("A1"), line("A2", meter="39999999999999")])
    assert list(lines["invoice_number"]) == ["A1"]
    assert len(rejects) == 1 and "39999999999999 is unknown to the register" in rejects["reason"].iloc[0]


def test_gas_in_m3_without_coefficient_is_rejected_and_with_one_is_converted():
    rows = [line("G1", meter="GI000001", fluid="gaz", unit="m3", qty=1000.0, coef=None, price=0.07, amount=120.0),
            line("G2", meter="GI000001", fluid="gaz", unit="m3", qty=1000.0, coef=11.2, price=0.07,
                 start="2024-02-01", end="2024-02-29", issued="2024-03-05")]
    lines, rejects = clean(rows)
    assert "without conversion coefficient" in rejects["reason"].iloc[0]
    g2 = lines.set_index("invoice_number").loc["G2"]
    assert g2["quantity_kwh"] == pytest.approx(11_200.0) and g2["quantity_used"] == pytest.approx(11_200.0)
    assert g2["price_check"] == "ok"


def test_cancel_and_rebill_keeps_only_the_rebill():
    rows = [line("E1", nature="E", qty=12_000.0, i0=1000, i1=13_000),
            line("C1", doc="AVOIR", cancels="E1", qty=-12_000.0, nature="E", issued="2024-03-05", amount=-2_000.0),
            line("R1", start="2024-01-01", end="2024-02-29", qty=19_000.0, i0=1000, i1=20_000, issued="2024-03-05")]
    lines, _ = clean(rows)
    s = lines.set_index("invoice_number")["status"]
    assert s["E1"] == "cancelled" and s["C1"] == "cancellation" and s["R1"] == "active"
    counted = lines[lines["in_consumption"]]
    assert list(counted["invoice_number"]) == ["R1"]
    assert "replacing 1 cancelled estimate" in lines.set_index("invoice_number").loc["R1", "status_reason"]


def test_estimated_index_then_read_index_regularises_and_is_reported_when_far_off():
    rows = [line("E1", nature="E", qty=30_000.0, i0=0, i1=30_000),
            line("R1", start="2024-02-01", end="2024-02-29", qty=-8_000.0, i0=30_000, i1=22_000, issued="2024-03-05")]
    lines, _ = clean(rows)
    s = lines.set_index("invoice_number")
    assert s.loc["R1", "status"] == "regularisation" and s.loc["E1", "allocation_group"] == s.loc["R1", "allocation_group"]
    assert s.loc["R1", "in_consumption"]  # a negative regularisation corrects, it is not an error
    ctx = pd.DataFrame({"day": pd.date_range("2024-01-01", "2024-02-29").date, "tmean_c": 10.0, "school_day": True})
    days = allocation.allocate_to_days(lines, ctx)
    assert days["quantity"].sum() == pytest.approx(22_000.0)
    found = anomalies.estimate_corrections(lines, days)
    assert len(found) == 1 and "surestimé" in found[0]["evidence"]
    assert found[0]["quantity_at_stake"] == pytest.approx(30_000 - 22_000 * 31 / 60, rel=1e-6)


def test_pending_estimate_is_flagged_and_negative_correction_credit_note_counts():
    rows = [line("A1"), line("E9", start="2024-02-01", end="2024-02-29", nature="E", qty=9_000.0, i0=0, i1=9_000),
            line("K1", doc="AVOIR", qty=-500.0, issued="2024-02-20", amount=-80.0)]
    lines, _ = clean(rows)
    s = lines.set_index("invoice_number")
    assert s.loc["E9", "status"] == "estimated" and s.loc["E9", "in_consumption"]
    assert s.loc["K1", "status"] == "correction" and s.loc["K1", "in_consumption"]
    ctx = pd.DataFrame({"day": pd.date_range("2024-01-01", "2024-02-29").date, "tmean_c": 10.0, "school_day": True})
    monthly = allocation.monthly_by_meter(lines, ctx)
    jan = monthly[monthly["month"] == "2024-01"].iloc[0]
    assert jan["quantity"] == pytest.approx(9_500.0) and jan["coverage"] == 1.0
    assert monthly[monthly["month"] == "2024-02"].iloc[0]["estimated_days"] == 29


def test_negative_invoice_without_estimate_and_quantity_against_indexes_are_impossible():
    rows = [line("A1", qty=10_000.0, i0=0, i1=10_000),
            line("A2", start="2024-02-01", end="2024-02-29", qty=90_000.0, i0=10_000, i1=19_000, issued="2024-03-05"),
            line("A3", start="2024-03-01", end="2024-03-31", qty=-9_000.0, i0=28_000, i1=19_000, issued="2024-04-05")]
    lines, _ = clean(rows)
    s = lines.set_index("invoice_number")
    assert s.loc["A2", "status"] == "impossible" and s.loc["A2", "quantity_source"] == "index"
    assert s.loc["A2", "quantity_used"] == pytest.approx(9_000.0) and s.loc["A2", "in_consumption"]
    assert s.loc["A3", "status"] == "impossible" and not s.loc["A3", "in_consumption"]
    assert "index running backwards" in s.loc["A3", "status_reason"]
    found = {a["kind"] for a in anomalies.billing_errors(lines)}
    assert found == {"impossible_quantity"}


def test_more_than_the_subscribed_power_can_deliver_is_impossible():
    lines, _ = clean([line("A1", qty=120 * 24 * 31 * 1.5)])  # 120 kVA for 31 days, 1.5 times over
    assert lines["status"].iloc[0] == "impossible" and "capacity" in lines["status_reason"].iloc[0]


def test_duplicate_invoice_and_price_out_of_contract_are_billing_errors():
    rows = [line("A1"), line("A1bis", issued="2024-02-20"),
            line("A2", start="2024-02-01", end="2024-02-29", price=0.25, issued="2024-03-05")]
    lines, _ = clean(rows)
    s = lines.set_index("invoice_number")
    assert s.loc["A1bis", "status"] == "duplicate" and "invoice A1" in s.loc["A1bis", "status_reason"]
    assert s.loc["A2", "price_check"] == "above_contract" and s.loc["A2", "energy_price_eur"] == pytest.approx(0.25, abs=1e-3)
    kinds = sorted(a["kind"] for a in anomalies.billing_errors(lines))
    assert kinds == ["duplicate_bill", "price_out_of_range"]
    price = next(a for a in anomalies.billing_errors(lines) if a["kind"] == "price_out_of_range")
    assert price["eur_at_stake"] == pytest.approx((0.25 - 0.18) * 10_000 * 1.2, rel=0.01)


def test_overlapping_periods_are_counted_and_make_the_month_unusable():
    rows = [line("A1", start="2024-01-01", end="2024-01-31"),
            line("A2", start="2024-01-20", end="2024-02-18", qty=9_000.0, issued="2024-02-25")]
    lines, _ = clean(rows)
    ctx = pd.DataFrame({"day": pd.date_range("2024-01-01", "2024-02-29").date, "tmean_c": 10.0, "school_day": True})
    monthly = allocation.monthly_by_meter(lines, ctx)
    jan = monthly[monthly["month"] == "2024-01"].iloc[0]
    assert jan["overlap_days"] == 12
    by_building = allocation.monthly_by_building(monthly, METERS[METERS["fluid"] == "electricite"])
    assert by_building[by_building["month"] == "2024-01"]["overlap_days"].iloc[0] == 12


def test_a_missing_bill_is_found_between_two_invoices():
    rows = [line("A1"), line("A3", start="2024-03-01", end="2024-03-31", issued="2024-04-05")]
    lines, _ = clean(rows)
    ctx = pd.DataFrame({"day": pd.date_range("2024-01-01", "2024-03-31").date, "tmean_c": 10.0, "school_day": True})
    days = allocation.allocate_to_days(lines, ctx)
    found = anomalies.missing_bills(lines, days, METERS, date(2024, 3, 31), {"30000000000001": 0.2})
    assert len(found) == 1
    assert (found[0]["period_start"], found[0]["period_end"]) == (date(2024, 2, 1), date(2024, 2, 29))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 70), st.floats(0, 1e5)), min_size=1, max_size=8),
       st.floats(-5, 25), st.booleans())
def test_allocation_keeps_every_kwh(periods, temp, school):
    """Whatever the periods and profile, the months receive exactly what the bills say."""
    rows, start = [], pd.Timestamp("2024-01-01")
    for k, (days, qty) in enumerate(periods):
        end = start + pd.Timedelta(days=days - 1)
        rows.append(line(f"P{k}", start=f"{start:%Y-%m-%d}", end=f"{end:%Y-%m-%d}", qty=round(qty, 1),
                         issued=f"{end + pd.Timedelta(days=3):%Y-%m-%d}"))
        start = end + pd.Timedelta(days=1)
    lines, _ = clean(rows)
    lines = lines[lines["status"] != "impossible"]
    span = pd.date_range("2024-01-01", start)
    ctx = pd.DataFrame({"day": span.date, "tmean_c": temp + 8 * np.sin(np.arange(len(span)) / 30),
                        "school_day": school})
    monthly = allocation.monthly_by_meter(lines, ctx)
    assert monthly["quantity"].sum() == pytest.approx(lines["quantity_used"].sum(), rel=1e-9, abs=1e-6)
    assert (monthly["coverage"] <= 1).all()
