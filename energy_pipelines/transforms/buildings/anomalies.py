"""Anomalies a building manager can act on, each with its evidence and what is at stake (kWh and EUR).

Kinds:
- billing errors, from the clean bill lines: `duplicate_bill`, `impossible_quantity`,
  `price_out_of_range`, `estimate_correction` (a regularisation far from the estimates),
  `missing_bill` (days of a meter in service that no invoice covers), `curve_bill_mismatch` (an
  electricity bill far from the Enedis load curve over the same days);
- consumption: `drift` (CUSUM of the baseline residuals, only with a model meeting Guideline 14),
  `night_base_load` and `holiday_base_load` (load curves), `gas_summer_holidays` (GRDF daily data,
  else the bills allocated to months fully inside the summer holidays).
The EUR at stake of a consumption anomaly is its excess use at the meter's contract price (the
middle of its range) plus VAT; of a billing error, what was or would be paid wrongly.
Texts people read (evidence) are in French.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from energy_pipelines.clock import PARIS_NAME
from energy_pipelines.transforms.buildings.baseline import Baseline, predict
from energy_pipelines.transforms.buildings.params import BillParams, DetectionParams

COLUMNS = ["month_start_utc", "kind", "category", "building_id", "fluid", "meter_id", "period_start", "period_end",
           "evidence", "quantity_at_stake", "unit", "kwh_at_stake", "eur_at_stake", "source"]
VAT = {"electricite": 0.20, "gaz": 0.20, "eau": 0.055, "reseau_chaleur": 0.055, "fioul": 0.20, "bois": 0.10}
FLUID_FR = {"electricite": "électricité", "gaz": "gaz", "eau": "eau", "reseau_chaleur": "réseau de chaleur"}


def _month_start(day) -> pd.Timestamp:
    d = pd.Timestamp(day)
    return pd.Timestamp(d.year, d.month, 1).tz_localize(PARIS_NAME).tz_convert("UTC")


def _record(kind, category, building, fluid, meter, start, end, evidence, qty, unit, eur, source) -> dict:
    return {"month_start_utc": _month_start(start), "kind": kind, "category": category, "building_id": building,
            "fluid": fluid, "meter_id": meter, "period_start": pd.Timestamp(start).date(),
            "period_end": pd.Timestamp(end).date(), "evidence": evidence,
            "quantity_at_stake": None if qty is None else float(qty), "unit": unit,
            "kwh_at_stake": float(qty) if (qty is not None and unit == "kWh") else None,
            "eur_at_stake": None if eur is None or not np.isfinite(eur) else round(float(eur), 2), "source": source}


def unit_price(meters: pd.DataFrame) -> dict[str, float]:
    """EUR incl. VAT per kWh (or m³) at the middle of each meter's contract range."""
    m = meters.drop_duplicates("meter_id", keep="last")
    mid = (m["price_min_eur"] + m["price_max_eur"]) / 2
    mid = np.where(m["price_unit"] == "EUR/MWh", mid / 1000, mid)
    vat = m["fluid"].map(VAT).fillna(0.2)
    return dict(zip(m["meter_id"], mid * (1 + vat), strict=True))


# -- billing errors ------------------------------------------------------------------------------

