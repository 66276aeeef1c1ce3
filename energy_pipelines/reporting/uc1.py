"""UC1 dashboards: one static HTML page per EPCI and one for the region, for elected officials and their staff.

Pure functions: published tables in, HTML text out (`territory_page`, `region_page`), and
`write_dashboards` to put the pages in a folder. A page needs no server and no network: charts are
inline SVG drawn by Matplotlib, styles inline, links relative. Text is French and says what each
figure is, where it comes from and what is hidden by statistical secrecy.

The tables are those the portal publishes (after the secrecy engine): a value that is null or masked
is drawn as missing, never as zero, and each chart says how many values are secret. Every chart
carries `data-points` (the number of values drawn) and its data artists `id="donnee-..."`, so a
browser test can check no chart is empty; each chart also has its figures in a table under
"Voir les données" (readable without the picture).
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from energy_pipelines.transforms.territorial.clustering import VIEW_LABELS, peers  # noqa: E402
from energy_pipelines.transforms.territorial.ratios import usable  # noqa: E402

SECTORS = {"residentiel": ("Résidentiel", "#4e79a7"), "tertiaire": ("Tertiaire", "#f28e2b"),
           "industrie": ("Industrie", "#76b7b2"), "agriculture": ("Agriculture", "#59a14f"),
           "transport_routier": ("Transport routier", "#e15759"), "autres_transports": ("Autres transports", "#ff9da7"),
           "branche_energie": ("Branche énergie", "#9c755f"), "dechets": ("Déchets", "#bab0ac"),
           "non_affecte": ("Non affecté", "#d3d3d3"), "utcatf": ("Puits de carbone (UTCATF)", "#8cd17d")}
ENERGIES = {"electricite": ("Électricité", "#f1ce63"), "gaz": ("Gaz naturel", "#4e79a7"),
            "produits_petroliers": ("Produits pétroliers", "#7f7f7f"), "bois_energie": ("Bois-énergie", "#8c564b"),
            "autres_enr": ("Autres renouvelables", "#59a14f"), "chaleur_froid_reseau": ("Réseaux de chaleur", "#e15759"),
            "combustibles_mineraux_solides": ("Charbon", "#333333"), "autres_non_enr": ("Autres non renouvelables", "#bab0ac")}
FILIERES = {"photovoltaique": ("Photovoltaïque", "#f1ce63"), "eolien": ("Éolien", "#76b7b2"),
            "hydraulique": ("Hydraulique", "#4e79a7"), "biomasse": ("Biomasse (chaleur)", "#8c564b"),
            "biogaz": ("Biogaz", "#59a14f"), "pompes_a_chaleur": ("Pompes à chaleur", "#e15759"),
            "solaire_thermique": ("Solaire thermique", "#f28e2b"), "geothermie": ("Géothermie", "#b07aa1"),
            "dechets": ("Valorisation des déchets", "#bab0ac")}
GASES = {"co2": "CO₂", "ch4": "CH₄", "n2o": "N₂O"}
LEVEL_LABELS = {"commune": "commune", "epci": "intercommunalité (EPCI)", "territoire": "territoire",
                "departement": "département", "region": "région"}


# -- formatting ----------------------------------------------------------------------------------

def fr(x: float | None, digits: int = 0, unit: str = "") -> str:
    """1234567.8 -> '1 234 568' (narrow no-break spaces, decimal comma); missing -> 'n.d.'."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or pd.isna(x):
        return "n.d."
    text = f"{x:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    return f"{text}\u00a0{unit}" if unit else text


def signed(x: float | None, digits: int = 1, unit: str = "%") -> str:
    if x is None or pd.isna(x):
        return "n.d."
    return ("+" if x > 0 else "") + fr(x, digits, unit)


def esc(text: object) -> str:
    return html.escape("" if text is None else str(text))


# -- data access ---------------------------------------------------------------------------------

@dataclass
class Published:
    """The published UC1 tables (after secrecy); any may be empty."""

    balance: pd.DataFrame
    emissions: pd.DataFrame
    indicators: pd.DataFrame
    clusters: pd.DataFrame = field(default_factory=pd.DataFrame)

    def latest_year(self) -> int:
        return int(self.indicators["year"].max())


