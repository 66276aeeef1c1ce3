"""The operation's dashboard: one static HTML page (French), charts embedded as PNG, no PRM, no name.

`operation_dashboard(allocation, labels, ...)` is pure: it takes the per-participant allocation
(core_acc__allocation) and the pseudonym of each PRM, and returns the page and its charts:
- production vs consumption of the operation (and what was self-consumed), over the period;
- self-consumption and self-production rates by month and by hour of day (ratios of sums);
- each consumer's share of the self-consumed energy next to its share of the consumption.
Participants appear only under their pseudonym ("Participant 07"): the page is for the members
of the operation, never public (a pseudonym is still personal data).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from energy_pipelines.clock import PARIS_NAME  # noqa: E402

MONTHS_FR = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]


@dataclass
class Dashboard:
    html: str
    charts: dict[str, bytes] = field(default_factory=dict)
    figures: dict[str, object] = field(default_factory=dict)


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fr(x: float | None, digits: int = 1, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n.d."
    text = f"{x:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    return f"{text}\u00a0{unit}" if unit else text


def _rate(num: float, den: float) -> float:
    return np.nan if den == 0 else 100.0 * num / den


def operation_totals(allocation: pd.DataFrame) -> pd.DataFrame:
    """Per step: CONS, PROD, self-consumed (sum AUTOCONS), in kWh, indexed by Paris time."""
    f = allocation.copy()
    f["t"] = pd.to_datetime(f["datetime_utc"], utc=True).dt.tz_convert(PARIS_NAME)
    g = f.groupby("t")[["cons_wh", "prod_wh", "autocons_wh"]].sum(min_count=1).fillna(0) / 1000
    return g.rename(columns={"cons_wh": "consommation", "prod_wh": "production", "autocons_wh": "autoconsommee"})


def rates_by(totals: pd.DataFrame, key: pd.Index | np.ndarray) -> pd.DataFrame:
    s = totals.groupby(key)[["consommation", "production", "autoconsommee"]].sum()
    s["taux_autoconsommation"] = [_rate(a, p) for a, p in zip(s["autoconsommee"], s["production"], strict=True)]
    s["taux_autoproduction"] = [_rate(a, c) for a, c in zip(s["autoconsommee"], s["consommation"], strict=True)]
    return s


def participant_shares(allocation: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    c = allocation[allocation["role"] == "consommateur"]
    g = c.groupby("prm")[["cons_wh", "autocons_wh"]].sum()
    g.index = [labels.get(p, "Participant ?") for p in g.index]
    out = pd.DataFrame({"part_consommation": 100 * g["cons_wh"] / max(g["cons_wh"].sum(), 1),
                        "part_autoconsommation": 100 * g["autocons_wh"] / max(g["autocons_wh"].sum(), 1),
                        "taux_autoproduction": 100 * g["autocons_wh"] / g["cons_wh"].where(g["cons_wh"] > 0)})
    return out.sort_index()


def _chart_flows(totals: pd.DataFrame) -> bytes:
    data = totals if len(totals) <= 24 * 8 else totals.resample("1D").sum()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(data.index, data["production"], label="Production", color="tab:orange", lw=1.2)
    ax.plot(data.index, data["consommation"], label="Consommation", color="tab:blue", lw=1.2)
    ax.fill_between(data.index, 0, data["autoconsommee"], color="tab:green", alpha=0.35, label="Autoconsommée")
    ax.set_ylabel("kWh par " + ("pas" if len(totals) <= 24 * 8 else "jour"))
    ax.set_title("Production et consommation de l'opération", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    return to_png(fig)


def _chart_rates(rates: pd.DataFrame, labels: list[str], title: str, xlabel: str) -> bytes:
    fig, ax = plt.subplots(figsize=(9, 3.0))
    x = np.arange(len(rates))
    ax.bar(x - 0.2, rates["taux_autoconsommation"], 0.4, label="Taux d'autoconsommation", color="tab:orange")
    ax.bar(x + 0.2, rates["taux_autoproduction"], 0.4, label="Taux d'autoproduction", color="tab:green")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return to_png(fig)


def _chart_shares(shares: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(9, 3.4))
    x = np.arange(len(shares))
    ax.bar(x - 0.2, shares["part_consommation"], 0.4, label="Part de la consommation", color="tab:blue")
    ax.bar(x + 0.2, shares["part_autoconsommation"], 0.4, label="Part de l'énergie autoconsommée", color="tab:green")
    ax.set_xticks(x, [s.replace("Participant ", "P") for s in shares.index], fontsize=7, rotation=90)
    ax.set_ylabel("%")
    ax.set_title("Part de chaque participant (pseudonymisé)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return to_png(fig)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def operation_dashboard(allocation: pd.DataFrame, labels: Mapping[str, str], title: str,
                        period_label: str) -> Dashboard:
    """The page and its charts; `labels` maps each PRM to its pseudonym (PRMs never appear)."""
    if allocation.empty:
        page = (f"<!doctype html><html lang='fr'><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<body><h1>{html.escape(title)}</h1><p>Aucune donnée répartie sur la période "
                f"{html.escape(period_label)}.</p></body></html>")
        return Dashboard(page, {}, {"steps": 0})
    totals = operation_totals(allocation)
    by_month = rates_by(totals, totals.index.strftime("%Y-%m"))
    by_hour = rates_by(totals, totals.index.hour)
    shares = participant_shares(allocation, labels)
    month_labels = [f"{MONTHS_FR[int(m[5:7]) - 1]} {m[:4]}" for m in by_month.index]
    charts = {
        "production_consommation": _chart_flows(totals),
        "taux_par_mois": _chart_rates(by_month, month_labels, "Taux par mois", "mois"),
        "taux_par_heure": _chart_rates(by_hour, [f"{h}h" for h in by_hour.index],
                                       "Taux par heure de la journée (heure légale)", "heure"),
        "parts_participants": _chart_shares(shares),
    }
    cons, prod, auto = (float(totals[c].sum()) for c in ("consommation", "production", "autoconsommee"))
    figures = {"steps": int(len(totals)), "consommation_kwh": round(cons, 3), "production_kwh": round(prod, 3),
               "autoconsommee_kwh": round(auto, 3), "taux_autoconsommation_pct": round(_rate(auto, prod), 2)
               if prod else None, "taux_autoproduction_pct": round(_rate(auto, cons), 2) if cons else None}
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{_fr(r.part_consommation)}&nbsp;%</td>"
        f"<td>{_fr(r.part_autoconsommation)}&nbsp;%</td><td>{_fr(r.taux_autoproduction)}&nbsp;%</td></tr>"
        for name, r in shares.iterrows())
    page = f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}.note{{color:#555;font-size:.9em}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>Période : {html.escape(period_label)} — {len(totals)} pas de temps répartis.</p>
<h2>Chiffres clés</h2>
<table><tr><th>Indicateur</th><th>Valeur</th></tr>
<tr><td>Production</td><td>{_fr(prod, 1, 'kWh')}</td></tr>
<tr><td>Consommation</td><td>{_fr(cons, 1, 'kWh')}</td></tr>
<tr><td>Énergie autoconsommée</td><td>{_fr(auto, 1, 'kWh')}</td></tr>
<tr><td>Taux d'autoconsommation (autoconsommée / production)</td><td>{_fr(_rate(auto, prod))}&nbsp;%</td></tr>
<tr><td>Taux d'autoproduction (autoconsommée / consommation)</td><td>{_fr(_rate(auto, cons))}&nbsp;%</td></tr>
</table>
<h2>Production et consommation</h2>{_img(charts['production_consommation'], 'Production et consommation')}
<h2>Taux par mois</h2>{_img(charts['taux_par_mois'], 'Taux par mois')}
<h2>Taux par heure de la journée</h2>{_img(charts['taux_par_heure'], 'Taux par heure')}
<h2>Part de chaque participant</h2>{_img(charts['parts_participants'], 'Parts des participants')}
<table><tr><th>Participant</th><th>Part de la consommation</th><th>Part de l'autoconsommée</th>
<th>Taux d'autoproduction</th></tr>{rows}</table>
<p class="note">Les taux sont des rapports de sommes sur la période (jamais des moyennes de taux). Les
participants sont pseudonymisés : ni nom ni numéro de PRM sur cette page, réservée aux membres de
l'opération. Énergies calculées au Wh près à partir des courbes Enedis et de la clé de répartition en
vigueur à chaque pas.</p>
</body></html>
"""
    return Dashboard(page, charts, figures)