def billing_errors(lines: pd.DataFrame) -> list[dict]:
    out = []
    for r in lines[lines["status"].isin(["duplicate", "impossible"])].itertuples(index=False):
        qty = r.quantity_kwh if r.used_unit == "kWh" else r.quantity_m3
        if r.status == "duplicate":
            out.append(_record("duplicate_bill", "facturation", r.building_id, r.fluid, r.meter_id, r.period_start,
                               r.period_end, f"Facture {r.invoice_number} : {r.status_reason}. Ne pas payer deux fois.",
                               qty, r.used_unit, r.amount_incl_vat_eur, "factures"))
        else:
            if r.quantity_source == "index" and pd.notna(r.quantity_used) and qty:
                excess = qty - r.quantity_used
                eur = r.amount_incl_vat_eur * (excess / qty) if qty else None
            else:
                excess, eur = qty, r.amount_incl_vat_eur
            out.append(_record("impossible_quantity", "facturation", r.building_id, r.fluid, r.meter_id,
                               r.period_start, r.period_end,
                               f"Facture {r.invoice_number} : quantité impossible ({r.status_reason}).",
                               abs(excess) if excess is not None else None, r.used_unit,
                               abs(eur) if eur is not None else None, "factures"))
    priced = lines[lines["price_check"].isin(["above_contract", "below_contract"])]
    for r in priced.itertuples(index=False):
        per = r.quantity_m3 if r.used_unit == "m3" else r.quantity_kwh
        bound = r.price_max_eur if r.price_check == "above_contract" else r.price_min_eur
        unit_factor = 1000.0 if r.price_max_eur > 5 and r.used_unit == "kWh" else 1.0  # EUR/MWh contracts
        over = (r.energy_price_eur - bound) * per / unit_factor
        ratio = r.amount_incl_vat_eur / r.amount_excl_vat_eur if r.amount_excl_vat_eur else 1.0
        out.append(_record("price_out_of_range", "facturation", r.building_id, r.fluid, r.meter_id, r.period_start,
                           r.period_end,
                           f"Facture {r.invoice_number} : prix de l'énergie {r.energy_price_eur:.4f} € HT/unité hors de la "
                           f"plage du contrat [{r.price_min_eur:.4f} ; {r.price_max_eur:.4f}].",
                           per, r.used_unit, abs(over) * ratio, "factures"))
    return out


def estimate_corrections(lines: pd.DataFrame, days: pd.DataFrame, params: BillParams = BillParams()) -> list[dict]:
    """A read index that corrects estimates by more than `estimate_correction_share` of the real use."""
    out = []
    alloc = days.assign(day=pd.to_datetime(days["day"]))
    by_meter = {k: v.groupby("day")["quantity"].sum() for k, v in alloc.groupby("meter_id")}
    for r in lines[(lines["estimated_in_group"] > 0) & lines["status"].isin(["regularisation", "active"])
                   & (lines["index_nature"].fillna("R") != "E")].itertuples(index=False):
        if r.status == "regularisation":
            est = lines[(lines["allocation_group"] == r.allocation_group) & (lines["index_nature"] == "E")
                        & lines["in_consumption"]]
        else:  # a rebill: the cancelled estimates inside its period
            est = lines[(lines["meter_id"] == r.meter_id) & (lines["status"] == "cancelled")
                        & (lines["index_nature"] == "E") & (lines["period_start"] >= r.period_start)
                        & (lines["period_end"] <= r.period_end)]
        if est.empty or r.meter_id not in by_meter:
            continue
        series = by_meter[r.meter_id]
        real = float(sum(series.loc[pd.Timestamp(s):pd.Timestamp(e)].sum()
                         for s, e in zip(est["period_start"], est["period_end"], strict=True)))
        billed = float(est["quantity_used"].fillna(est["quantity_kwh"].fillna(est["quantity_m3"])).sum())
        if real <= 0:
            continue
        share = (billed - real) / real
        if abs(share) > params.estimate_correction_share:
            price = (r.amount_incl_vat_eur / r.quantity_used) if r.quantity_used else None
            eur = abs(billed - real) * price if price and np.isfinite(price) and price > 0 else None
            direction = "surestimé" if share > 0 else "sous-estimé"
            out.append(_record("estimate_correction", "facturation", r.building_id, r.fluid, r.meter_id,
                               est["period_start"].min(), r.period_end,
                               f"Index {direction} de {abs(share):.0%} sur {len(est)} facture(s) estimée(s) : "
                               f"{billed:.0f} facturés contre {real:.0f} réellement consommés ({r.used_unit}) ; "
                               f"régularisé par la facture {r.invoice_number}.",
                               abs(billed - real), r.used_unit, eur, "factures"))
    return out