def _series(frame: pd.DataFrame, value: str, level: str, code: str, by: str, **where) -> tuple[pd.DataFrame, int]:
    """years x categories of usable values (NaN = not published), and how many values are secret."""
    if frame.empty:
        return pd.DataFrame(), 0
    sel = (frame["level"] == level) & (frame["territory_code"] == code)
    for k, v in where.items():
        sel &= frame[k] == v
    sub = frame[sel]
    sub = sub[sub[by] != "total"]
    ok = usable(sub, value) | ((sub["value_status"] == "lower_bound") & sub[value].notna()
                               & ~(sub["masked"].astype("boolean").fillna(False).astype(bool) if "masked" in sub
                                   else False))
    secret = int((~ok).sum())
    table = sub.assign(_v=sub[value].where(ok)).pivot_table(index="year", columns=by, values="_v",
                                                            aggfunc="first", dropna=False)
    return table.sort_index(), secret


def _indicator(data: Published, level: str, code: str, year: int) -> pd.Series:
    ind = data.indicators
    row = ind[(ind["level"] == level) & (ind["territory_code"] == code) & (ind["year"] == year)]
    return row.iloc[0] if len(row) else pd.Series(dtype=object)


# -- charts --------------------------------------------------------------------------------------

def _svg(fig) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "uc1"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _figure(chart_id: str, title: str, svg: str | None, points: int, caption: str, table: str,
            empty_reason: str = "") -> str:
    body = svg if svg and points else f'<p class="vide">Donnée indisponible{": " + esc(empty_reason) if empty_reason else ""}.</p>'
    return (f'<figure class="graphique" id="{chart_id}" data-points="{points if svg else 0}" role="img" '
            f'aria-label="{esc(title)}"><h3>{esc(title)}</h3>{body}<figcaption>{caption}</figcaption>'
            f'<details><summary>Voir les données</summary>{table}</details></figure>')


def _table(frame: pd.DataFrame, labels: dict, unit: str, digits: int = 0) -> str:
    if frame.empty:
        return "<p>Aucune donnée.</p>"
    head = "".join(f"<th>{esc(labels.get(c, (c,))[0] if isinstance(labels.get(c), tuple) else labels.get(c, c))}</th>"
                   for c in frame.columns)
    rows = []
    for year, r in frame.iterrows():
        cells = "".join(f"<td>{'secret' if pd.isna(v) else fr(v, digits)}</td>" for v in r)
        rows.append(f"<tr><th>{esc(year)}</th>{cells}</tr>")
    return (f'<table><caption>{esc(unit)}</caption><thead><tr><th>Année</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def stacked_bars(chart_id: str, title: str, table: pd.DataFrame, palette: dict, unit: str, scale: float,
                 secret: int, source: str) -> str:
    """Stacked bars per year; a secret value is left out of its bar (and counted in the caption)."""
    cols = [c for c in palette if c in table.columns] + [c for c in table.columns if c not in palette]
    table = table[cols] if not table.empty else table
    points = int(table.notna().sum().sum()) if not table.empty else 0
    svg = None
    if points:
        fig, ax = plt.subplots(figsize=(7.2, 3.4))
        bottom = np.zeros(len(table))
        x = np.arange(len(table))
        for i, col in enumerate(cols):
            values = table[col].to_numpy(dtype=float) / scale
            label, color = palette.get(col, (col, None))
            bars = ax.bar(x, np.nan_to_num(values), bottom=bottom, color=color, label=label, width=0.75)
            for j, bar in enumerate(bars):
                if np.isfinite(values[j]) and values[j] != 0:
                    bar.set_gid(f"donnee-{chart_id}-{i}-{j}")
            bottom += np.nan_to_num(values)
        ax.set_xticks(x, [str(y) for y in table.index], rotation=0 if len(x) < 9 else 45, fontsize=8)
        ax.set_ylabel(unit)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, ncol=2, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
        svg = _svg(fig)
    note = (f" {secret} valeur(s) couverte(s) par le secret statistique ne sont pas représentées."
            if secret else "")
    caption = f"Source : {esc(source)}. Unité : {esc(unit)}.{esc(note)}"
    labels = {c: palette.get(c, (c,))[0] for c in cols}
    return _figure(chart_id, title, svg, points, caption, _table(table / scale, labels, unit, 1),
                   "aucune valeur publiable")


