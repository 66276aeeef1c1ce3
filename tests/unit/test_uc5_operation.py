"""UC5 core on the simulated Forcalquier operation: register, keys, curves, allocation, invariants, reconciliation."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_pipelines.simulate import simulate
from energy_pipelines.catalog import default_catalog
from energy_pipelines.clock import Window, paris_day_bounds
from energy_pipelines.simulate import acc as sim
from energy_pipelines.sources import acc_curves, acc_enedis_allocation, acc_keys, acc_register
from energy_pipelines.sources.landing import LandingZone
from energy_pipelines.storage.schema import REJECTS_SCHEMA, conform
from energy_pipelines.transforms.acc import curves as cv
from energy_pipelines.transforms.acc import invariants as inv
from energy_pipelines.transforms.acc import operation as op
from energy_pipelines.transforms.acc import register as rg
from energy_pipelines.transforms.acc.params import OperationParams

PARAMS = OperationParams()
HOUSEHOLD = {h.id: h for h in sim.households()}


def day_window(first: str, last: str | None = None) -> Window:
    return Window(paris_day_bounds(first)[0], paris_day_bounds(last or first)[1])


class Sample:
    """The simulator written to a landing zone and read back by the real readers."""

    def __init__(self, root):
        self.root = root
        self.register = self._read("acc_register", acc_register.ADAPTER, Window.all_time())
        self.raw_keys = self._read("acc_keys", acc_keys.ADAPTER, Window.all_time())
        self.participants = rg.participants(self.register).data
        self.keys = rg.allocation_keys(self.raw_keys, self.participants).data

    def _read(self, source, adapter, window: Window):
        landing = LandingZone(self.root, source)
        simulate(source, landing, window.start, window.end)
        read = landing.read_window(adapter, window.start, window.end)
        return read.rows if source not in ("acc_curves", "acc_enedis_allocation") else read

    def day(self, first: str, last: str | None = None):
        w = day_window(first, last)
        raw = self._read("acc_curves", acc_curves.ADAPTER, w)
        curves = cv.participant_curves(raw.rows, self.participants, PARAMS, w)
        allocation = op.allocate_operation(curves.data, self.participants, self.keys, PARAMS, w)
        enedis = self._read("acc_enedis_allocation", acc_enedis_allocation.ADAPTER, w).rows
        return raw, curves, allocation, inv.reconcile(allocation.data, enedis, PARAMS)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return Sample(tmp_path_factory.mktemp("acc"))


@pytest.mark.parametrize("day, steps, key", [("2025-03-30", 46, "K1"), ("2025-10-26", 50, "K3")])
def test_both_dst_days_are_allocated_step_by_step_to_the_wh(sample, day, steps, key):
    raw, curves, allocation, reconciliation = sample.day(day)
    frame = allocation.data
    assert frame["datetime_utc"].nunique() == steps
    assert allocation.figures["steps_refused"] == 0
    members = len(sim.active_households(pd.Timestamp(day).date())) + len(sim.producers())
    assert frame.groupby("datetime_utc").size().eq(members).all()
    assert inv.invariant_violations(frame).empty
    assert set(frame["key_id"]) == {key}
    # the local labels people read: the autumn day shows 02:00 and 02:30 twice, once per offset
    if steps == 50:
        assert frame["datetime_local"].str[11:16].value_counts()[["02:00", "02:30"]].div(members).tolist() == [2, 2]
    # Enedis computed the same, within its own rounding
    assert reconciliation.figures["differences"] == 0 and reconciliation.figures["compared"] > 0


def test_the_key_change_and_the_newcomer_take_effect_on_their_day(sample):
    _, _, allocation, _ = sample.day("2025-04-14", "2025-04-15")
    frame = allocation.data
    local_day = frame["datetime_local"].str[:10]
    assert set(frame.loc[local_day == "2025-04-14", "key_id"]) == {"K1"}
    assert set(frame.loc[local_day == "2025-04-15", "key_id"]) == {"K2"}
    newcomer = frame[frame["participant_id"] == sim.NEWCOMER]
    assert set(newcomer["datetime_local"].str[:10]) == {"2025-04-15"}
    assert newcomer["autocons_wh"].sum() > 0
    # K2 redistributes: on sunny steps nothing is surplus while some consumer still has room
    k2 = frame[local_day == "2025-04-15"]
    by_step = k2.groupby("datetime_utc")[["cons_wh", "autocons_wh", "prod_wh", "surplus_wh"]].sum()
    room = by_step["cons_wh"] > by_step["autocons_wh"]
    assert (by_step.loc[room, "surplus_wh"] == 0).all()
    assert inv.invariant_violations(frame).empty


def test_reconciliation_finds_the_day_enedis_applied_the_old_key(sample):
    _, _, _, reconciliation = sample.day("2025-04-14", "2025-04-15")
    ecarts = reconciliation.data[reconciliation.data["status"] == "ecart"]
    assert set(ecarts["datetime_local"].str[:10]) == {str(sim.LATE_KEY_DAY)}
    assert sim.NEWCOMER in set(ecarts["participant_id"])  # Enedis gave it nothing under the old key
    newcomer = ecarts[(ecarts["participant_id"] == sim.NEWCOMER) & (ecarts["quantity"] == "AUTOCONS")]
    assert (newcomer["enedis_wh"] == 0).all() and (newcomer["platform_wh"] > 0).all()
    assert reconciliation.figures["max_abs_difference_wh"] > PARAMS.reconciliation_tolerance_wh


def test_a_curve_with_a_gap_refuses_those_steps_with_the_participant_named(sample):
    gap_day = "2025-03-12"
    assert sim.anomaly_days(pd.Timestamp(gap_day).date()) == {"gap": "H03"}
    _, curves, allocation, reconciliation = sample.day(gap_day)
    prm = HOUSEHOLD["H03"].prm
    assert curves.figures["missing_steps_by_prm"][prm]["steps"] == 6
    assert allocation.figures["steps_refused"] == 6 and allocation.figures["steps_allocated"] == 42
    assert allocation.rejects["reason"].str.contains(f"{prm} \\(H03\\)").all()
    assert inv.invariant_violations(allocation.data).empty
    # Enedis allocated those steps: the reconciliation says the platform has nothing there
    missing = reconciliation.data[reconciliation.data["status"] == "absent_de_la_plateforme"]
    assert missing["datetime_utc"].nunique() == 6


def test_a_negative_reading_is_quarantined_at_the_reader_and_its_step_refused(sample):
    day = "2025-03-28"
    assert sim.anomaly_days(pd.Timestamp(day).date()) == {"negative": "H11"}
    raw, _, allocation, _ = sample.day(day)
    assert raw.rejects["reason"].str.contains("negative reading").sum() == 1
    assert allocation.figures["steps_refused"] == 1
    assert "H11" in allocation.rejects["reason"].iloc[0]


def test_a_participant_without_any_curve_stops_the_allocation_of_every_step_with_the_reason(sample):
    w = day_window("2025-06-10")
    raw = sample._read("acc_curves", acc_curves.ADAPTER, w)
    prm = HOUSEHOLD["H05"].prm
    curves = cv.participant_curves(raw.rows[raw.rows["prm"] != prm], sample.participants, PARAMS, w)
    allocation = op.allocate_operation(curves.data, sample.participants, sample.keys, PARAMS, w)
    assert allocation.data.empty
    assert len(allocation.rejects) == 48
    assert allocation.rejects["reason"].str.contains(f"{prm} \\(H05\\)").all()


def test_a_key_not_summing_to_100_percent_is_refused_whole_and_its_steps_are_not_allocated(sample):
    bad = sample.raw_keys.copy()
    k2 = bad.index[bad["id_cle"] == "K2"]
    bad.loc[k2[0], "coefficient_pct"] += 1.5
    keys = rg.allocation_keys(bad, sample.participants)
    assert "K2" in keys.figures["refused"] and "101.5" in keys.figures["refused"]["K2"]
    assert len(keys.rejects) == len(k2)  # every row of the key kept in the quarantine
    head = keys.data[keys.data["key_id"] == "K2"]
    assert head["status"].tolist() == ["refusee"]
    w = day_window("2025-04-15")
    raw = sample._read("acc_curves", acc_curves.ADAPTER, w)
    curves = cv.participant_curves(raw.rows, sample.participants, PARAMS, w)
    allocation = op.allocate_operation(curves.data, sample.participants, keys.data, PARAMS, w)
    assert allocation.data.empty and len(allocation.rejects) == 48
    assert allocation.rejects["reason"].str.contains("key K2 declared for this step was refused").all()


def test_without_any_declared_key_enedis_default_dynamic_key_applies(sample):
    _, curves, _, _ = sample.day("2025-06-10")
    allocation = op.allocate_operation(curves.data, sample.participants, sample.keys.iloc[:0], PARAMS,
                                       day_window("2025-06-10"))
    assert set(allocation.data["key_id"]) == {op.DEFAULT_KEY_ID}
    by_step = allocation.data.groupby("datetime_utc")[["cons_wh", "prod_wh", "autocons_wh"]].sum()
    assert (by_step["autocons_wh"] == by_step[["cons_wh", "prod_wh"]].min(axis=1)).all()


def test_curves_outside_the_register_or_membership_are_quarantined_with_the_reason(sample):
    w = day_window("2025-04-14")
    raw = sample._read("acc_curves", acc_curves.ADAPTER, w).rows
    extra = raw.iloc[[0, 1, 2]].copy()
    extra["prm"] = ["11111111111111", sample.participants.loc[sample.participants["role"] == "producteur", "prm"].iloc[0],
                    HOUSEHOLD[sim.NEWCOMER].prm]
    extra["grandeur_metier"] = ["CONS", "CONS", "CONS"]
    again = raw.iloc[[3]].copy()
    again["source_file"] = "zz_correction.csv"
    again["energy_wh"] += 10
    result = cv.participant_curves(pd.concat([raw, extra, again], ignore_index=True), sample.participants, PARAMS, w)
    reasons = result.rejects["reason"].tolist()
    assert len(result.data) + len(result.rejects) == len(raw) + 4
    assert "PRM not in the operation register" in reasons
    assert "quantity CONS on a producteur PRM" in reasons
    assert any(r.startswith("reading before the participant entered") for r in reasons)
    assert "superseded by a later delivery of the same PRM, quantity and step" in reasons
    kept = result.data[(result.data["prm"] == again["prm"].iloc[0]) & (result.data["datetime_utc"] ==
                                                                       again["datetime_utc"].iloc[0])]
    assert kept["energy_wh"].tolist() == [int(again["energy_wh"].iloc[0])]


def test_the_invariant_check_names_every_broken_identity(sample):
    _, _, allocation, _ = sample.day("2025-06-21")
    good = allocation.data
    assert inv.invariant_violations(good).empty
    sunny = good.groupby("datetime_utc")["autocons_wh"].transform("sum") > 0
    c = good.index[(good["role"] == "consommateur") & sunny & (good["autocons_wh"] > 0)][0]
    p = good.index[(good["role"] == "producteur") & sunny][0]
    cases = {
        "cons_identity": (c, "complement_wh", 1),
        "prod_identity": (p, "surplus_wh", 1),
        "autocons_bounds": (c, "autocons_wh", 10**6),
        "balance": (c, "autocons_wh", -1),
    }
    for rule, (row, column, delta) in cases.items():
        broken = good.copy()
        broken.loc[row, column] = broken.loc[row, column] + delta
        found = inv.invariant_violations(broken)
        assert rule in set(found["rule"]), rule
    fractional = good.astype({"cons_wh": "float64"})
    fractional.loc[c, "cons_wh"] += 0.5
    assert "whole_wh" in set(inv.invariant_violations(fractional)["rule"])


def test_a_15_minute_operation_allocates_quarter_hours(sample):
    t = pd.date_range("2025-06-21T10:00Z", periods=4, freq="15min")
    units = sample.participants[sample.participants["participant_id"].isin(["H01", "H02", "P01"])]
    rows = []
    for i, s in enumerate(t):
        for prm, flow, v in ((units["prm"].iloc[0], "CONS", 300 + i), (units["prm"].iloc[1], "CONS", 200),
                             (units["prm"].iloc[2], "PROD", 450 + 7 * i)):
            rows.append({"datetime_utc": s, "prm": prm, "flow": flow, "energy_wh": v})
    curves = pd.DataFrame(rows)
    params = OperationParams(step_minutes=15)
    result = op.allocate_operation(curves, units, sample.keys.iloc[:0], params, Window(t[0], t[-1] + pd.Timedelta("15min")))
    assert result.data["datetime_utc"].nunique() == 4 and set(result.data["step_minutes"]) == {15}
    assert inv.invariant_violations(result.data).empty
    assert result.data.groupby("datetime_utc")["autocons_wh"].sum().tolist() == [450, 457, 464, 471]


def test_core_outputs_fit_their_catalogue_schemas(sample):
    _, curves, allocation, reconciliation = sample.day("2025-04-15")
    catalog = default_catalog()
    keys = rg.allocation_keys(sample.raw_keys, sample.participants)
    for name, result in (("core_acc__participants", rg.participants(sample.register)),
                         ("core_acc__allocation_keys", keys), ("core_acc__participant_curves", curves),
                         ("core_acc__allocation", allocation), ("core_acc__enedis_reconciliation", reconciliation)):
        spec = catalog[name]
        table = conform(result.data, spec.table_schema.to_arrow(), name, spec.table_schema.primary_key)
        assert table.num_rows == len(result.data)
        if result.rejects is not None and len(result.rejects):
            conform(result.rejects, REJECTS_SCHEMA, f"{name}_rejects")