def missing_bills(lines: pd.DataFrame, days: pd.DataFrame, meters: pd.DataFrame, as_of, prices: dict[str, float],
                  params: BillParams = BillParams()) -> list[dict]:
    """Days of a meter in service covered by no invoice: between its first bill and `as_of`."""
    out = []
    as_of = pd.Timestamp(as_of)
    from energy_pipelines.transforms.buildings.allocation import covered_days

    cover = covered_days(lines)
    alloc = days.assign(day=lambda d: pd.to_datetime(d["day"]))
    reg = meters.drop_duplicates("meter_id", keep="last").set_index("meter_id")
    for meter, c in cover.groupby("meter_id"):
        g = alloc[alloc["meter_id"] == meter]
        if g.empty:
            continue
        covered = pd.DatetimeIndex(sorted(c["day"].unique()))
        first = covered.min()
        periods = lines[(lines["meter_id"] == meter) & (lines["document_type"] == "FACTURE")]
        typical = int(periods["days"].median()) if len(periods) else 31
        until = as_of - pd.Timedelta(days=typical + params.missing_grace_days)
        valid_to = reg["valid_to"].get(meter) if meter in reg.index else None
        if valid_to is not None and pd.notna(valid_to):
            until = min(until, pd.Timestamp(valid_to))
        expected = pd.date_range(first, max(until, covered.max()), freq="D")
        missing = expected.difference(covered)
        if missing.empty:
            continue
        runs = (missing.to_series().diff() != pd.Timedelta(days=1)).cumsum()
        per_day = g.groupby("day")["quantity"].sum()
        rate = float(per_day.mean()) if len(per_day) else 0.0
        for _, run in missing.to_series().groupby(runs):
            s, e = run.iloc[0], run.iloc[-1]
            qty = rate * len(run)
            unit = g["unit"].iloc[0]
            trailing = e >= covered.max()
            out.append(_record("missing_bill", "facturation", g["building_id"].iloc[0], g["fluid"].iloc[0], meter, s, e,
                               (f"Aucune facture depuis le {s:%d/%m/%Y} ({len(run)} jours non facturés)" if trailing else
                                f"Période du {s:%d/%m/%Y} au {e:%d/%m/%Y} couverte par aucune facture ({len(run)} jours)")
                               + f" ; consommation estimée {qty:.0f} {unit}.",
                               qty, unit, qty * prices.get(meter, np.nan), "factures"))
    return out


def curve_mismatches(reconciled: pd.DataFrame, lines: pd.DataFrame) -> list[dict]:
    out = []
    if reconciled.empty:
        return out
    info = lines.drop_duplicates("invoice_number").set_index("invoice_number")
    for r in reconciled[reconciled["status"] == "gap"].itertuples(index=False):
        line = info.loc[r.invoice_number]
        eur = line["amount_incl_vat_eur"] * (r.billed_kwh - r.curve_kwh) / r.billed_kwh if r.billed_kwh else None
        out.append(_record("curve_bill_mismatch", "facturation", line["building_id"], "electricite", r.meter_id,
                           r.period_start, r.period_end,
                           f"Facture {r.invoice_number} : {r.billed_kwh:.0f} kWh facturés, {r.curve_kwh:.0f} kWh mesurés par "
                           f"la courbe de charge Enedis sur la même période ({r.gap_share:+.1%}).",
                           abs(r.billed_kwh - r.curve_kwh), "kWh", abs(eur) if eur is not None else None, "courbe_de_charge"))
    return out


# -- consumption ----------------------------------------------------------------------------------