def trajectory_chart(chart_id: str, data: Published, level: str, code: str) -> str:
    """Consumption and emissions as an index (reference year = 100) with the linear target trajectories."""
    ind = data.indicators
    rows = ind[(ind["level"] == level) & (ind["territory_code"] == code)].sort_values("year")
    title = "Trajectoire : consommation et émissions face aux objectifs"
    if rows.empty:
        return _figure(chart_id, title, None, 0, "", "", "pas d'indicateur")
    ref_year = int(rows["reference_year"].iloc[0])
    ref = rows[rows["year"] == ref_year]
    svg, points = None, 0
    table = pd.DataFrame(index=rows["year"].to_numpy())
    if not ref.empty:
        fig, ax = plt.subplots(figsize=(7.2, 3.4))
        for i, (name, value, t30, t50, color, label) in enumerate((
                ("consumption", "consumption_mwh", "consumption_target_2030_mwh", "consumption_target_2050_mwh",
                 "#4e79a7", "Consommation d'énergie"),
                ("emissions", "emissions_tco2e", "emissions_target_2030_tco2e", "emissions_target_2050_tco2e",
                 "#e15759", "Émissions de GES"))):
            base = ref[value].iloc[0]
            if pd.isna(base) or base == 0:
                continue
            idx = 100 * rows[value].to_numpy(dtype=float) / base
            table[label] = idx
            ok = np.isfinite(idx)
            if not ok.any():
                continue
            line, = ax.plot(rows["year"][ok], idx[ok], marker="o", ms=3, color=color, label=f"{label} (réel)")
            line.set_gid(f"donnee-{chart_id}-{i}")
            points += int(ok.sum())
            targets = [(ref_year, 100.0)] + [(y, 100 * rows[c].dropna().iloc[0] / base)
                                            for y, c in ((2030, t30), (2050, t50)) if rows[c].notna().any()]
            if len(targets) > 1:
                tx, ty = zip(*targets, strict=True)
                ax.plot(tx, ty, ls="--", color=color, alpha=0.7, label=f"{label} (objectif)")
                ax.scatter(tx[1:], ty[1:], marker="*", s=80, color=color)
        ax.axhline(100, color="#999", lw=0.6)
        ax.set_ylabel(f"indice, {ref_year} = 100")
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
        svg = _svg(fig) if points else None
        if not points:
            plt.close(fig)
    caption = (f"Indice base 100 en {ref_year} (année de référence des objectifs). Pointillés : trajectoire linéaire "
               "vers les objectifs 2030 et 2050 du SRADDET Provence-Alpes-Côte d'Azur appliqués au territoire "
               "(assets_config/uc1/targets.yaml, valeurs à vérifier). Source : AtmoSud, inventaire CIGALE.")
    return _figure(chart_id, title, svg, points, caption, _table(table, {}, f"indice {ref_year} = 100", 1),
                   f"année de référence {ref_year} non publiable")


