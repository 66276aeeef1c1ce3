"""Secrecy engine benchmark: sizes and times of suppression and the LP audit, UC3 month and UC1 year.

    .venv/bin/python benchmarks/secrecy_audit.py [--days 31] [--communes 950] [--skip-uc3] [--skip-uc1]

1. UC3, one month of the sample (5 territories, October 2025 with its 50-half-hour day): the
   simulator's extracts through the real reader to territorial energy (timed apart), then every
   product (half-hourly balance, hourly / daily / monthly / yearly rates), the system's cells (the
   audit's truth), and `audit_products` over all of them together;
   and a stress case: one territory whose production totals are masked at every half-hour (one
   large component chaining half-hours to the month through the time relations).
2. UC1, one synthetic year: ~950 communes x 5 sectors (+ total) x 2 fluids, commune -> EPCI ->
   département -> region, contributors drawn like ORE's delivery points (many small communes, a
   few dominant industrial sites): primary rules, secondary suppression, audit and repairs.
Prints figures only (DESIGN §10); no assertion.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from energy_pipelines.secrecy import MappingHierarchy, TableSystem, audit, audit_products, load_rules, protect  # noqa: E402
from energy_pipelines.secrecy import uc3 as s3  # noqa: E402
from energy_pipelines.simulate.enedis_communes import sample_territorial_energy  # noqa: E402


def _timed(label, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"  {label:<44} {time.perf_counter() - t0:8.2f} s")
    return out


def uc3_month(days: int) -> None:
    start = pd.Timestamp("2025-09-30 22:00", tz="UTC")
    end = start + pd.Timedelta(days=days, hours=1 if days >= 26 else 0)
    print(f"UC3: {days} Paris days from {start:%Y-%m-%d %H:%M} UTC, 5 territories")
    with tempfile.TemporaryDirectory() as tmp:
        energy = _timed("simulator + reader + territorial sums", sample_territorial_energy, start, end, tmp)
    print(f"  territorial energy rows: {len(energy):,}")
    settings = s3.default_settings()
    t0 = time.perf_counter()
    products = {"out_uc3__territorial_balance": _timed("published balance (half-hours)", s3.published_balance,
                                                       energy, settings)}
    for resolution, name in (("hour", "hourly"), ("day", "daily"), ("month", "monthly"), ("year", "yearly")):
        products[f"out_uc3__rates_{name}"] = _timed(f"published rates ({resolution})", s3.published_rates, energy,
                                                    resolution, settings)
    print(f"  {'all products':<44} {time.perf_counter() - t0:8.2f} s")
    truth = _timed("system cells (the audit's truth)", s3.system_cells, energy, settings)
    result = _timed("audit_products, all products together", audit_products, products, truth=truth)
    summary = result.reports["uc3"].summary
    print(f"  cells {summary['cells']:,}, relations {summary['relations']:,}, masked {summary['masked_cells']:,} "
          f"(primary {summary['primary_cells']:,}), components {summary['components']:,} (largest "
          f"{summary['largest_component']}), LP solves {summary['lp_solves']}, LP part {summary['seconds']} s, "
          f"exposed {summary['exposed_cells']}, passed {result.passed}")

    # stress: a territory whose production is one filière of three plants, one dominant
    small = energy[energy["territory_id"] == "provence_alpes_agglomeration"].copy()
    small = small[(small["flow"] == "consumption") | small["category"].isin(["other", "total"])]
    prod_total = small["flow"].eq("production") & small["category"].eq("total")
    other = small[small["category"].eq("other")].set_index("datetime_utc")
    small.loc[prod_total, ["energy_kwh", "n_points", "largest_point_kwh"]] = other.loc[
        small.loc[prod_total, "datetime_utc"], ["energy_kwh", "n_points", "largest_point_kwh"]].to_numpy()
    print("UC3 stress: every production total masked (one chained component per month)")
    products = {"out_uc3__territorial_balance": s3.published_balance(small, settings)}
    for resolution, name in (("hour", "hourly"), ("day", "daily"), ("month", "monthly")):
        products[f"out_uc3__rates_{name}"] = s3.published_rates(small, resolution, settings)
    truth = s3.system_cells(small, settings)
    for intervals in ("verdict", "exact"):
        result = _timed(f"audit_products, intervals={intervals}", audit_products, products, truth=truth,
                        intervals=intervals)
        summary = result.reports["uc3"].summary
        print(f"  cells {summary['cells']:,}, masked {summary['masked_cells']:,}, components "
              f"{summary['components']:,} (largest {summary['largest_component']}), LP solves {summary['lp_solves']}, "
              f"passed {result.passed}")


SECTORS = ("residential", "tertiary", "industry", "agriculture", "unassigned")


def uc1_year(n_communes: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    # geography: communes in EPCIs (~18 communes each) in 6 départements in one region
    n_epci = max(1, n_communes // 18)
    epci_dep = rng.integers(0, 6, size=n_epci)
    commune_epci = np.sort(rng.integers(0, n_epci, size=n_communes))
    geo = {f"c{i:04d}": f"e{commune_epci[i]:03d}" for i in range(n_communes)}
    geo.update({f"e{e:03d}": f"d{epci_dep[e]}" for e in range(n_epci)})
    geo.update({f"d{d}": "r93" for d in range(6)})
    population = np.exp(rng.normal(7.2, 1.4, size=n_communes)).round() + 5
    rows = []
    for fluid in ("electricity", "gas"):
        networked = rng.random(n_communes) < (1.0 if fluid == "electricity" else 0.45)
        for i in range(n_communes):
            pop = population[i] if networked[i] else 0
            points = {"residential": rng.poisson(pop * (0.48 if fluid == "electricity" else 0.18)),
                      "tertiary": rng.poisson(pop * 0.05), "industry": rng.poisson(pop / 1500 + 0.3),
                      "agriculture": rng.poisson(2.0 if pop else 0), "unassigned": rng.poisson(0.4 if pop else 0)}
            for sector, n in points.items():
                per_point = {"residential": 4.5, "tertiary": 30, "industry": 900, "agriculture": 40,
                             "unassigned": 10}[sector] * (0.6 if fluid == "gas" else 1.0)
                loads = rng.lognormal(0, 1.0 if sector != "industry" else 1.8, size=n) * per_point
                rows.append((fluid, f"c{i:04d}", sector, float(loads.sum()), n, float(loads.max()) if n else 0.0))
    leaf = pd.DataFrame(rows, columns=["fluid", "geo", "sector", "value", "n_contributors", "largest_contributor"])
    # every aggregate: geography levels x sectors + total
    levels = [leaf]
    current = leaf
    for _ in range(3):
        up = current.assign(geo=current["geo"].map(geo))
        current = up.groupby(["fluid", "geo", "sector"], as_index=False).agg(
            value=("value", "sum"), n_contributors=("n_contributors", "sum"),
            largest_contributor=("largest_contributor", "max"))
        levels.append(current)
    cells = pd.concat(levels, ignore_index=True)
    totals = cells.groupby(["fluid", "geo"], as_index=False).agg(
        value=("value", "sum"), n_contributors=("n_contributors", "sum"),
        largest_contributor=("largest_contributor", "max")).assign(sector="total")
    cells = pd.concat([cells, totals], ignore_index=True).assign(flow="consumption")
    hierarchies = (MappingHierarchy("geography", "geo", geo),
                   MappingHierarchy("sectors", "sector", {s: "total" for s in SECTORS}))
    print(f"UC1: {n_communes} communes, {n_epci} EPCIs, 6 départements, 1 region x {len(SECTORS)} sectors + total x "
          "2 fluids, one year")
    system = _timed("relations from the hierarchies", TableSystem, cells, ("fluid", "geo", "sector"), hierarchies)
    rules = load_rules()
    report = _timed("protect: primary, secondary, audit, repairs", protect, system, rules, unit="MWh")
    s = report.summary
    print(f"  cells {len(cells):,}, relations {len(system.relations):,}, primary {s['primary_cells']:,}, "
          f"secondary {s['secondary_cells']:,}, audit repairs {s['audit_repairs']}, components {s['components']:,} "
          f"(largest {s['largest_component']}), LP solves {s['lp_solves']}, exposed {s['exposed_cells']}")
    for intervals in ("verdict", "exact"):
        again = _timed(f"audit alone (the blocking check), {intervals}", audit, system, intervals=intervals)
        print(f"  LP solves {again.summary['lp_solves']}, passed {again.passed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--communes", type=int, default=950)
    parser.add_argument("--skip-uc3", action="store_true")
    parser.add_argument("--skip-uc1", action="store_true")
    args = parser.parse_args()
    if not args.skip_uc3:
        uc3_month(args.days)
    if not args.skip_uc1:
        uc1_year(args.communes)


if __name__ == "__main__":
    main()