def cusum_drift(building: str, fluid: str, model: Baseline, months: pd.DataFrame, daily: pd.DataFrame,
                after: str, price: float | None, params: DetectionParams = DetectionParams(),
                min_coverage: float = 0.9) -> list[dict]:
    """Upper CUSUM of standardised residuals of the months after `after` (YYYY-MM, excluded)."""
    if model.model is None or not model.passes_g14 or not model.residual_std:
        return []
    # measured months only: estimated indexes not yet read are the supplier's guess, not the building's use
    m = months[(months["month"] > after) & (months["coverage"] >= min_coverage) & (months["overlap_days"] == 0)
               & (months["estimated_days"] == 0) & months["quantity"].notna()].sort_values("month")
    if m.empty:
        return []
    yhat = predict(model, m["month"], daily)
    resid = m["quantity"].to_numpy(dtype=float) - yhat
    # a fit's residual spread understates what a year later holds: a floor relative to the use
    sigma = max(model.residual_std, params.drift_sigma_floor_share * abs(model.mean_y or 0))
    z = resid / sigma
    s, start, out, alarm = 0.0, None, [], None
    for i, zi in enumerate(z):
        if not np.isfinite(zi):
            continue
        s_new = max(0.0, s + zi - params.cusum_k)
        if s == 0.0 and s_new > 0:
            start = i
        s = s_new
        if alarm is None and s > params.cusum_h:
            alarm = i
        if alarm is not None and (s == 0.0 or i == len(z) - 1):
            end = i if s > 0 else i - 1
            excess = float(np.nansum(resid[start:end + 1]))
            base = float(np.nansum(yhat[start:end + 1]))
            unit = m["unit"].iloc[0] if "unit" in m else "kWh"
            if base <= 0 or excess / base < params.drift_min_share:
                alarm, start, s = None, None, 0.0
                continue
            out.append(_record("drift", "consommation", building, fluid, None, m["month"].iloc[start] + "-01",
                               (pd.Timestamp(m["month"].iloc[end] + "-01") + pd.offsets.MonthEnd(0)),
                               f"Dérive de la consommation de {FLUID_FR.get(fluid, fluid)} depuis {m['month'].iloc[start]} "
                               f"(alarme CUSUM en {m['month'].iloc[alarm]}) : +{excess:.0f} {unit} au-dessus de la "
                               f"référence ({excess / base:+.0%}), modèle {model.model}.",
                               excess, unit, excess * price if price else None, "baseline"))
            alarm, start = None, None
            s = 0.0
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    out, i = [], 0
    while i < len(mask):
        if mask[i]:
            j = i
            while j + 1 < len(mask) and mask[j + 1]:
                j += 1
            out.append((i, j))
            i = j + 1
        else:
            i += 1
    return out


def night_base_load(daily: pd.DataFrame, context: pd.DataFrame, buildings_of: dict[str, str],
                    prices: dict[str, float], params: DetectionParams = DetectionParams()) -> list[dict]:
    """Nights far above the meter's usual night (a robust fit of night power on degree days)."""
    out = []
    ctx = context.assign(day=pd.to_datetime(context["day"])).set_index("day")
    hours = params.night_hours[1] - params.night_hours[0]
    for prm, g in daily.groupby("prm"):
        g = g[g["night_kw"].notna()].assign(day=lambda d: pd.to_datetime(d["day"])).sort_values("day")
        if len(g) < 28:
            continue
        hdd = np.clip(18 - ctx["tmean_c"].reindex(g["day"]).to_numpy(), 0, None)
        hdd = np.where(np.isnan(hdd), 0, hdd)
        y = g["night_kw"].to_numpy()
        # nights after a school day and other nights differ (heating schedules): one robust fit each
        school = ctx["school_day"].reindex(g["day"]).fillna(False).to_numpy(dtype=bool)
        ref = np.empty(len(y))
        for kind in (True, False):
            sel = school == kind
            fit_on = sel if sel.sum() >= 10 else np.ones(len(y), dtype=bool)
            slope, intercept, *_ = stats.theilslopes(y[fit_on], hdd[fit_on])
            ref[sel] = intercept + slope * hdd[sel]
        resid = y - ref
        sigma = 1.4826 * np.median(np.abs(resid - np.median(resid)))
        high = (y > ref * (1 + params.night_excess_share)) & (resid > params.night_excess_sigma * max(sigma, 1e-6))
        for i, j in _runs(high):
            if j - i + 1 < params.night_min_nights:
                continue
            excess_kw = float(np.mean(resid[i:j + 1]))
            kwh = float(np.sum(resid[i:j + 1])) * hours
            out.append(_record("night_base_load", "consommation", buildings_of.get(prm), "electricite", prm,
                               g["day"].iloc[i], g["day"].iloc[j],
                               f"Talon de nuit anormal du {g['day'].iloc[i]:%d/%m/%Y} au {g['day'].iloc[j]:%d/%m/%Y} : "
                               f"{np.mean(y[i:j + 1]):.0f} kW la nuit contre {np.mean(ref[i:j + 1]):.0f} kW habituellement "
                               f"(+{excess_kw:.0f} kW sur {j - i + 1} nuits). Ventilation, éclairage ou chauffage restés en marche ?",
                               kwh, "kWh", kwh * prices.get(prm, np.nan), "courbe_de_charge"))
    return out


