"""The public catalogue site: static HTML/CSS written beside the published products.

    <root>/index.html                       every product, searchable by use case, owner, theme
    <root>/filtres/<kind>-<slug>.html       the same list for one use case / owner / theme (no JavaScript needed)
    <root>/catalogue/<product>.html         one page per product
    <root>/lineage/<product>.svg            its lineage diagram (generated)
    <root>/telechargements/<product>/*.csv  CSV copies of the open Parquet files, for spreadsheets
    <root>/usages/<uc>.html                 use-case pages (UC2 signal, UC3 per territory, dashboards)
    <root>/style.css, filtre.js

`root` is the portal mirror folder, so product files are linked relatively
(`../region-sud/<product>/<file>.parquet`) and the whole folder opens from the file system or any
static web server. Nothing loads from the network. The content works without JavaScript;
`filtre.js` only adds a search box to the index. Restricted products have a page (what they hold,
who owns them, how to ask for them) but no download link and no CSV: their data never reaches
the public site. Text is French; dates are Paris time.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from energy_pipelines.catalog import Catalog
from energy_pipelines.clock import UTC
from energy_pipelines.governance.lineage import Effective
from energy_pipelines.portal import fmt
from energy_pipelines.portal.config import COMMITTEE, AccessConfig, PortalConfig
from energy_pipelines.portal.fmt import e
from energy_pipelines.portal.published import MirrorSource, PublishedProduct, Quality, Resource, quality_of
from energy_pipelines.portal.svg import Node, lineage_svg
from energy_pipelines.storage.atomic import write_atomic, write_text_atomic

OWNED_DIRS = ("catalogue", "filtres", "lineage", "telechargements", "usages", "tableaux-de-bord")

FREQUENCY = {"half_hourly": "toutes les 30 minutes", "daily": "chaque jour", "monthly": "chaque mois",
             "yearly": "chaque année", "none": "à chaque nouvelle livraison des sources"}
ACCESS = {"open": ("Ouvert", "ouvert", "Réutilisation libre sous la licence indiquée."),
          "restricted": ("Restreint", "restreint",
                         "Accessible sur demande, après accord de chaque propriétaire des données et du comité "
                         "de pilotage."),
          "closed": ("Fermé", "ferme", "Non diffusé.")}
QUALITY = {"PASSED": ("Conforme", "ok", "Le dernier contrôle bloquant est passé."),
           "WARN": ("Avertissements", "warn", "Le dernier contrôle est passé avec des avertissements (non bloquants)."),
           "ERROR": ("Non conforme", "ko", "Le dernier contrôle a échoué : les données concernées ne sont pas publiées."),
           None: ("Non contrôlé", "none", "Aucun résultat de contrôle n'est enregistré pour ce jeu.")}
TYPES = {"string": "texte", "integer": "entier", "number": "nombre décimal", "boolean": "booléen",
         "datetime": "date et heure (UTC)", "date": "date"}
STEP = {"anonymisation": "étape d'anonymisation", "secrecy": "étape de secret statistique"}

CSS = """
*{box-sizing:border-box}body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;
background:#f5f7fa;line-height:1.45}a{color:#0b5cad}a:focus,button:focus,input:focus{outline:3px solid #ffbf47}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px;z-index:9}
header.site{background:#123a63;color:#fff;padding:14px 24px}header.site a{color:#fff;text-decoration:none;font-weight:600}
header.site nav a{margin-right:18px;font-weight:400;text-decoration:underline}
main{max-width:1100px;margin:0 auto;padding:18px 24px 48px}h1{font-size:1.6rem;margin:.3em 0}h2{font-size:1.2rem;
margin:1.6em 0 .5em;border-bottom:1px solid #d9dee5;padding-bottom:4px}h3{font-size:1.05rem}
.lead{font-size:1.05rem;max-width:70ch}.muted{color:#5b6773;font-size:.92rem}
.badge{display:inline-block;padding:1px 9px;border-radius:11px;font-size:.82rem;font-weight:600;margin-right:4px;
border:1px solid transparent}.ouvert,.ok{background:#dff3e4;color:#17542a}.restreint,.warn{background:#fff1d0;color:#6d4a00}
.ferme,.ko{background:#fbdcdc;color:#7d1a1a}.none{background:#e8ebef;color:#3c4650}
.cards{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:14px}
.card{background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:12px 14px}.card h3{margin:.1em 0 .4em;font-size:1rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;border:1px solid #d9dee5;
border-radius:8px;padding:12px 16px}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem;margin:.4em 0 1em}
th,td{border:1px solid #d9dee5;padding:5px 8px;text-align:left;vertical-align:top}th{background:#eef1f5}
td.num{text-align:right;white-space:nowrap}pre{background:#1f2933;color:#f0f4f8;padding:12px;border-radius:6px;
overflow-x:auto;font-size:.85rem;white-space:pre-wrap;word-break:break-word}code{font-family:ui-monospace,Menlo,Consolas,monospace}
.facets{display:flex;flex-wrap:wrap;gap:18px;background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:10px 14px}
.facets div{min-width:200px}.facets ul{margin:.2em 0;padding-left:1.1em}
.box{background:#fff8e6;border:1px solid #f0d48a;border-radius:8px;padding:10px 16px}
figure{margin:1em 0;background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:10px}
figcaption{font-weight:600;margin-bottom:6px}.legend span{display:inline-block;margin-right:16px}
.swatch{display:inline-block;width:14px;height:14px;border-radius:3px;vertical-align:-2px;margin-right:5px}
.lineage{overflow-x:auto;background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:8px}
#recherche{width:100%;max-width:520px;padding:7px 10px;font-size:1rem;border:1px solid #9aa5b1;border-radius:6px}
footer{color:#5b6773;font-size:.85rem;text-align:center;padding:20px}
"""

FILTER_JS = """// Search box of the catalogue index: hides the cards that do not match (the list works without it).
(function () {
  var box = document.getElementById("recherche");
  if (!box) { return; }
  box.hidden = false;
  var label = document.getElementById("recherche-label");
  if (label) { label.hidden = false; }
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card[data-texte]"));
  var count = document.getElementById("compte");
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().normalize("NFD").replace(/[\\u0300-\\u036f]/g, "").split(/\\s+/)
      .filter(Boolean);
    var shown = 0;
    cards.forEach(function (card) {
      var text = card.getAttribute("data-texte");
      var match = words.every(function (w) { return text.indexOf(w) >= 0; });
      card.hidden = !match;
      if (match) { shown += 1; }
    });
    if (count) { count.textContent = shown + " jeu(x) de données affiché(s)"; }
  });
})();
"""


@dataclass
class SiteInputs:
    catalog: Catalog
    lineage: Mapping[str, Effective]
    deps: Mapping[str, Iterable[str]]
    config: PortalConfig
    access: AccessConfig
    reports_dir: Path
    data_root: Path
    generated: datetime
    request_command: str = "energy-pipelines access request"


@dataclass
class SiteReport:
    index: Path
    pages: list[Path] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    csv_written: list[str] = field(default_factory=list)
    csv_unchanged: int = 0


def page(title: str, body: str, depth: int, config: PortalConfig, generated: datetime) -> str:
    up = "../" * depth
    return (
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{e(title)} — {e(config.title)}</title><link rel=\"stylesheet\" href=\"{up}style.css\"></head>\n"
        f"<body><a class=\"skip\" href=\"#contenu\">Aller au contenu</a>"
        f"<header class=\"site\"><a href=\"{up}index.html\">{e(config.title)}</a>"
        f"<nav aria-label=\"Navigation principale\" style=\"margin-top:6px\"><a href=\"{up}index.html\">Catalogue</a>"
        f"<a href=\"{up}usages/index.html\">Cas d'usage</a></nav></header>"
        f"<main id=\"contenu\">{body}</main>"
        f"<footer>Page générée le {e(fmt.moment(generated))} (heure de Paris).</footer>"
        f"<script src=\"{up}filtre.js\"></script></body></html>\n")


def badge(kind: Mapping, key: object) -> str:
    label, css, _ = kind.get(key, kind.get(None, (str(key), "none", "")))
    return f'<span class="badge {css}">{e(label)}</span>'


# -- one product --------------------------------------------------------------------------------------------


@dataclass
class ProductView:
    product: PublishedProduct
    eff: Effective | None
    quality: Quality
    upstream_quality: list[Quality]
    use_cases: tuple[str, ...]
    theme: str | None
    owners: list[tuple[str, str, str | None]]  # id, name, url
    publishers: list[tuple[str, str, str | None]]
    coverage: tuple[datetime, datetime] | None

    @property
    def name(self) -> str:
        return self.product.name


def _contributors(product: PublishedProduct, role: str) -> list[tuple[str, str, str | None]]:
    return [(c.get("organization", ""), c.get("title", ""), c.get("path"))
            for c in product.datapackage.get("contributors", []) if c.get("role") == role]


def _coverage(source, product: PublishedProduct, time_column: str | None) -> tuple[datetime, datetime] | None:
    """Earliest and latest instant held: Parquet statistics on the mirror, the files' periods otherwise."""
    lows, highs = [], []
    for res in product.parquet:
        if isinstance(source, MirrorSource) and time_column and product.folder is not None:
            meta = pq.ParquetFile(product.folder / res.url).metadata
            try:
                col = meta.schema.to_arrow_schema().get_field_index(time_column)
            except KeyError:
                col = -1
            for g in range(meta.num_row_groups):
                stats = meta.row_group(g).column(col).statistics if col >= 0 else None
                if stats is not None and stats.has_min_max:
                    lows.append(pd.Timestamp(stats.min).tz_convert(UTC).to_pydatetime())
                    highs.append(pd.Timestamp(stats.max).tz_convert(UTC).to_pydatetime())
        elif res.period:
            lows.append(res.period[0])
            highs.append(res.period[1])
    return (min(lows), max(highs)) if lows else None


def _quality_section(view: ProductView) -> str:
    q = view.quality
    rows = []
    for item in [q, *view.upstream_quality]:
        latest = item.latest or {}
        when = latest.get("validated_at", "")
        try:
            when = fmt.moment(datetime.strptime(when, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)) if when else "—"
        except ValueError:
            pass
        failed = ", ".join(latest.get("failed_rules", [])) or "—"
        history = ", ".join(f"{n} {QUALITY.get(v, (v,))[0].lower()}" for v, n in sorted(item.counts.items())) or "—"
        rows.append(f"<tr><td><code>{e(item.dataset)}</code></td><td>{badge(QUALITY, item.verdict)}</td>"
                    f"<td>{e(when)}</td><td>{e(latest.get('window', '—'))}</td><td>{e(failed)}</td><td>{e(history)}</td></tr>")
    return (f"<h2 id=\"qualite\">Qualité</h2><p>{badge(QUALITY, q.verdict)} {e(QUALITY.get(q.verdict, QUALITY[None])[2])} "
            "Le contrôle bloquant est la suite d'attentes (Great Expectations) du jeu : un échec retient les fichiers "
            "concernés hors du portail. Les jeux amont sont contrôlés de la même façon.</p>"
            "<table><caption class=\"muted\">Derniers contrôles bloquants du produit et de ses sources</caption>"
            "<thead><tr><th>jeu de données</th><th>résultat</th><th>contrôlé le</th><th>période contrôlée</th>"
            "<th>règles en échec</th><th>contrôles récents</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _schema_section(product: PublishedProduct) -> str:
    rows = []
    for f in product.fields:
        cons = f.get("constraints") or {}
        notes = []
        if cons.get("required"):
            notes.append("obligatoire")
        if "minimum" in cons:
            notes.append(f"≥ {fmt.number(cons['minimum'], 2 if cons['minimum'] % 1 else 0)}")
        if "maximum" in cons:
            notes.append(f"≤ {fmt.number(cons['maximum'], 2 if cons['maximum'] % 1 else 0)}")
        if "enum" in cons:
            notes.append("valeurs : " + ", ".join(map(str, cons["enum"])))
        rows.append(f"<tr><td><code>{e(f['name'])}</code></td><td>{e(TYPES.get(f.get('type'), f.get('type')))}</td>"
                    f"<td>{e(f.get('unit') or '—')}</td><td>{e(f.get('description'))}</td><td>{e('; '.join(notes))}</td></tr>")
    if not rows:
        return "<h2 id=\"schema\">Schéma</h2><p>Le schéma n'a pas été publié avec ce jeu.</p>"
    key = ", ".join(next((r.get("schema", {}).get("primaryKey", []) for r in product.datapackage.get("resources", [])),
                         []))
    return ("<h2 id=\"schema\">Schéma</h2>"
            + (f"<p>Clé primaire : <code>{e(key)}</code>. Les instants sont en UTC ; les colonnes <code>*_local</code> "
               "les donnent en heure de Paris.</p>" if key else "")
            + "<table><thead><tr><th>colonne</th><th>type</th><th>unité</th><th>description</th><th>contraintes</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _snippets(view: ProductView, hrefs: list[str], remote: bool) -> str:
    if not hrefs:
        return ""
    if remote:
        listing = ",\n    ".join(f"'{h}'" for h in hrefs)
        duck = f"INSTALL httpfs; LOAD httpfs;\nSELECT *\nFROM read_parquet([\n    {listing}\n])\nLIMIT 10;"
        pandas = ("import pandas as pd\n\nurls = [\n    " + ",\n    ".join(f'"{h}"' for h in hrefs)
                  + ",\n]\ndf = pd.concat((pd.read_parquet(u) for u in urls), ignore_index=True)")
        where = "depuis le portail"
    else:
        folder = hrefs[0].rsplit("/", 1)[0]
        duck = f"SELECT *\nFROM read_parquet('{folder}/*.parquet')\nLIMIT 10;"
        pandas = ("import glob\nimport pandas as pd\n\n"
                  f"files = sorted(glob.glob(\"{folder}/*.parquet\"))\n"
                  "df = pd.concat((pd.read_parquet(f) for f in files), ignore_index=True)")
        where = "depuis le dossier publié (celui qui contient cette page <code>index.html</code>)"
    return (f"<h2 id=\"lire\">Lire les données</h2><p>Avec DuckDB ou pandas, {where} :</p>"
            f"<h3>DuckDB</h3><pre><code>{e(duck)}</code></pre><h3>pandas</h3><pre><code>{e(pandas)}</code></pre>"
            "<p class=\"muted\">Les colonnes horaires sont des instants UTC (<code>timestamp[us, UTC]</code>) ; "
            "convertissez-les en heure de Paris pour l'affichage (<code>tz_convert(\"Europe/Paris\")</code>).</p>")


def _request_box(view: ProductView, inputs: SiteInputs) -> str:
    owners = view.eff.owners if view.eff else tuple(o for o, _, _ in view.owners)
    parties = [inputs.catalog.organisations[o].name if o in inputs.catalog.organisations else o for o in owners]
    approvers = [f"{p} ({', '.join(a.name for a in inputs.access.owners.get(o, ()))})"
                 if inputs.access.owners.get(o) else p for o, p in zip(owners, parties, strict=True)]
    approvers.append(inputs.access.steering_committee.name)
    command = (f"{inputs.request_command} --product {view.name} --name \"Prénom Nom\" --email vous@exemple.fr "
               "--organisation \"Votre organisme\" --portal-user votre_identifiant "
               "--purpose \"À quoi serviront les données\" --days 90")
    return ("<h2 id=\"demander\">Demander l'accès</h2><div class=\"box\"><p>Ce jeu de données est <strong>restreint</strong> : "
            "il n'est pas téléchargeable librement. Vous pouvez demander à y accéder pour une durée limitée "
            f"(au plus {inputs.access.max_duration_days} jours). La demande indique qui vous êtes, votre organisme, "
            "l'usage prévu et la durée souhaitée.</p><p>Elle doit être acceptée par :</p><ul>"
            + "".join(f"<li>{e(a)}</li>" for a in approvers)
            + "</ul><p>Un seul refus clôt la demande ; le refus dit qui a refusé et pourquoi. Une fois tous les accords "
            "reçus, votre compte du portail reçoit l'accès en lecture à ce jeu jusqu'à la date d'échéance, puis l'accès "
            "est retiré automatiquement. Chaque étape est tracée dans un journal d'audit.</p>"
            "<p>L'équipe de la plateforme enregistre la demande ainsi :</p>"
            f"<pre><code>{e(command)}</code></pre></div>")


def _downloads(view: ProductView, source, inputs: SiteInputs, root: Path, csvs: Mapping[str, str]) -> tuple[str, list[str]]:
    hrefs = []
    rows = []
    for res in view.product.parquet:
        href = source.href(view.product, res, root)
        link = href if "://" in href else f"../{href}"
        hrefs.append(href)
        period = fmt.month(res.period[0]) if res.period else "toute la période"
        csv = csvs.get(res.name)
        csv_cell = f"<a href=\"../{e(csv)}\">CSV</a>" if csv else "—"
        rows.append(f"<tr><td>{e(period)}</td><td><a href=\"{e(link)}\">{e(res.name)}</a></td>"
                    f"<td class=\"num\">{e(fmt.size(res.size))}</td><td>{csv_cell}</td>"
                    f"<td><code title=\"empreinte SHA-256\">{e((res.sha256 or '')[:12])}</code></td></tr>")
    dp = next((r for r in view.product.resources if r.name == "datapackage.json"), None)
    dp_link = ""
    if dp is not None:
        href = source.href(view.product, dp, root)
        dp_link = (f"<p>Description complète (schéma, sources, licence) au format Frictionless : "
                   f"<a href=\"{e(href if '://' in href else '../' + href)}\">datapackage.json</a>.</p>")
    if not rows:
        return "<h2 id=\"telecharger\">Télécharger</h2><p>Aucun fichier n'est encore publié pour ce jeu.</p>" + dp_link, []
    return ("<h2 id=\"telecharger\">Télécharger</h2><p>Un fichier Parquet par mois (heure de Paris) pour les outils "
            "d'analyse, et sa copie CSV pour un tableur (séparateur point-virgule, virgule décimale, UTF-8).</p>"
            "<table><thead><tr><th>période</th><th>Parquet</th><th>taille</th><th>tableur</th><th>SHA-256</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table>" + dp_link), hrefs


def product_page(view: ProductView, source, inputs: SiteInputs, root: Path, csvs: Mapping[str, str],
                 use_case_titles: Mapping[str, str]) -> str:
    p = view.product
    spec = inputs.catalog[p.name] if p.name in inputs.catalog else None
    lic = p.datapackage.get("licenses") or []
    licence = (f"<a href=\"{e(lic[0]['path'])}\">{e(lic[0].get('title') or lic[0]['name'])}</a>" if lic and lic[0].get("path")
               else e(lic[0].get("title") or lic[0]["name"]) if lic else e(p.license_id or "non précisée"))
    attribution = p.datapackage.get("attribution")

    def orgs(items):
        return ", ".join(f"<a href=\"{e(u)}\">{e(n)}</a>" if u else e(n) for _, n, u in items) or "—"

    access_label, _, access_text = ACCESS.get(p.access, ACCESS["closed"])
    ucs = ", ".join(f"<a href=\"../usages/{e(u)}.html\">{e(use_case_titles.get(u, u))}</a>" for u in view.use_cases)
    facts = [("Identifiant", f"<code>{e(p.name)}</code>"), ("Propriétaires des données", orgs(view.owners)),
             ("Diffuseurs", orgs(view.publishers)), ("Licence", licence),
             ("Accès", f"{badge(ACCESS, p.access)} {e(access_text)}"),
             ("Mise à jour", e(FREQUENCY.get(spec.partitioning, "—") if spec else "—")),
             ("Dernière mise à jour", e(fmt.moment(p.modified)) if p.modified else "—"),
             ("Couverture temporelle", e(fmt.span(*view.coverage)) if view.coverage else "—"),
             ("Qualité", f"<a href=\"#qualite\">{badge(QUALITY, view.quality.verdict)}</a>")]
    if ucs:
        facts.append(("Cas d'usage", ucs))
    if view.theme:
        facts.append(("Thème", e(inputs.config.themes.get(view.theme, view.theme))))
    body = [f"<p class=\"muted\"><a href=\"../index.html\">Catalogue</a> › {e(p.title)}</p>",
            f"<h1>{e(p.title)}</h1><p class=\"lead\">{e(p.notes)}</p>",
            "<dl class=\"facts\">" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"]
    if attribution:
        body.append(f"<p class=\"muted\">Mention obligatoire en cas de réutilisation : {e(attribution)}.</p>")
    hrefs: list[str] = []
    if p.access == "open" and not p.private:
        section, hrefs = _downloads(view, source, inputs, root, csvs)
        body.append(section)
    else:
        body.append(_request_box(view, inputs))
    body.append(_quality_section(view))
    body.append(_schema_section(p))
    upstream = (view.eff.upstream if view.eff else tuple(p.datapackage.get("energy_pipelines", {}).get("derived_from", [])))
    sources = [s for s in p.datapackage.get("sources", [])]
    body.append("<h2 id=\"lignage\">Lignage</h2><p>D'où viennent ces données : chaque boîte est un jeu de la plateforme, "
                "de la donnée brute (à gauche) au produit publié (à droite). La bordure dit le niveau d'accès : vert ouvert, "
                "orange restreint, rouge fermé ; seule une étape déclarée d'anonymisation ou de secret statistique peut "
                "l'ouvrir.</p>"
                f"<div class=\"lineage\"><img src=\"../lineage/{e(p.name)}.svg\" alt=\"Schéma du lignage de {e(p.title)} : "
                f"{len(upstream)} jeux en amont, dont {len(sources)} sources brutes ({e(', '.join(s['name'] for s in sources))}).\">"
                "</div>"
                + ("<p>Sources brutes : " + ", ".join(f"<code>{e(s['name'])}</code>" for s in sources) + ".</p>" if sources else ""))
    if hrefs:
        body.append(_snippets(view, hrefs, remote="://" in hrefs[0]))
    return page(p.title, "".join(body), 1, inputs.config, inputs.generated)


def _node_caption(dataset: str, inputs: SiteInputs) -> str:
    spec = inputs.catalog[dataset]
    if spec.step is not None:
        return STEP.get(spec.step.kind, spec.step.kind)
    eff = inputs.lineage.get(dataset)
    owners = [spec.owner] if spec.owner else list(eff.owners if eff else ())
    names = [inputs.catalog.organisations[o].name.split(" (")[0] for o in owners if o in inputs.catalog.organisations]
    return ", ".join(names)


def lineage_document(product: str, inputs: SiteInputs, title: str) -> str:
    eff = inputs.lineage.get(product)
    members = {product, *(eff.upstream if eff else ())}
    nodes = {}
    for d in members:
        if d not in inputs.catalog:
            continue
        d_eff = inputs.lineage.get(d)
        nodes[d] = Node(d, inputs.catalog[d].layer, _node_caption(d, inputs), d_eff.access if d_eff else "closed")
    edges = sorted((p, d) for d in nodes for p in inputs.deps.get(d, ()) if p in nodes)
    if not edges and eff:  # no graph given: every upstream feeds the product
        edges = [(u, product) for u in eff.upstream if u in nodes]
    return lineage_svg(product, nodes, edges, f"Lignage de {title}")


# -- CSV for spreadsheets -----------------------------------------------------------------------------------


def write_csv(table, target: Path) -> None:
    """Parquet -> CSV a French spreadsheet opens as is: ';', decimal comma, UTF-8 with BOM, instants in ISO UTC."""
    frame = table.to_pandas()
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            frame[col] = frame[col].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    write_atomic(target, lambda tmp: frame.to_csv(tmp, sep=";", decimal=",", index=False, encoding="utf-8-sig"))


def _csvs(view: ProductView, source, root: Path, report: SiteReport) -> dict[str, str]:
    """One CSV per open Parquet file, rewritten only when the Parquet's sha256 changed."""
    out = {}
    folder = root / "telechargements" / view.name
    keep = set()
    for res in view.product.parquet:
        name = res.name.removesuffix(".parquet") + ".csv"
        target, stamp = folder / name, folder / f".{name}.sha256"
        keep |= {name, stamp.name}
        if not (target.exists() and stamp.exists() and stamp.read_text().strip() == (res.sha256 or "")):
            write_csv(source.read(view.product, res), target)
            write_text_atomic(stamp, res.sha256 or "")
            report.csv_written.append(f"{view.name}/{name}")
        else:
            report.csv_unchanged += 1
        out[res.name] = f"telechargements/{view.name}/{name}"
    if folder.exists():
        for stale in folder.iterdir():
            if stale.name not in keep and not stale.name.endswith(".tmp"):
                stale.unlink()
    return out


# -- index and facets ---------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def _card(view: ProductView, inputs: SiteInputs, up: str, use_case_titles: Mapping[str, str]) -> str:
    p = view.product
    owners = ", ".join(n for _, n, _ in view.owners)
    ucs = ", ".join(use_case_titles.get(u, u) for u in view.use_cases)
    theme = inputs.config.themes.get(view.theme or "", "Autres")
    text = _fold(" ".join([p.name, p.title, p.notes, owners, ucs, theme]))
    return (f"<li class=\"card\" data-texte=\"{e(text)}\"><h3><a href=\"{up}catalogue/{e(p.name)}.html\">{e(p.title)}</a></h3>"
            f"<p>{badge(ACCESS, p.access)}{badge(QUALITY, view.quality.verdict)}</p>"
            f"<p class=\"muted\">Propriétaires : {e(owners or '—')}<br>Cas d'usage : {e(ucs or '—')}<br>Thème : {e(theme)}"
            f"<br>Mis à jour : {e(fmt.moment(p.modified) if p.modified else '—')}</p></li>")


def _facets(views: list[ProductView], inputs: SiteInputs, up: str,
            use_case_titles: Mapping[str, str]) -> tuple[str, dict[str, tuple[str, list[ProductView]]]]:
    groups: dict[str, tuple[str, list[ProductView]]] = {}
    for v in views:
        for u in v.use_cases:
            groups.setdefault(f"usage-{u}", (f"Cas d'usage : {use_case_titles.get(u, u)}", []))[1].append(v)
        for o, n, _ in v.owners:
            groups.setdefault(f"proprietaire-{fmt.slug(o)}", (f"Propriétaire : {n}", []))[1].append(v)
        theme = v.theme or "autres"
        groups.setdefault(f"theme-{fmt.slug(theme)}", (f"Thème : {inputs.config.themes.get(theme, 'Autres')}", []))[1].append(v)
    html = []
    for prefix, heading in (("usage-", "Par cas d'usage"), ("proprietaire-", "Par propriétaire"), ("theme-", "Par thème")):
        items = sorted((k, t, vs) for k, (t, vs) in groups.items() if k.startswith(prefix))
        html.append(f"<div><h3>{heading}</h3><ul>" + "".join(
            f"<li><a href=\"{up}filtres/{e(k)}.html\">{e(t.split(' : ', 1)[1])}</a> ({len(vs)})</li>" for k, t, vs in items)
            + "</ul></div>")
    return "<nav class=\"facets\" aria-label=\"Filtrer le catalogue\">" + "".join(html) + "</nav>", groups


def index_page(views: list[ProductView], inputs: SiteInputs, use_case_titles: Mapping[str, str]) -> str:
    facets, _ = _facets(views, inputs, "", use_case_titles)
    cards = "".join(_card(v, inputs, "", use_case_titles) for v in views)
    restricted = sum(1 for v in views if v.product.access != "open")
    body = (f"<h1>{e(inputs.config.title)}</h1><p class=\"lead\">{e(inputs.config.subtitle)}</p>"
            f"<p>{len(views)} jeux de données publiés, dont {restricted} en accès restreint (sur demande). "
            "<a href=\"usages/index.html\">Voir les cas d'usage</a>.</p>" + facets
            + "<h2>Tous les jeux de données</h2>"
            "<p><label id=\"recherche-label\" for=\"recherche\" hidden>Rechercher un jeu de données : </label>"
            "<input id=\"recherche\" type=\"search\" placeholder=\"signal, prévision, Enedis, autoconsommation…\" hidden></p>"
            f"<p id=\"compte\" class=\"muted\" aria-live=\"polite\">{len(views)} jeu(x) de données affiché(s)</p>"
            f"<ul class=\"cards\">{cards}</ul>")
    return page("Catalogue", body, 0, inputs.config, inputs.generated)


def facet_page(title: str, views: list[ProductView], inputs: SiteInputs, use_case_titles: Mapping[str, str]) -> str:
    cards = "".join(_card(v, inputs, "../", use_case_titles) for v in views)
    body = (f"<p class=\"muted\"><a href=\"../index.html\">Catalogue</a> › {e(title)}</p><h1>{e(title)}</h1>"
            f"<p>{len(views)} jeu(x) de données.</p><ul class=\"cards\">{cards}</ul>")
    return page(title, body, 1, inputs.config, inputs.generated)


# -- the whole site -----------------------------------------------------------------------------------------


def _views(source, inputs: SiteInputs) -> list[ProductView]:
    views = []
    for p in source.products():
        eff = inputs.lineage.get(p.name)
        spec = inputs.catalog[p.name] if p.name in inputs.catalog else None
        placement = inputs.config.products.get(p.name)
        upstream_checked = [u for u in (eff.upstream if eff else ()) if u in inputs.catalog]
        views.append(ProductView(
            product=p, eff=eff, quality=quality_of(inputs.reports_dir, p.name),
            upstream_quality=[quality_of(inputs.reports_dir, u) for u in upstream_checked],
            use_cases=placement.use_cases if placement else (), theme=placement.theme if placement else None,
            owners=_contributors(p, "owner"), publishers=_contributors(p, "publisher"),
            coverage=_coverage(source, p, spec.time_column if spec else None)))
    return sorted(views, key=lambda v: (v.product.title.lower(), v.name))


def build_site(source, root: Path | str, inputs: SiteInputs) -> SiteReport:
    """Write the whole site under `root` (the mirror folder); stale pages of removed products are deleted."""
    from energy_pipelines.portal import usecases

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    views = _views(source, inputs)
    titles = {k: uc.title for k, uc in inputs.config.use_cases.items()}
    report = SiteReport(index=root / "index.html", products=[v.name for v in views])
    written: dict[Path, str] = {}

    def put(rel: str, text: str) -> None:
        written[root / rel] = text

    put("style.css", CSS)
    put("filtre.js", FILTER_JS)
    for v in views:
        csvs = _csvs(v, source, root, report) if v.product.access == "open" and not v.product.private else {}
        put(f"catalogue/{v.name}.html", product_page(v, source, inputs, root, csvs, titles))
        put(f"lineage/{v.name}.svg", lineage_document(v.name, inputs, v.product.title))
    if (root / "telechargements").exists():  # CSVs of products no longer public
        public = {v.name for v in views if v.product.access == "open" and not v.product.private}
        for folder in (root / "telechargements").iterdir():
            if folder.is_dir() and folder.name not in public:
                shutil.rmtree(folder)
    _, groups = _facets(views, inputs, "", titles)
    for key, (title, members) in groups.items():
        put(f"filtres/{key}.html", facet_page(title, members, inputs, titles))
    for rel, text in usecases.pages(source, views, inputs, root).items():
        put(rel, text)
    put("index.html", index_page(views, inputs, titles))
    for path, text in written.items():
        write_text_atomic(path, text)
    report.pages = sorted(p for p in written if p.suffix == ".html")
    # pages of products or facets that no longer exist
    for sub in ("catalogue", "filtres", "lineage", "usages"):
        for old in (root / sub).rglob("*"):
            if old.is_file() and old not in written and not old.name.startswith("."):
                old.unlink()
    return report


def approvers_for(products: Iterable[str], inputs: SiteInputs) -> dict[str, str]:
    """party -> display name, for the request box (owners of the products' lineage and the committee)."""
    parties = {}
    for p in products:
        eff = inputs.lineage.get(p)
        for o in (eff.owners if eff else ()):
            parties[o] = inputs.catalog.organisations[o].name
    parties[COMMITTEE] = inputs.access.steering_committee.name
    return parties


__all__ = ["SiteInputs", "SiteReport", "build_site", "write_csv", "lineage_document", "Resource"]