def cluster_chart(chart_id: str, data: Published, level: str, code: str, view: str = "general",
                  highlight: set[str] | None = None, fallback_level: str = "commune") -> tuple[str, str]:
    """The territory among its peers on the first two axes of the clustering; (figure, peers table)."""
    title = f"Territoires semblables ({VIEW_LABELS[view]})"
    cl = data.clusters
    if cl.empty:
        return _figure(chart_id, title, None, 0, "", "", "regroupement non calculé"), ""
    year = int(cl["year"].max())
    cl = cl[cl["year"] == year]
    sub = cl[(cl["level"] == level) & (cl["view"] == view) & cl["pc1"].notna()]
    note = ""
    marked = {code}
    shown_level = level
    if sub.empty:  # too few units at this level: show how the territory's communes are grouped
        n = int(((cl["level"] == level) & (cl["view"] == view)).sum())
        note = (f"Trop peu de territoires de ce niveau ({n}) pour former des groupes : le graphique montre les "
                f"groupes de communes{', celles du territoire entourées' if highlight else ''}. ")
        sub = cl[(cl["level"] == fallback_level) & (cl["view"] == view) & cl["pc1"].notna()]
        marked = highlight or set()
        shown_level = fallback_level
    if sub.empty:
        return _figure(chart_id, title, None, 0, "", "", "regroupement non calculé"), ""
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    cmap = plt.get_cmap("tab10")
    points = 0
    for c in sorted(sub["cluster"].dropna().unique()):
        pts = sub[sub["cluster"] == c]
        sc = ax.scatter(pts["pc1"], pts["pc2"], s=14, color=cmap(int(c - 1) % 10), alpha=0.6, label=f"Groupe {int(c)}")
        sc.set_gid(f"donnee-{chart_id}-{int(c)}")
        points += len(pts)
    me = sub[sub["territory_code"].isin(marked)]
    if len(me):
        ax.scatter(me["pc1"], me["pc2"], s=70, facecolors="none", edgecolors="black", linewidths=1.5,
                   label="ce territoire" if shown_level == level else "ses communes")
        if shown_level == level:
            ax.annotate(str(me["territory_name"].iloc[0]), (me["pc1"].iloc[0], me["pc2"].iloc[0]), fontsize=8,
                        xytext=(6, 6), textcoords="offset points")
    ax.set_xlabel("axe 1")
    ax.set_ylabel("axe 2")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    svg = _svg(fig)
    mine = sub[sub["territory_code"].isin(marked)]
    if shown_level == level and len(mine):
        group = mine["cluster"].iloc[0]
        mates = peers(cl, level, code, view, n=8)
        peer_rows = "".join(f"<li>{esc(n)}</li>" for n in mates["territory_name"])
        peers_html = (f"<p>Ce territoire est dans le <strong>groupe {int(group)}</strong> "
                      f"({int(mine['cluster_size'].iloc[0])} territoires). Les plus proches :</p><ul>{peer_rows}</ul>")
    else:
        counts = mine["cluster"].value_counts().sort_index()
        peers_html = ("<p>Répartition de ses communes entre les groupes : "
                      + ", ".join(f"groupe {int(c)} : {n} commune(s)" for c, n in counts.items()) + ".</p>")
    caption = (f"{note}Chaque point est un territoire, placé selon ses principales caractéristiques "
               f"(analyse en composantes principales) et coloré selon son groupe (classification ascendante "
               f"hiérarchique de Ward consolidée par k-means, année {year}).")
    table = sub[["territory_name", "cluster"]].sort_values(["cluster", "territory_name"])
    table_html = "<table><thead><tr><th>Territoire</th><th>Groupe</th></tr></thead><tbody>" + "".join(
        f"<tr><td>{esc(n)}</td><td>{int(c)}</td></tr>" for n, c in table.itertuples(index=False)) + "</tbody></table>"
    return _figure(chart_id, title, svg, points, caption, table_html), peers_html


def profiles_html(figures: dict | None, key: str) -> str:
    """What characterises each cluster (v-tests), in words."""
    info = (figures or {}).get(key) or {}
    profiles = info.get("profiles") or {}
    if not profiles:
        return ""
    items = []
    for c, vars_ in sorted(profiles.items(), key=lambda kv: int(kv[0])):
        words = []
        for v in vars_[:3]:
            digits = 0 if v["variable"] == "log10_population" else 1
            side = "au-dessus de la moyenne" if v["v_test"] > 0 else "en dessous de la moyenne"
            words.append(f"{esc(v['label'])} : {fr(v['mean_in_cluster'], digits)} contre "
                         f"{fr(v['overall_mean'], digits)} en moyenne ({side})")
        items.append(f"<li><strong>Groupe {int(c)}</strong> — {'; '.join(words) or 'proche de la moyenne'}.</li>")
    stab = info.get("stability", {})
    stability = (f"<p>Stabilité des groupes (rééchantillonnage, indice de Rand ajusté moyen sur "
                 f"{stab.get('replicates')} tirages) : {fr(stab.get('ari_mean'), 2)} (1 = parfaitement stable).</p>"
                 if stab.get("replicates") else "")
    return f"<ul>{''.join(items)}</ul>{stability}"