def holiday_base_load(daily: pd.DataFrame, context: pd.DataFrame, buildings_of: dict[str, str],
                      prices: dict[str, float], params: DetectionParams = DetectionParams()) -> list[dict]:
    """Holiday weekdays running like school days, against the weekends and school days around them."""
    out = []
    ctx = context.assign(day=pd.to_datetime(context["day"])).set_index("day")
    hol = (ctx["holiday"] & ~ctx["summer_holiday"]).to_numpy()
    periods = [(ctx.index[i], ctx.index[j]) for i, j in _runs(hol)]
    hours = params.day_hours[1] - params.day_hours[0]
    for prm, g in daily.groupby("prm"):
        g = g.assign(day=lambda d: pd.to_datetime(d["day"])).set_index("day")
        # the day's occupied signal is day power minus the same night's: the weather cancels out
        g["signal"] = g["day_kw"] - g["night_kw"]
        for s, e in periods:
            near = g.loc[s - pd.Timedelta(days=14): e + pd.Timedelta(days=14)]
            c = ctx.reindex(near.index)
            inside = (near.index >= s) & (near.index <= e)
            workday = ~c["weekend"].to_numpy() & ~c["public_holiday"].to_numpy()
            hol = near[inside & workday]
            weekend = near[c["weekend"].to_numpy() & (near.index >= s - pd.Timedelta(days=7))
                           & (near.index <= e + pd.Timedelta(days=7))]["signal"].dropna()
            school = near[c["school_day"].to_numpy()]["signal"].dropna()
            if hol["signal"].notna().sum() < params.holiday_min_days or len(weekend) < 2 or len(school) < 5:
                continue
            occupied = school.median() - weekend.median()
            if occupied <= 0:
                continue
            share = (hol["signal"].median() - weekend.median()) / occupied
            if share > params.holiday_occupied_share:
                excess_kw = float(hol["signal"].mean() - weekend.median())
                kwh = excess_kw * hours * int(hol["signal"].notna().sum())
                out.append(_record("holiday_base_load", "consommation", buildings_of.get(prm), "electricite", prm, s, e,
                                   f"Vacances scolaires du {s:%d/%m/%Y} au {e:%d/%m/%Y} : les jours ouvrés gardent "
                                   f"{share:.0%} de la charge d'occupation d'un jour de classe (journée {hol['day_kw'].median():.0f} kW, "
                                   f"nuit {hol['night_kw'].median():.0f} kW). Programmation horaire à vérifier.",
                                   kwh, "kWh", kwh * prices.get(prm, np.nan), "courbe_de_charge"))
    return out


