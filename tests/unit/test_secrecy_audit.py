"""The LP audit: intervals computed by hand and by a plain LP per cell, relations from hierarchies (DST days)."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from energy_pipelines.clock import paris_day_bounds
from energy_pipelines.secrecy import MappingHierarchy, TableSystem, TimeHierarchy, audit, load_rules, protect

ROWS = {"r1": "all", "r2": "all"}
COLS = {"a": "total", "b": "total"}


def _two_way(x11, x12, x21, x22, masked=("r1a", "r1b", "r2a", "r2b"), primary=("r1a",)):
    """A 2 x 2 table with its margins: rows r1, r2 (+ all), columns a, b (+ total)."""
    inner = {("r1", "a"): x11, ("r1", "b"): x12, ("r2", "a"): x21, ("r2", "b"): x22}
    rows = []
    for r in ("r1", "r2", "all"):
        for c in ("a", "b", "total"):
            v = sum(val for (rr, cc), val in inner.items() if r in (rr, "all") and c in (cc, "total"))
            name = f"{r}{c}"
            rows.append({"geo": r, "sector": c, "value": float(v), "masked": name in masked,
                         "protection_pct": 10.0 if name in primary else 0.0,
                         "mask_kind": "primary" if name in primary else ("secondary" if name in masked else None)})
    cells = pd.DataFrame(rows)
    return TableSystem(cells, ("geo", "sector"), (MappingHierarchy("rows", "geo", ROWS),
                                                 MappingHierarchy("cols", "sector", COLS)))


def _interval(report, geo, sector):
    row = report.cells[(report.cells["geo"] == geo) & (report.cells["sector"] == sector)].iloc[0]
    return row["lower"], row["upper"], bool(row["exposed"])


def test_two_way_table_intervals_equal_the_hand_computed_ones():
    # x11 = t, x12 = 30 - t, x21 = 40 - t, x22 = 30 + t with every entry >= 0: t in [0, 30]
    report = audit(_two_way(10, 20, 30, 40))
    assert _interval(report, "r1", "a") == pytest.approx((0, 30, False))
    assert _interval(report, "r1", "b")[:2] == pytest.approx((0, 30))
    assert _interval(report, "r2", "a")[:2] == pytest.approx((10, 40))
    assert _interval(report, "r2", "b")[:2] == pytest.approx((30, 60))
    assert report.passed and report.summary["components"] == 1


@pytest.mark.parametrize("unit", [1.0, 1e6, 1e8])
def test_the_same_table_in_kwh_of_a_region_gives_the_same_intervals_scaled(unit):
    """HiGHS's tolerances are absolute and it drops entries below 1e-9: a region's kWh (~1e9) once made a
    consistent table 'infeasible' (UC4's property test found it). The LP runs in its own unit."""
    report = audit(_two_way(10 * unit, 20 * unit, 30 * unit, 40 * unit))
    assert _interval(report, "r1", "a") == pytest.approx((0, 30 * unit, False))
    assert _interval(report, "r2", "b")[:2] == pytest.approx((30 * unit, 60 * unit))
    assert report.passed
    # and a too-small partner is still found short at that scale
    short = audit(_two_way(10 * unit, 0.5 * unit, 30 * unit, 40 * unit))
    assert not short.passed and _interval(short, "r1", "a")[1] == pytest.approx(10.5 * unit)


def test_a_small_partner_leaves_the_upper_protection_short():
    # x12 = 0.5: t <= 10.5, but x11 = 10 needs its interval to reach 11 (10 % protection)
    report = audit(_two_way(10, 0.5, 30, 40))
    lower, upper, exposed = _interval(report, "r1", "a")
    assert (lower, upper) == pytest.approx((0, 10.5)) and exposed
    row = report.exposed.iloc[0]
    assert row["exposure"] == "upper bound 10.5 < 11 required" and row["attacker"] == "outside"
    assert (row["required_lower"], row["required_upper"]) == pytest.approx((9, 11))
    # the other masked cells are secondary: reported, never exposed themselves
    assert len(report.exposed) == 1
    meta = report.as_metadata()
    json.dumps(meta)
    assert meta["passed"] is False and meta["exposed_sample"][0]["interval"] == pytest.approx([0, 10.5])


def test_a_single_masked_cell_of_a_relation_is_recovered_exactly():
    report = audit(_two_way(10, 20, 30, 40, masked=("r1a",)))
    lower, upper, exposed = _interval(report, "r1", "a")
    assert lower == pytest.approx(10) and upper == pytest.approx(10) and exposed
    assert report.exposed["exposure"].iat[0] == "recovered exactly (10)"


def test_without_the_true_value_only_an_exact_recovery_counts():
    system = _two_way(10, 0.5, 30, 40)
    system.cells.loc[system.cells["masked"], "value"] = np.nan  # the published file alone
    assert audit(system).passed  # 10.5 is short of 11, but nobody here knows it is 10
    system = _two_way(10, 20, 30, 40, masked=("r1a",))
    system.cells.loc[system.cells["masked"], "value"] = np.nan
    assert not audit(system).passed


def _direct_intervals(system):
    """Brute force: one dense LP per masked cell and direction over the whole system, no tricks."""
    cells = system.cells
    masked = cells["masked"].to_numpy()
    R = system.relations.matrix.toarray()
    A = R[:, masked]
    b = -R[:, ~masked] @ cells.loc[~masked, "value"].to_numpy()
    out = {}
    for j, cell in enumerate(np.flatnonzero(masked)):
        c = np.zeros(A.shape[1])
        c[j] = 1
        lo = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
        out[cell] = (lo.fun, np.inf if hi.status == 3 else -hi.fun)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_batched_components_and_recession_agree_with_one_lp_per_cell(seed):
    """Random 3-level geography x sectors with random masks: components, batches and the
    unboundedness LP give exactly the intervals of a plain LP per cell and direction."""
    rng = np.random.default_rng(seed)
    geo = {"d1": "reg", "d2": "reg"}
    for d in ("d1", "d2"):
        for i in range(int(rng.integers(2, 4))):
            geo[f"{d}c{i}"] = d
    sectors = {"res": "total", "ind": "total", "agr": "total"}
    leaves = [g for g in geo if "c" in g]
    rows = []
    base = {(g, s): float(rng.integers(0, 50)) for g in leaves for s in sectors}
    for g in [*geo, "reg"]:
        for s in [*sectors, "total"]:
            members = [leaf for leaf in leaves if g in (leaf, geo[leaf], "reg")]
            value = sum(base[(m, ss)] for m in members for ss in sectors if s in (ss, "total"))
            rows.append({"geo": g, "sector": s, "value": value})
    cells = pd.DataFrame(rows)
    # from a few masks (cells recovered exactly) to most (the region's total too: unbounded cells)
    cells["masked"] = rng.random(len(cells)) < 0.2 + 0.12 * seed
    cells["protection_pct"] = np.where(cells["masked"], 10.0, 0.0)
    system = TableSystem(cells, ("geo", "sector"), (MappingHierarchy("geo", "geo", geo),
                                                   MappingHierarchy("sectors", "sector", sectors)))
    report = audit(system, insiders=False)
    expected = _direct_intervals(system)
    got = report.cells.set_index("cell_id")
    assert len(expected) == len(got) == cells["masked"].sum()
    for cell, (lo, hi) in expected.items():
        assert got.loc[cell, "lower"] == pytest.approx(lo, abs=1e-6)
        if np.isinf(hi):
            assert np.isinf(got.loc[cell, "upper"])
        else:
            assert got.loc[cell, "upper"] == pytest.approx(hi, abs=1e-6)
    # certifying with feasible points first reaches the same verdict, with the exact interval of each exposed cell
    verdict = audit(system, insiders=False, intervals="verdict").cells.set_index("cell_id")
    assert verdict["exposed"].equals(got["exposed"])
    exposed = got.index[got["exposed"]]
    assert np.allclose(verdict.loc[exposed, "lower"], got.loc[exposed, "lower"])
    assert np.allclose(verdict.loc[exposed, "upper"], got.loc[exposed, "upper"])
    assert verdict.loc[verdict["certified"], "exposed"].eq(False).all()


def test_with_everything_masked_nothing_is_bounded_above():
    system = _two_way(10, 20, 30, 40, masked=("r1a", "r1b", "r1total", "r2a", "r2b", "r2total", "alla", "allb",
                                              "alltotal"))
    report = audit(system)
    assert np.isinf(report.cells["upper"]).all() and (report.cells["lower"] == 0).all() and report.passed


def test_an_insider_who_knows_a_one_contributor_cell_is_an_attacker_too():
    rules = load_rules()
    t0 = pd.Timestamp("2025-06-01 10:00", tz="UTC")
    cells = pd.DataFrame({
        "territory_id": "t", "category": ["hydro", "wind", "solar", "total"],
        "value": [50.0, 60.0, 100.0, 210.0], "n_contributors": [1, 1, 200, 202],
        "largest_contributor": [50.0, 60.0, 2.0, 60.0], "fluid": "electricity", "flow": "production",
        "sector": ["hydro", "wind", "solar", "total"], "resolution": "halfhour", "period_start_utc": t0})
    hierarchy = (MappingHierarchy("categories", "category", {"hydro": "total", "wind": "total", "solar": "total"}),)
    dims = ("territory_id", "resolution", "period_start_utc", "category")
    primary_only = TableSystem(cells.copy(), dims, hierarchy)
    report = protect(primary_only, rules, secondary=False, intervals="exact")
    # outside, hydro + wind = 110 hides both; the wind farm's owner subtracts its own 60
    assert set(report.exposed["attacker"]) == {
        "insider: territory_id=t, resolution=halfhour, period_start_utc=2025-06-01T10:00Z, category=wind",
        "insider: territory_id=t, resolution=halfhour, period_start_utc=2025-06-01T10:00Z, category=hydro"}
    assert report.cells.set_index("category").loc["hydro", ["lower", "upper"]].tolist() == pytest.approx([0, 110])
    protected = TableSystem(cells.copy(), dims, hierarchy)
    assert protect(protected, rules).passed
    assert protected.cells.set_index("category").loc["solar", "mask_reason"].startswith("secondary: protects")


def _time_cells(day: str, with_hours: bool):
    start, end = paris_day_bounds(day)
    halves = pd.date_range(start, end, freq="30min", inclusive="left")
    rows = [("halfhour", t, 1.0) for t in halves]
    if with_hours:
        rows += [("hour", t, 2.0) for t in pd.date_range(start, end, freq="h", inclusive="left")]
    rows.append(("day", pd.Timestamp(start), float(len(halves))))
    return pd.DataFrame(rows, columns=["resolution", "period_start_utc", "value"]).assign(series="s")


@pytest.mark.parametrize("day, halves, hours", [("2025-03-30", 46, 23), ("2025-10-26", 50, 25), ("2025-06-02", 48, 24)])
def test_time_relations_follow_the_paris_calendar(day, halves, hours):
    system = TableSystem(_time_cells(day, with_hours=False), ("series", "resolution", "period_start_utc"),
                         (TimeHierarchy(),))
    # no hour cells: each half-hour sums straight into its Paris day
    assert len(system.relations) == 1 and system.relations.matrix.nnz == halves + 1
    system = TableSystem(_time_cells(day, with_hours=True), ("series", "resolution", "period_start_utc"),
                         (TimeHierarchy(),))
    assert len(system.relations) == hours + 1
    sizes = sorted(np.diff(system.relations.matrix.indptr) - 1)
    assert sizes == [2] * hours + [hours]
    residual = system.relations.matrix @ system.cells["value"].to_numpy()
    assert np.allclose(residual, 0)
