"""The restricted per-building report of UC4: one static HTML page per lycée, in French, charts inline.

Pure functions: the page is built from the building's rows (monthly consumption against its
baseline, anomalies, yearly indicators and trajectory, baseline figures) and returned as text;
the charts are PNG embedded as data URIs, so the page is one self-contained file.
"""

from __future__ import annotations

import base64
import html

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from energy_pipelines.reporting.charts import to_png  # noqa: E402

FLUID_FR = {"electricite": "Électricité", "gaz": "Gaz naturel", "eau": "Eau", "reseau_chaleur": "Réseau de chaleur"}
KIND_FR = {"duplicate_bill": "Facture en double", "impossible_quantity": "Quantité impossible",
           "price_out_of_range": "Prix hors contrat", "estimate_correction": "Régularisation d'index estimés",
           "missing_bill": "Facture manquante", "curve_bill_mismatch": "Écart facture / courbe de charge",
           "drift": "Dérive de consommation", "night_base_load": "Talon de nuit élevé",
           "holiday_base_load": "Consommation pendant les vacances", "gas_summer_holidays": "Gaz pendant les vacances d'été"}


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"/>'


def consumption_chart(monthly: pd.DataFrame, fluid: str) -> bytes:
    m = monthly[monthly["fluid"] == fluid].sort_values("month")
    fig, ax = plt.subplots(figsize=(8, 2.8))
    x = pd.to_datetime(m["month"])
    ax.bar(x, m["quantity"], width=20, label="Consommation facturée", color="#4a78b5")
    if "baseline_quantity" in m and m["baseline_quantity"].notna().any():
        ax.plot(x, m["baseline_quantity"], color="#d9822b", marker="o", ms=3, label="Référence (modèle)")
    unit = m["unit"].iloc[0] if len(m) else ""
    ax.set_title(f"{FLUID_FR.get(fluid, fluid)} : consommation mensuelle et référence ({unit})", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return to_png(fig)


def trajectory_chart(indicators: pd.DataFrame) -> bytes | None:
    ind = indicators.dropna(subset=["reference_kwh_per_m2"]).sort_values("year")
    if ind.empty:
        return None
    r = ind.iloc[0]
    ref_year, ref = int(r["reference_year"]), float(r["reference_kwh_per_m2"])
    fig, ax = plt.subplots(figsize=(8, 2.8))
    years = [ref_year, 2030, 2040, 2050]
    ax.plot(years, [ref, ref * 0.6, ref * 0.5, ref * 0.4], "--", color="#777", label="Trajectoire décret tertiaire")
    ax.plot(ind["year"], ind["normalised_kwh_per_m2"], "o-", color="#2a9d55", label="Consommation corrigée du climat")
    if ind["absolute_target_kwh_per_m2"].notna().any():
        ax.axhline(float(ind["absolute_target_kwh_per_m2"].dropna().iloc[0]), color="#c33", lw=1, label="Valeur absolue 2030")
    ax.set_ylabel("kWh/m²/an", fontsize=8)
    ax.set_title("Trajectoire décret tertiaire (énergie finale par m²)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return to_png(fig)


def building_page(building: dict, monthly: pd.DataFrame, anomalies: pd.DataFrame, indicators: pd.DataFrame,
                  baselines: pd.DataFrame) -> str:
    name = html.escape(str(building.get("name") or building["building_id"]))
    parts = [f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>{name}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}.ko{color:#b00}</style></head><body>",
             f"<h1>{name}</h1><p>Bâtiment {html.escape(building['building_id'])}"
             + (f", UAI {html.escape(str(building['uai']))}" if building.get("uai") else "")
             + f", {html.escape(str(building.get('commune_name', '')))} — {building.get('floor_area_m2', 0):.0f} m². "
             "Document à diffusion restreinte (données de facturation de la Région).</p>"]
    parts.append("<h2>Consommations et références</h2>")
    for fluid in sorted(monthly["fluid"].unique()):
        parts.append(_img(consumption_chart(monthly, fluid), f"consommation {fluid}"))
    parts.append("<h3>Modèles de référence (IPMVP option C, ASHRAE Guideline 14)</h3><table><tr><th>Fluide</th>"
                 "<th>Modèle</th><th>CV(RMSE)</th><th>NMBE</th><th>Validité</th></tr>")
    for r in baselines.itertuples(index=False):
        cv = f"{r.cvrmse_pct:.1f} %" if pd.notna(r.cvrmse_pct) else "—"
        nm = f"{r.nmbe_pct:.1f} %" if pd.notna(r.nmbe_pct) else "—"
        ok = "conforme" if r.passes_g14 else f"<span class='ko'>non utilisable : {html.escape(str(r.reason))}</span>"
        parts.append(f"<tr><td>{FLUID_FR.get(r.fluid, r.fluid)}</td><td>{html.escape(str(r.model))}</td>"
                     f"<td>{cv}</td><td>{nm}</td><td>{ok}</td></tr>")
    parts.append("</table><h2>Anomalies à traiter</h2>")
    if anomalies.empty:
        parts.append("<p>Aucune anomalie détectée.</p>")
    else:
        parts.append("<table><tr><th>Type</th><th>Fluide</th><th>Période</th><th>Constat</th><th>Enjeu</th></tr>")
        for a in anomalies.sort_values("eur_at_stake", ascending=False, na_position="last").itertuples(index=False):
            stake = f"{a.eur_at_stake:,.0f} €".replace(",", " ") if pd.notna(a.eur_at_stake) else "—"
            qty = f" ({a.quantity_at_stake:,.0f} {a.unit})".replace(",", " ") if pd.notna(a.quantity_at_stake) else ""
            parts.append(f"<tr><td>{KIND_FR.get(a.kind, a.kind)}</td><td>{FLUID_FR.get(a.fluid, a.fluid)}</td>"
                         f"<td>{a.period_start:%d/%m/%Y} – {a.period_end:%d/%m/%Y}</td><td>{html.escape(a.evidence)}</td>"
                         f"<td>{stake}{qty}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Décret tertiaire</h2>")
    png = trajectory_chart(indicators) if len(indicators) else None
    parts.append(_img(png, "trajectoire") if png else "<p>Pas d'année de référence ni d'année complète : "
                 "trajectoire non calculable.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
