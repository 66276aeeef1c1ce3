"""IPMVP option C baselines: change-point regressions on monthly consumption, judged by ASHRAE Guideline 14.

A month's use is modelled as (ASHRAE RP-1050 change-point models written with variable-base degree
days, so a month's heating is the sum of its days' degree days rather than a function of its mean
temperature):

    use_m = b0 x days_m + bh x HDD_m(Th) + bc x CDD_m(Tc) + bo x school_days_m

- 1P: b0 only; 3PH: + heating (balance point Th); 3PC: + cooling (Tc); 4P: both, Th = Tc;
  5P: both, Th < Tc; each with or without the occupancy term (the lycée's school days).
- Balance points are searched on a grid (the `heating_bases_c` / `cooling_bases_c` settings);
  slopes must be positive and significant (t >= `min_t_stat`), the base load non-negative; among
  the models left, the lowest BIC wins. p counts the coefficients and the change points.
- Guideline 14 (monthly): CV(RMSE) = sqrt(SSE / (n - p)) / mean(y) <= 15 %, NMBE = sum(y - yhat) /
  ((n - p) mean(y)) <= 5 % in absolute value, on the baseline (calibration) months. A model that
  fails is returned with `passes_g14 = False` and its reason: callers must not use it silently.
- On a test period (not used in the fit), the same figures are reported with p = 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from energy_pipelines.transforms.buildings.params import BaselineParams


@dataclass
class Baseline:
    model: str | None
    occupancy: bool = False
    heating_base_c: float | None = None
    cooling_base_c: float | None = None
    base_per_day: float = 0.0
    heating_slope: float = 0.0
    cooling_slope: float = 0.0
    occupancy_slope: float = 0.0
    n: int = 0
    p: int = 0
    r2: float | None = None
    cvrmse_pct: float | None = None
    nmbe_pct: float | None = None
    passes_g14: bool = False
    reason: str = ""
    mean_y: float | None = None
    residual_std: float | None = None
    autocorrelation: float | None = None
    extra: dict = field(default_factory=dict)

    def as_row(self) -> dict:
        row = asdict(self)
        row.pop("extra")
        return row


def month_design(months: pd.Series, daily: pd.DataFrame, bases_h: tuple[float, ...],
                 bases_c: tuple[float, ...]) -> dict[str, np.ndarray]:
    """Per month (YYYY-MM): days, school days, HDD and CDD at every candidate base (NaN if a day lacks T)."""
    d = daily.copy()
    d["month"] = pd.to_datetime(d["day"]).dt.strftime("%Y-%m")
    d = d[d["month"].isin(set(months))]
    t = d["tmean_c"].to_numpy(dtype=float)
    hdd = np.clip(np.asarray(bases_h)[None, :] - t[:, None], 0, None)
    cdd = np.clip(t[:, None] - np.asarray(bases_c)[None, :], 0, None)
    keys = d["month"].to_numpy()
    frame_h = pd.DataFrame(hdd).groupby(keys).sum(min_count=1)
    frame_c = pd.DataFrame(cdd).groupby(keys).sum(min_count=1)
    missing_t = pd.Series(np.isnan(t)).groupby(keys).any()
    school = pd.Series(d["school_day"].astype(float).to_numpy()).groupby(keys).sum()
    ndays = pd.Series(np.ones(len(d))).groupby(keys).sum()
    idx = pd.Index(months)
    hdd_m = frame_h.reindex(idx).to_numpy()
    cdd_m = frame_c.reindex(idx).to_numpy()
    bad = missing_t.reindex(idx).fillna(True).to_numpy()
    hdd_m[bad] = np.nan
    cdd_m[bad] = np.nan
    return {"days": ndays.reindex(idx).to_numpy(dtype=float), "school": school.reindex(idx).to_numpy(dtype=float),
            "hdd": hdd_m, "cdd": cdd_m}


def _ols(x: np.ndarray, y: np.ndarray):
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    return coef, float(resid @ resid)


def _t_stats(x: np.ndarray, sse: float, coef: np.ndarray) -> np.ndarray:
    n, k = x.shape
    if n <= k:
        return np.zeros(k)
    sigma2 = sse / (n - k)
    try:
        cov = sigma2 * np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        return np.zeros(k)
    se = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    return coef / se


def g14(y: np.ndarray, yhat: np.ndarray, p: int) -> tuple[float, float]:
    """(CV(RMSE) %, NMBE %) with n - p in the denominators (p = 0 on a test period)."""
    n = len(y)
    mean = float(np.mean(y))
    if n - p <= 0 or mean == 0:
        return float("nan"), float("nan")
    resid = y - yhat
    return (100 * np.sqrt(float(resid @ resid) / (n - p)) / mean, 100 * float(resid.sum()) / ((n - p) * mean))


def fit_monthly(months: pd.DataFrame, daily: pd.DataFrame, params: BaselineParams = BaselineParams(),
                occupancy: bool = True) -> Baseline:
    """Fit the best change-point model on `months` (columns month, quantity, coverage)."""
    m = months[(months["coverage"] >= params.min_coverage) & months["quantity"].notna()].copy()
    if len(m) < params.min_months:
        return Baseline(model=None, reason=f"only {len(m)} complete month(s) in the baseline period "
                                           f"(need {params.min_months} with >= {params.min_coverage:.0%} coverage)")
    design = month_design(m["month"], daily, params.heating_bases_c, params.cooling_bases_c)
    ok = ~np.isnan(design["hdd"][:, 0]) & ~np.isnan(design["days"])
    if ok.sum() < params.min_months:
        return Baseline(model=None, reason="temperature missing for too many baseline months")
    y = m["quantity"].to_numpy(dtype=float)[ok]
    days, school = design["days"][ok], design["school"][ok]
    hdd, cdd = design["hdd"][ok], design["cdd"][ok]
    n = len(y)
    candidates = []
    bh, bc = params.heating_bases_c, params.cooling_bases_c
    shapes: list[tuple[str, int | None, int | None]] = [("1P", None, None)]
    shapes += [("3PH", i, None) for i in range(len(bh))]
    shapes += [("3PC", None, j) for j in range(len(bc))]
    shapes += [("4P", i, j) for i in range(len(bh)) for j in range(len(bc)) if bh[i] == bc[j]]
    shapes += [("5P", i, j) for i in range(len(bh)) for j in range(len(bc)) if bh[i] < bc[j] and bh[i] % 1 == 0]
    for occ in ((False, True) if occupancy else (False,)):
        for shape, i, j in shapes:
            cols, names = [days], ["base"]
            if i is not None:
                cols.append(hdd[:, i]); names.append("heat")
            if j is not None:
                cols.append(cdd[:, j]); names.append("cool")
            if occ:
                cols.append(school); names.append("occ")
            x = np.column_stack(cols)
            k = x.shape[1] + (i is not None) + (j is not None)
            if n - k < 2:
                continue
            coef, sse = _ols(x, y)
            if coef[0] < -0.02 * abs(y.mean()) / max(days.mean(), 1):
                continue
            tvals = _t_stats(x, sse, coef)
            if any(coef[q] <= 0 or tvals[q] < params.min_t_stat for q in range(1, len(coef))):
                continue
            bic = n * np.log(max(sse, 1e-12) / n) + k * np.log(n)
            candidates.append((bic, shape, occ, i, j, coef, sse, k, names, x))
    if not candidates:
        return Baseline(model=None, n=n, reason="no change-point model with positive, significant slopes")
    bic, shape, occ, i, j, coef, sse, k, names, x = min(candidates, key=lambda c: c[0])
    yhat = x @ coef
    cv, nmbe = g14(y, yhat, k)
    resid = y - yhat
    r2 = 1 - sse / float(((y - y.mean()) ** 2).sum()) if n > 1 and y.std() > 0 else None
    rho = float(np.corrcoef(resid[:-1], resid[1:])[0, 1]) if n > 3 and resid.std() > 0 else 0.0
    values = dict(zip(names, coef, strict=True))
    failures = []
    if not (cv <= params.monthly_cvrmse_pct):
        failures.append(f"CV(RMSE) {cv:.1f} % > {params.monthly_cvrmse_pct:.0f} %")
    if not (abs(nmbe) <= params.monthly_nmbe_pct):
        failures.append(f"|NMBE| {abs(nmbe):.1f} % > {params.monthly_nmbe_pct:.0f} %")
    return Baseline(
        model=shape + ("+occupancy" if occ else ""), occupancy=occ,
        heating_base_c=bh[i] if i is not None else None, cooling_base_c=bc[j] if j is not None else None,
        base_per_day=float(values.get("base", 0.0)), heating_slope=float(values.get("heat", 0.0)),
        cooling_slope=float(values.get("cool", 0.0)), occupancy_slope=float(values.get("occ", 0.0)),
        n=n, p=k, r2=r2, cvrmse_pct=cv, nmbe_pct=nmbe, passes_g14=not failures,
        reason="; ".join(failures) if failures else "meets ASHRAE Guideline 14 (monthly)",
        mean_y=float(y.mean()), residual_std=float(np.sqrt(sse / (n - k))), autocorrelation=max(rho, 0.0) if np.isfinite(rho) else 0.0)


def predict(b: Baseline, months: pd.Series, daily: pd.DataFrame) -> np.ndarray:
    """The model's use for each month (NaN where the month's temperatures are incomplete)."""
    if b.model is None:
        return np.full(len(months), np.nan)
    bases_h = (b.heating_base_c,) if b.heating_base_c is not None else (18.0,)
    bases_c = (b.cooling_base_c,) if b.cooling_base_c is not None else (22.0,)
    d = month_design(months, daily, bases_h, bases_c)
    out = b.base_per_day * d["days"] + b.occupancy_slope * d["school"]
    out = out + (b.heating_slope * d["hdd"][:, 0] if b.heating_base_c is not None else 0 * d["hdd"][:, 0])
    out = out + (b.cooling_slope * d["cdd"][:, 0] if b.cooling_base_c is not None else 0 * d["cdd"][:, 0])
    return out


def test_metrics(b: Baseline, months: pd.DataFrame, daily: pd.DataFrame, min_coverage: float = 0.9) -> dict:
    """Guideline 14 figures of the model on months it was not fitted on (p = 0)."""
    m = months[(months["coverage"] >= min_coverage) & months["quantity"].notna()]
    yhat = predict(b, m["month"], daily)
    ok = np.isfinite(yhat)
    if b.model is None or ok.sum() == 0:
        return {"test_months": 0, "test_cvrmse_pct": None, "test_nmbe_pct": None}
    cv, nmbe = g14(m["quantity"].to_numpy(dtype=float)[ok], yhat[ok], 0)
    return {"test_months": int(ok.sum()), "test_cvrmse_pct": cv, "test_nmbe_pct": nmbe}


def savings_uncertainty(b: Baseline, baseline_total: float, m: int, confidence: float = 0.90) -> float | None:
    """Absolute uncertainty of avoided use over m reporting months (ASHRAE Guideline 14 Annex B,
    after Reddy & Claridge): t x 1.26 x CV x E_baseline x sqrt((n / n') (1 + 2 / n) / m), with the
    effective number of points n' = n (1 - rho) / (1 + rho) for autocorrelated residuals
    [1.26 is the Guideline's approximation for monthly data; to verify against its text]."""
    if b.model is None or b.cvrmse_pct is None or m <= 0 or b.n - b.p <= 0:
        return None
    rho = b.autocorrelation or 0.0
    n_eff = b.n * (1 - rho) / (1 + rho)
    t = stats.t.ppf(0.5 + confidence / 2, b.n - b.p)
    return float(t * 1.26 * b.cvrmse_pct / 100 * abs(baseline_total) * np.sqrt((b.n / n_eff) * (1 + 2 / b.n) / m))