def gas_summer(gas_days: pd.DataFrame, monthly: pd.DataFrame, context: pd.DataFrame, buildings: pd.DataFrame,
               meters: pd.DataFrame, prices: dict[str, float], params: DetectionParams = DetectionParams()) -> list[dict]:
    """Gas (or heat network) used in the summer holidays beyond pilot lights: GRDF days first, else bills."""
    out = []
    area = buildings.drop_duplicates("building_id", keep="last").set_index("building_id")["floor_area_m2"]
    reg = meters.drop_duplicates("meter_id", keep="last").set_index("meter_id")
    ctx = context.assign(day=pd.to_datetime(context["day"])).set_index("day")
    # the heart of the summer: holiday days, staff weeks at both ends left out
    summer = ctx[ctx["summer_holiday"]]
    core = set()
    for year, s in summer.groupby(summer.index.year):
        core |= set(s.index[7:-7])
    done = set()
    if not gas_days.empty:
        gd = gas_days.assign(day=pd.to_datetime(gas_days["gas_day"]))
        gd = gd[gd["day"].isin(core)]
        for (pce, year), g in gd.groupby(["pce", gd["day"].dt.year]):
            if pce not in reg.index or len(g) < params.gas_summer_min_days:
                continue
            b = reg.loc[pce, "building_id"]
            a = float(area.get(b, np.nan))
            per_m2 = g["energy_kwh"].mean() / a
            done.add((b, year))
            if per_m2 > params.gas_summer_kwh_m2_day:
                kwh = float(g["energy_kwh"].sum())
                out.append(_record("gas_summer_holidays", "consommation", b, reg.loc[pce, "fluid"], pce, g["day"].min(),
                                   g["day"].max(),
                                   f"Gaz consommé pendant les vacances d'été : {g['energy_kwh'].mean():.0f} kWh/jour "
                                   f"({per_m2 * 1000:.1f} Wh/m²/jour, relevés GRDF journaliers) alors que le lycée est fermé. "
                                   f"Chaudière ou eau chaude sanitaire à arrêter ?",
                                   kwh, "kWh", kwh * prices.get(pce, np.nan), "grdf"))
    # meters without daily data: invoice lines lying wholly in the summer holidays, without a school day
    lines = monthly
    holiday_days = set(ctx.index[ctx["summer_holiday"]])
    heat = lines[lines["fluid"].isin(["gaz", "reseau_chaleur"]) & lines["in_consumption"]
                 & (lines["document_type"] == "FACTURE") & lines["quantity_used"].notna()]
    for r in heat.itertuples(index=False):
        span = pd.date_range(r.period_start, r.period_end, freq="D")
        if len(span) < params.gas_summer_min_days or not all(d in holiday_days for d in span):
            continue
        year = span[0].year
        if (r.building_id, year) in done:
            continue
        a = float(area.get(r.building_id, np.nan))
        per_m2 = r.quantity_used / len(span) / a
        if per_m2 > params.gas_summer_kwh_m2_day:
            done.add((r.building_id, year))
            out.append(_record("gas_summer_holidays", "consommation", r.building_id, r.fluid, r.meter_id, span[0],
                               span[-1],
                               f"{FLUID_FR.get(r.fluid, r.fluid).capitalize()} facturé du {span[0]:%d/%m/%Y} au "
                               f"{span[-1]:%d/%m/%Y}, en plein congé d'été : {r.quantity_used:.0f} kWh "
                               f"({per_m2 * 1000:.1f} Wh/m²/jour, facture {r.invoice_number}). Chauffage ou eau chaude "
                               f"restés en marche ?",
                               r.quantity_used, "kWh", r.quantity_used * prices.get(r.meter_id, np.nan), "factures"))
    return out


def to_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame["month_start_utc"] = pd.to_datetime(frame["month_start_utc"], utc=True)
    return frame.sort_values(["building_id", "period_start", "kind"], ignore_index=True)