# -- pages ---------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#0b4f6c;color:#fff;padding:1.2rem 2rem}header h1{margin:0;font-size:1.6rem}
header p{margin:.3rem 0 0;opacity:.9}main{max-width:1100px;margin:auto;padding:1rem 2rem}
.cles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:.8rem;margin:1rem 0}
.cle{background:#fff;border-radius:8px;padding:.8rem 1rem;box-shadow:0 1px 2px #0002}
.cle .v{font-size:1.5rem;font-weight:600}.cle .l{font-size:.85rem;color:#555}
figure.graphique{background:#fff;border-radius:8px;padding:1rem;margin:1rem 0;box-shadow:0 1px 2px #0002}
figure h3{margin:0 0 .5rem;font-size:1.05rem}figure svg{max-width:100%;height:auto}
figcaption{font-size:.8rem;color:#555}details{font-size:.8rem}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}p.vide{color:#a00;font-style:italic}
nav a{margin-right:1rem}footer{font-size:.75rem;color:#666;padding:1rem 2rem;max-width:1100px;margin:auto}
"""


def _page(title: str, subtitle: str, body: str, generated: datetime | None, root: str) -> str:
    stamp = f" Page produite le {generated:%d/%m/%Y}." if generated else ""
    return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{STYLE}</style></head><body><header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
            f'<main><nav><a href="{root}index.html">Région</a></nav>{body}</main>'
            f"<footer>Sources : AtmoSud (inventaire CIGALE, données sous convention, publiées après secret "
            f"statistique), Agence ORE et Enedis (données locales de l'énergie, Licence Ouverte), INSEE "
            f"(populations légales). Les valeurs couvertes par le secret statistique (trop peu de points de "
            f"livraison ou un contributeur dominant) ne sont pas publiées ; les totaux restent exacts.{stamp}"
            f"</footer></body></html>")


def key_figures(row: pd.Series) -> str:
    if row.empty:
        return ""
    cards = [
        (fr(row.get("consumption_mwh", np.nan) / 1000, 0, "GWh"), "consommation d'énergie finale"),
        (fr(row.get("consumption_per_capita_mwh"), 1, "MWh"), "consommation par habitant"),
        (fr(row.get("renewable_production_mwh", np.nan) / 1000, 0, "GWh"), "production d'énergie renouvelable"),
        (fr(row.get("renewable_coverage_pct"), 1, "%"), "de la consommation couverte par les renouvelables"),
        (fr(row.get("emissions_tco2e", np.nan) / 1000, 0, "kt CO₂e"), "émissions de gaz à effet de serre"),
        (fr(row.get("emissions_per_capita_tco2e"), 1, "t CO₂e"), "émissions par habitant"),
        (signed(row.get("consumption_change_since_reference_pct")),
         f"évolution de la consommation depuis {int(row.get('reference_year', 2012))}"),
        (signed(row.get("consumption_gap_to_trajectory_pct")),
         "écart à la trajectoire de l'objectif de consommation (positif : en retard)"),
    ]
    return '<section class="cles">' + "".join(
        f'<div class="cle"><div class="v">{esc(v)}</div><div class="l">{esc(label)}</div></div>'
        for v, label in cards) + "</section>"


def _charts(data: Published, level: str, code: str) -> list[str]:
    cons, s1 = _series(data.balance, "energy_mwh", level, code, "sector", source="cigale", measure="consumption",
                       carrier="total")
    mix, s2 = _series(data.balance, "energy_mwh", level, code, "carrier", source="cigale", measure="consumption",
                      sector="total")
    ore, s3 = _series(data.balance, "energy_mwh", level, code, "sector", source="ore", measure="consumption",
                      carrier="total")
    prod, s4 = _series(data.balance, "energy_mwh", level, code, "carrier", source="cigale", measure="production",
                       sector="total")
    em, s5 = _series(data.emissions, "emissions_tco2e", level, code, "sector", gas="total")
    ore_palette = {k: SECTORS[k] for k in ("residentiel", "tertiaire", "industrie", "agriculture", "non_affecte")}
    return [
        stacked_bars("consommation-secteur", "Consommation d'énergie finale par secteur", cons, SECTORS, "GWh", 1000,
                     s1, "AtmoSud, inventaire CIGALE"),
        stacked_bars("consommation-energie", "Consommation d'énergie finale par énergie", mix, ENERGIES, "GWh", 1000,
                     s2, "AtmoSud, inventaire CIGALE"),
        stacked_bars("electricite-gaz", "Électricité et gaz distribués, mesurés par les gestionnaires de réseau", ore,
                     ore_palette, "GWh", 1000, s3,
                     "Agence ORE (données locales de l'énergie) ; les cellules que les opérateurs couvrent du secret "
                     "en sont absentes, les totaux sont donc des minima"),
        stacked_bars("production-filiere", "Production d'énergie renouvelable par filière", prod, FILIERES, "GWh", 1000,
                     s4, "AtmoSud, inventaire CIGALE"),
        stacked_bars("emissions-secteur", "Émissions de gaz à effet de serre par secteur", em, SECTORS, "kt CO₂e", 1000,
                     s5, "AtmoSud, inventaire CIGALE (CO₂, CH₄ et N₂O en équivalent CO₂, PRG à 100 ans)"),
        trajectory_chart("trajectoire", data, level, code),
    ]


def territory_page(data: Published, level: str, code: str, *, members: set[str] | None = None,
                   cluster_figures: dict | None = None, generated: datetime | None = None, root: str = "../") -> str:
    """The page of one territory; `members`: its communes (shown when its own level is not clustered)."""
    year = data.latest_year()
    row = _indicator(data, level, code, year)
    name = row.get("territory_name") if not row.empty else code
    pop = row.get("population") if not row.empty else None
    charts = _charts(data, level, code)
    figure, peers_html = cluster_chart("groupe", data, level, code, "general", highlight=members)
    prof = profiles_html(cluster_figures, f"{year}/{level}/general") or profiles_html(cluster_figures,
                                                                                     f"{year}/commune/general")
    body = (f"<h2>Chiffres clés {year}</h2>{key_figures(row)}"
            f"<h2>Consommer</h2>{''.join(charts[:3])}"
            f"<h2>Produire</h2>{charts[3]}"
            f"<h2>Émissions et objectifs</h2>{''.join(charts[4:])}"
            f"<h2>Territoires semblables</h2>{figure}{peers_html}{prof}")
    subtitle = (f"{LEVEL_LABELS.get(level, level).capitalize()} — {fr(pop, 0)} habitants "
                f"(population légale {row.get('population_year', '')}) — données {year}")
    return _page(f"Énergie et climat : {name}", subtitle, body, generated, root)


def epci_members(communes: pd.DataFrame | None) -> dict[str, set[str]]:
    """EPCI SIREN -> its commune codes, from the referential (raw_insee__communes)."""
    if communes is None or communes.empty:
        return {}
    from energy_pipelines.transforms.territorial.referential import build_referential

    ref = build_referential(communes, {}).communes.dropna(subset=["epci_siren"])
    return {k: set(v) for k, v in ref.groupby("epci_siren")["commune_code"]}


def region_page(data: Published, *, region_code: str = "93", epci_links: dict[str, str] | None = None,
                cluster_figures: dict | None = None, generated: datetime | None = None) -> str:
    year = data.latest_year()
    row = _indicator(data, "region", region_code, year)
    charts = _charts(data, "region", region_code)
    ind = data.indicators
    epcis = ind[(ind["level"] == "epci") & (ind["year"] == year)].sort_values("consumption_per_capita_mwh")
    compare = _compare_chart(epcis)
    figure, _ = cluster_chart("groupes", data, "epci", "", "general", highlight=set())
    profiles = profiles_html(cluster_figures, f"{year}/epci/general") or profiles_html(cluster_figures,
                                                                                      f"{year}/commune/general")
    links = "".join(f'<li><a href="{esc(href)}">{esc(name)}</a></li>'
                    for name, href in sorted((epci_links or {}).items()))
    body = (f"<h2>Chiffres clés {year}</h2>{key_figures(row)}"
            f"<h2>Consommer</h2>{''.join(charts[:3])}<h2>Produire</h2>{charts[3]}"
            f"<h2>Émissions et objectifs</h2>{''.join(charts[4:])}"
            f"<h2>Les intercommunalités</h2>{compare}<ul>{links}</ul>"
            f"<h2>Groupes de territoires semblables</h2>{figure}{profiles}")
    subtitle = f"Région — {fr(row.get('population') if not row.empty else None, 0)} habitants — données {year}"
    return _page("Énergie et climat en Provence-Alpes-Côte d'Azur", subtitle, body, generated, "")


def _compare_chart(epcis: pd.DataFrame) -> str:
    title = "Consommation et production renouvelable par habitant, par intercommunalité"
    values = epcis[["territory_name", "consumption_per_capita_mwh", "renewable_production_per_capita_mwh"]].dropna(
        subset=["consumption_per_capita_mwh"])
    points = len(values)
    svg = None
    if points:
        fig, ax = plt.subplots(figsize=(7.2, max(2.0, 0.3 * points + 1)))
        y = np.arange(points)
        b1 = ax.barh(y - 0.2, values["consumption_per_capita_mwh"], height=0.4, color="#4e79a7", label="consommation")
        b2 = ax.barh(y + 0.2, values["renewable_production_per_capita_mwh"].fillna(0), height=0.4, color="#59a14f",
                     label="production renouvelable")
        for i, bar in enumerate([*b1, *b2]):
            bar.set_gid(f"donnee-comparaison-{i}")
        ax.set_yticks(y, [str(n)[:40] for n in values["territory_name"]], fontsize=7)
        ax.set_xlabel("MWh par habitant")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False)
        svg = _svg(fig)
    table = values.set_index("territory_name")
    table.columns = ["consommation (MWh/hab.)", "production renouvelable (MWh/hab.)"]
    return _figure("comparaison-epci", title, svg, points, "Source : AtmoSud (CIGALE), INSEE (populations).",
                   _table(table, {}, "MWh par habitant", 1), "aucun EPCI publiable")


def dashboard_pages(data: Published, *, region_code: str = "93", communes: pd.DataFrame | None = None,
                    cluster_figures: dict | None = None, generated: datetime | None = None) -> dict[str, str]:
    """{relative path: HTML}: index.html (the region) and epci/<siren>.html (one per EPCI of the latest year).

    `communes`: the referential (raw_insee__communes), to show an EPCI's communes among the groups of
    communes when EPCIs are too few to be grouped themselves."""
    year = data.latest_year()
    ind = data.indicators
    epcis = ind[(ind["level"] == "epci") & (ind["year"] == year)][["territory_code", "territory_name"]]
    members = epci_members(communes)
    pages: dict[str, str] = {}
    links = {}
    for code, name in epcis.itertuples(index=False):
        pages[f"epci/{code}.html"] = territory_page(data, "epci", code, members=members.get(code),
                                                    cluster_figures=cluster_figures, generated=generated)
        links[name] = f"epci/{code}.html"
    index = region_page(data, region_code=region_code, epci_links=links, cluster_figures=cluster_figures,
                        generated=generated)
    return {"index.html": index, **pages}


def write_dashboards(data: Published, out_dir: Path | str, *, region_code: str = "93",
                     communes: pd.DataFrame | None = None, cluster_figures: dict | None = None,
                     generated: datetime | None = None) -> list[Path]:
    """The pages of `dashboard_pages` written under `out_dir`; returns the files (index first)."""
    out = Path(out_dir)
    (out / "epci").mkdir(parents=True, exist_ok=True)
    written = []
    for relative, text in dashboard_pages(data, region_code=region_code, communes=communes,
                                          cluster_figures=cluster_figures, generated=generated).items():
        path = out / relative
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
