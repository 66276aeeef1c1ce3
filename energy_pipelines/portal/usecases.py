"""Use-case pages of the catalogue site, for readers who are not data engineers.

- UC2: the green charging signal of today per station, what the colours mean, the next 48 hours;
- UC3: one page per territory with its self-consumption and self-production rates by hour (the
  latest day) and by month, and the forecast week;
- UC1, UC4, UC5: what the use case is, its products, and its dashboard where one exists (copied
  into the site when it is open; named only when it is restricted).

Everything is read from the published files (what any reuser gets), never from the warehouse.
A value masked by statistical secrecy is drawn as a gap and counted, never as zero. A chart with
nothing to draw is replaced by a sentence saying so.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import datetime

import pandas as pd
import pyarrow as pa

from energy_pipelines.clock import PARIS, UTC, half_hours, paris_day_bounds
from energy_pipelines.portal import fmt
from energy_pipelines.portal.fmt import e
from energy_pipelines.portal.svg import COLOURS, Series, bar_chart, colour_strip, line_chart

SIGNAL, FORECAST = "out_uc2__green_signal", "out_uc2__signal_forecast"
HOURLY, MONTHLY, UC3_FORECAST = "out_uc3__rates_hourly", "out_uc3__rates_monthly", "out_uc3__forecasts"
COLOUR_WORDS = {"green": ("Vert", "le bon moment pour recharger : l'électricité du réseau local est abondante et "
                                   "renouvelable"),
                "orange": ("Orange", "recharge possible, mais mieux vaut attendre un créneau vert si vous le pouvez"),
                "red": ("Rouge", "à éviter : le réseau local dépend surtout d'électricité importée ou carbonée"),
                None: ("Gris", "pas de donnée pour ce créneau")}



def _area_occupancy(row) -> str:
    """Free charge points of the station's occupancy area (never per small station), or why there is none."""
    free, total = getattr(row, "area_n_free", None), getattr(row, "area_n_charge_points", None)
    if free is None or total is None or pd.isna(free) or pd.isna(total):
        return getattr(row, "occupancy_reason", None) or "non publiée"
    return f"{int(free)} / {int(total)} ({getattr(row, 'occupancy_area', '') or 'zone'})"

def _figure(chart_id: str, caption: str, svg: str | None, table: str, empty: str, note: str = "") -> str:
    if svg is None:
        return (f"<figure id=\"{e(chart_id)}\"><figcaption>{e(caption)}</figcaption>"
                f"<p class=\"vide\">{e(empty)}</p></figure>")
    return (f"<figure id=\"{e(chart_id)}\"><figcaption>{e(caption)}</figcaption>{svg}"
            + (f"<p class=\"muted\">{e(note)}</p>" if note else "")
            + f"<details><summary>Voir les données</summary>{table}</details></figure>")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</tbody></table>")


def _legend() -> str:
    return ("<p class=\"legend\">" + "".join(
        f"<span><span class=\"swatch\" style=\"background:{COLOURS[c]}\"></span><strong>{e(w)}</strong> : {e(t)}</span><br>"
        for c, (w, t) in COLOUR_WORDS.items()) + "</p>")


def _read_latest(source, views: Mapping, name: str, files: int = 1) -> pd.DataFrame | None:
    view = views.get(name)
    if view is None or view.product.access != "open" or not view.product.parquet:
        return None
    tables = [source.read(view.product, r) for r in view.product.parquet[-files:]]
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def _read_all(source, views: Mapping, name: str) -> pd.DataFrame | None:
    view = views.get(name)
    if view is None or view.product.access != "open" or not view.product.parquet:
        return None
    return pa.concat_tables([source.read(view.product, r) for r in view.product.parquet],
                            promote_options="permissive").to_pandas()


def _hour_ticks(times: list[datetime], every_h: int) -> list[tuple[int, str]]:
    out = []
    for i, t in enumerate(times):
        p = t.astimezone(PARIS)
        if p.minute == 0 and p.hour % every_h == 0:
            out.append((i, f"{p.hour} h"))
    return out


def _source_line(views: Mapping, *names: str, up: str = "../") -> str:
    links = [f"<a href=\"{up}catalogue/{e(n)}.html\">{e(views[n].product.title)}</a>" for n in names if n in views]
    return f"<p class=\"muted\">Données : {', '.join(links)}.</p>" if links else ""


# -- UC2 ---------------------------------------------------------------------------------------------------


def uc2_page(source, views: Mapping, now: datetime) -> str:
    body = ["<p class=\"lead\">Chaque borne de recharge du réseau SyMEnergie05 (Hautes-Alpes) reçoit toutes les 30 minutes "
            "une couleur qui dit si c'est le bon moment pour recharger un véhicule électrique.</p>", _legend()]
    signal = _read_latest(source, views, SIGNAL, files=2)
    if signal is None or signal.empty:
        body.append("<p class=\"vide\">Le signal n'est pas encore publié.</p>")
    else:
        signal["datetime_utc"] = pd.to_datetime(signal["datetime_utc"], utc=True)
        today = now.astimezone(PARIS).date()
        days = signal["datetime_utc"].dt.tz_convert(PARIS).dt.date
        shown = today if (days == today).any() else days.max()
        if shown != today:
            body.append(f"<p class=\"box\">Pas encore de signal publié pour aujourd'hui ({e(fmt.day(today))}) : voici la "
                        f"dernière journée publiée, le {e(fmt.day(shown, weekday=True))}.</p>")
        lo, hi = paris_day_bounds(shown)
        day = signal[(signal["datetime_utc"] >= lo) & (signal["datetime_utc"] < hi)]
        slots = half_hours(lo, hi)
        stations = sorted(day["id_station_itinerance"].unique())
        by = {(r.id_station_itinerance, r.datetime_utc.to_pydatetime()): r for r in day.itertuples(index=False)}
        rows = []
        for st in stations:
            cells = []
            for t in slots:
                r = by.get((st, t))
                colour = r.colour if r is not None and isinstance(r.colour, str) else None
                cells.append((colour, f"{st} — {fmt.clock(t)} : {COLOUR_WORDS.get(colour, COLOUR_WORDS[None])[0]}"))
            rows.append((st, cells))
        svg = colour_strip("signal-jour", f"Signal par borne, {fmt.day(shown)}", rows, _hour_ticks(slots, 3))
        # the signal now (or at the latest published half-hour of the day)
        present = day[day["datetime_utc"] <= pd.Timestamp(now)]
        at = (present if not present.empty else day)["datetime_utc"].max()
        current = day[day["datetime_utc"] == at].sort_values("id_station_itinerance")
        table_rows = [[f"<code>{e(r.id_station_itinerance)}</code>", e(r.code_insee_commune or "—"),
                       f"<span class=\"swatch\" style=\"background:{COLOURS.get(r.colour if isinstance(r.colour, str) else None)}\">"
                       f"</span>{e(COLOUR_WORDS.get(r.colour if isinstance(r.colour, str) else None)[0])}",
                       e(_area_occupancy(r)), e(fmt.number(r.regional_green_share_pct, 0, '%'))]
                      for r in current.itertuples(index=False)]
        body.append(f"<h2>Le signal à {e(fmt.clock(at.to_pydatetime()))} ({e(fmt.day(shown))})</h2>")
        body.append(_table(["borne (identifiant IRVE)", "commune (code INSEE)", "signal",
                            "points de charge libres dans la zone", "part verte du mix régional"], table_rows))
        body.append("<p class=\"note\">L'occupation n'est publiée que par zone (commune ou poste source) d'au moins "
                    "5 points de charge dans 2 bornes : à une petite borne, elle révélerait les sessions d'une "
                    "personne.</p>")
        body.append(_figure("figure-signal-jour", f"Le signal de la journée, demi-heure par demi-heure ({len(stations)} bornes)",
                            svg, _table(["borne", "créneaux verts", "orange", "rouges", "sans donnée"], [
                                [f"<code>{e(st)}</code>", *(str(sum(1 for c, _ in cells if c == k)) for k in ("green", "orange", "red", None))]
                                for st, cells in rows]), "Aucune borne n'a de signal publié ce jour-là.",
                            "Heures de Paris. Survolez une case pour lire l'heure et la couleur."))
    forecast = _read_latest(source, views, FORECAST, files=1)
    body.append("<h2>Les prochaines 48 heures</h2>")
    if forecast is None or forecast.empty:
        body.append("<p class=\"vide\">La prévision n'est pas encore publiée.</p>")
    else:
        forecast["issued_at_utc"] = pd.to_datetime(forecast["issued_at_utc"], utc=True)
        forecast["target_utc"] = pd.to_datetime(forecast["target_utc"], utc=True)
        issue = forecast[forecast["issued_at_utc"] == forecast["issued_at_utc"].max()]
        targets = sorted(issue["target_utc"].unique())
        slots = [pd.Timestamp(t).to_pydatetime() for t in targets]
        by = {(r.id_station_itinerance, r.target_utc.to_pydatetime()): r for r in issue.itertuples(index=False)}
        rows = [(st, [((by[(st, t)].expected_colour if (st, t) in by else None),
                       f"{st} — {fmt.moment(t)} : {COLOUR_WORDS.get(by[(st, t)].expected_colour if (st, t) in by else None)[0]}"
                       + (f", probabilité de vert {fmt.number(100 * by[(st, t)].p_green, 0, '%')}" if (st, t) in by else ""))
                      for t in slots]) for st in sorted(issue["id_station_itinerance"].unique())]
        ticks = [(i, (f"{fmt.DAYS[t.astimezone(PARIS).weekday()][:3]}. " if t.astimezone(PARIS).hour == 0 else "")
                  + f"{t.astimezone(PARIS).hour} h") for i, t in enumerate(slots)
                 if t.astimezone(PARIS).minute == 0 and t.astimezone(PARIS).hour % 6 == 0]
        strip = colour_strip("prevision-48h", "Couleur attendue par borne sur 48 heures", rows, ticks)
        mean = issue.groupby("target_utc")["p_green"].mean().reindex(targets)
        labels = [f"{fmt.clock(t)}" for t in slots]
        chart = line_chart("prevision-probabilite", "Probabilité moyenne d'un signal vert", labels,
                           [Series("probabilité moyenne de vert", [100 * v for v in mean.tolist()], COLOURS["green"])],
                           unit="%", y_min=0, y_max=100, every=12)
        best = mean.sort_values(ascending=False).head(3)
        body.append(f"<p>Prévision émise le {e(fmt.moment(issue['issued_at_utc'].max().to_pydatetime()))}. "
                    "Meilleurs créneaux pour recharger : "
                    + ", ".join(f"<strong>{e(fmt.moment(pd.Timestamp(t).to_pydatetime()))}</strong> "
                                f"({e(fmt.number(100 * p, 0, '%'))} de chances de vert)" for t, p in best.items()) + ".</p>")
        body.append(_figure("figure-prevision-48h", "Couleur attendue, borne par borne", strip,
                            _table(["borne", "créneaux verts attendus", "orange", "rouges"], [
                                [f"<code>{e(st)}</code>", *(str(sum(1 for c, _ in cells if c == k)) for k in ("green", "orange", "red"))]
                                for st, cells in rows]), "Aucune prévision publiée."))
        body.append(_figure("figure-prevision-probabilite", "Probabilité moyenne d'un signal vert, toutes bornes", chart,
                            _table(["créneau (heure de Paris)", "probabilité moyenne de vert"],
                                   [[e(fmt.moment(t)), e(fmt.number(100 * p, 0, '%'))] for t, p in zip(slots, mean.tolist(), strict=True)]),
                            "Aucune prévision publiée."))
    body.append(_source_line(views, SIGNAL, FORECAST))
    return "".join(body)


# -- UC3 ---------------------------------------------------------------------------------------------------


def _masked_note(frame: pd.DataFrame) -> str:
    if "masked" not in frame or not frame["masked"].any():
        return ""
    n = int(frame["masked"].sum())
    reasons = frame.loc[frame["masked"], "mask_reason"].dropna().value_counts().head(2)
    why = "; ".join(f"{r} ({c})" for r, c in reasons.items())
    return f"{n} valeur(s) masquée(s) par le secret statistique, affichées comme absentes" + (f" : {why}" if why else "") + "."


def uc3_territory(territory: str, name: str, hourly: pd.DataFrame | None, monthly: pd.DataFrame | None,
                  forecast: pd.DataFrame | None, views: Mapping) -> str:
    body = [f"<p class=\"muted\"><a href=\"../../index.html\">Catalogue</a> › <a href=\"../uc3.html\">Autoconsommation des "
            f"territoires</a> › {e(name)}</p><h1>{e(name)}</h1>",
            "<p class=\"lead\">Le <strong>taux d'autoproduction</strong> est la part de la consommation du territoire couverte "
            "par sa propre production au même moment ; le <strong>taux d'autoconsommation</strong> est la part de sa "
            "production consommée sur place. Les deux sont calculés demi-heure par demi-heure puis cumulés.</p>"]
    # by hour: the latest Paris day
    h = hourly[hourly["territory_id"] == territory].copy() if hourly is not None else pd.DataFrame()
    svg, table, note = None, "", ""
    caption = "Taux par heure"
    if not h.empty:
        h["period_start_utc"] = pd.to_datetime(h["period_start_utc"], utc=True)
        days = h["period_start_utc"].dt.tz_convert(PARIS).dt.date
        last = days.max()
        d = h[days == last].sort_values("period_start_utc")
        labels = [f"{t.tz_convert(PARIS).hour} h" for t in d["period_start_utc"]]
        caption = f"Taux par heure, {fmt.day(last, weekday=True)}"
        svg = line_chart("uc3-heure", caption, labels, [
            Series("taux d'autoproduction", d["self_production_rate_pct"].tolist()),
            Series("taux d'autoconsommation", d["self_consumption_rate_pct"].tolist())], unit="%", y_min=0, y_max=100,
            every=3)
        table = _table(["heure (Paris)", "autoproduction", "autoconsommation", "consommation", "production"], [
            [e(fmt.moment(r.period_start_utc.to_pydatetime())), e(fmt.number(r.self_production_rate_pct, 1, "%")),
             e(fmt.number(r.self_consumption_rate_pct, 1, "%")), e(fmt.number(r.consumption_kwh, 0, "kWh")),
             e(fmt.number(r.production_kwh, 0, "kWh"))] for r in d.itertuples(index=False)])
        note = _masked_note(d)
    body.append(_figure("figure-uc3-heure", caption, svg, table, "Aucun taux horaire publié pour ce territoire.", note))
    # by month
    m = monthly[monthly["territory_id"] == territory].copy() if monthly is not None else pd.DataFrame()
    svg, table, note = None, "", ""
    if not m.empty:
        m["period_start_utc"] = pd.to_datetime(m["period_start_utc"], utc=True)
        m = m.sort_values("period_start_utc").tail(12)
        cats = [f"{fmt.MONTHS_SHORT[t.tz_convert(PARIS).month - 1]} {t.tz_convert(PARIS).year}" for t in m["period_start_utc"]]
        svg = bar_chart("uc3-mois", "Taux par mois", cats, [
            Series("taux d'autoproduction", m["self_production_rate_pct"].tolist()),
            Series("taux d'autoconsommation", m["self_consumption_rate_pct"].tolist())], unit="%", y_max=100, digits=0)
        table = _table(["mois", "autoproduction", "autoconsommation", "demi-heures complètes"], [
            [e(fmt.month(r.period_start_utc.to_pydatetime())), e(fmt.number(r.self_production_rate_pct, 1, "%")),
             e(fmt.number(r.self_consumption_rate_pct, 1, "%")),
             e(f"{r.half_hours_complete} / {r.half_hours_expected}")] for r in m.itertuples(index=False)])
        note = _masked_note(m)
    body.append(_figure("figure-uc3-mois", "Taux par mois (12 derniers mois publiés)", svg, table,
                        "Aucun mois complet n'est encore publié pour ce territoire.", note))
    # the forecast week
    f = forecast[forecast["territory_id"] == territory].copy() if forecast is not None else pd.DataFrame()
    body.append("<h2>La semaine à venir</h2>")
    if f.empty:
        body.append("<p class=\"vide\">Aucune prévision publiée pour ce territoire.</p>")
    else:
        f["issued_at_utc"] = pd.to_datetime(f["issued_at_utc"], utc=True)
        f["target_utc"] = pd.to_datetime(f["target_utc"], utc=True)
        f = f[f["issued_at_utc"] == f["issued_at_utc"].max()]
        rate = f[f["variable"] == "self_production_rate_pct"].sort_values("target_utc")
        times = [t.to_pydatetime() for t in rate["target_utc"]]
        labels = [(f"{fmt.DAYS[t.astimezone(PARIS).weekday()][:3]}. " if t.astimezone(PARIS).hour == 0 else "")
                  + f"{t.astimezone(PARIS).hour} h" for t in times]
        svg = line_chart("uc3-prevision", "Taux d'autoproduction prévu, heure par heure", labels, [
            Series("taux d'autoproduction prévu (intervalle à 80 %)", rate["yhat"].tolist(),
                   lower=rate["yhat_lower"].tolist(), upper=rate["yhat_upper"].tolist())],
            unit="%", y_min=0, y_max=100, every=12)
        body.append(f"<p>Prévision émise le {e(fmt.moment(f['issued_at_utc'].max().to_pydatetime()))}, pour les "
                    f"{len(times)} heures suivantes.</p>")
        body.append(_figure("figure-uc3-prevision", "Taux d'autoproduction prévu sur 7 jours", svg, _table(
            ["heure (Paris)", "prévu", "bas", "haut"],
            [[e(fmt.moment(r.target_utc.to_pydatetime())), e(fmt.number(r.yhat, 1, "%")), e(fmt.number(r.yhat_lower, 1, "%")),
              e(fmt.number(r.yhat_upper, 1, "%"))] for r in rate.itertuples(index=False)]),
            "La prévision du taux est masquée ou absente pour ce territoire.", _masked_note(rate)))
        series = []
        for var, label in (("consumption_kwh", "consommation prévue"), ("production_kwh", "production prévue")):
            part = f[f["variable"] == var].set_index("target_utc").reindex(rate["target_utc"])
            series.append(Series(label, part["yhat"].tolist()))
        svg = line_chart("uc3-prevision-energie", "Consommation et production prévues (kWh par heure)", labels, series,
                         unit="kWh", y_min=0, every=12)
        body.append(_figure("figure-uc3-prevision-energie", "Consommation et production prévues", svg, _table(
            ["heure (Paris)", "consommation (kWh)", "production (kWh)"],
            [[e(fmt.moment(t)), e(fmt.number(a, 0)), e(fmt.number(b, 0))]
             for t, a, b in zip(times, series[0].values, series[1].values, strict=True)]),
            "Pas de prévision d'énergie publiable pour ce territoire."))
    body.append(_source_line(views, HOURLY, MONTHLY, UC3_FORECAST, up="../../"))
    return "".join(body)


def uc3_pages(source, views: Mapping) -> tuple[str, dict[str, str], dict[str, str]]:
    """The UC3 overview body, and territory id -> (page body, name)."""
    hourly = _read_latest(source, views, HOURLY, files=1)
    monthly = _read_all(source, views, MONTHLY)
    forecast = _read_latest(source, views, UC3_FORECAST, files=1)
    names: dict[str, str] = {}
    for frame in (monthly, hourly, forecast):
        if frame is not None and not frame.empty:
            for tid, name in frame[["territory_id", "territory_name"]].drop_duplicates().itertuples(index=False):
                names.setdefault(tid, name)
    pages = {tid: uc3_territory(tid, name, hourly, monthly, forecast, views) for tid, name in sorted(names.items())}
    rows = []
    for tid, name in sorted(names.items(), key=lambda kv: kv[1]):
        last = None
        if monthly is not None and not monthly.empty:
            m = monthly[monthly["territory_id"] == tid].sort_values("period_start_utc")
            last = m.iloc[-1] if not m.empty else None
        rows.append([f"<a href=\"uc3/{e(tid)}.html\">{e(name)}</a>",
                     e(fmt.month(pd.Timestamp(last.period_start_utc).to_pydatetime()) if last is not None else "—"),
                     e(fmt.number(last.self_production_rate_pct, 1, "%") if last is not None else "n.d."),
                     e(fmt.number(last.self_consumption_rate_pct, 1, "%") if last is not None else "n.d.")])
    overview = ("<p class=\"lead\">Cinq territoires de la région : quelle part de leur consommation d'électricité est "
                "couverte par leur propre production, au même moment ? Une page par territoire.</p>"
                + (_table(["territoire", "dernier mois publié", "taux d'autoproduction", "taux d'autoconsommation"], rows)
                   if rows else "<p class=\"vide\">Aucun taux n'est encore publié.</p>")
                + _source_line(views, HOURLY, MONTHLY, UC3_FORECAST))
    return overview, pages, names


# -- every use case ----------------------------------------------------------------------------------------


def pages(source, views_list, inputs, root) -> dict[str, str]:
    """rel path -> HTML of every use-case page (and copies the open dashboards into the site)."""
    from energy_pipelines.portal.site import page

    views = {v.name: v for v in views_list}
    config = inputs.config
    out: dict[str, str] = {}
    items = []
    for uc, spec in config.use_cases.items():
        products = [v for v in views_list if uc in v.use_cases]
        parts = [f"<p class=\"muted\"><a href=\"../index.html\">Catalogue</a> › <a href=\"index.html\">Cas d'usage</a> › "
                 f"{e(spec.title)}</p><h1>{e(spec.title)}</h1>"]
        if spec.page == "uc2":
            parts.append(uc2_page(source, views, inputs.generated))
        elif spec.page == "uc3":
            overview, territories, names = uc3_pages(source, views)
            parts.append(overview)
            for tid, body in territories.items():
                out[f"usages/uc3/{tid}.html"] = page(names[tid], body, 2, config, inputs.generated)
        else:
            parts.append(f"<p class=\"lead\">{e(spec.summary)}</p>")
        dash = spec.dashboard
        if dash is not None and dash.folder:
            src = inputs.data_root / dash.folder
            if (src / "index.html").is_file():
                target = root / "tableaux-de-bord" / uc
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(src, target)
                parts.append(f"<p><a href=\"../tableaux-de-bord/{e(uc)}/index.html\">Ouvrir le tableau de bord</a> "
                             f"(copie du {e(fmt.moment(datetime.fromtimestamp((src / 'index.html').stat().st_mtime, UTC)))}).</p>")
            else:
                parts.append("<p class=\"muted\">Le tableau de bord de ce cas d'usage n'est pas encore publié.</p>")
        if dash is not None and dash.restricted_note:
            parts.append(f"<p class=\"box\">{e(dash.restricted_note)}</p>")
        if products:
            parts.append("<h2>Jeux de données</h2><ul>" + "".join(
                f"<li><a href=\"../catalogue/{e(v.name)}.html\">{e(v.product.title)}</a></li>" for v in products) + "</ul>")
        elif not spec.page:
            parts.append("<p class=\"muted\">Aucun jeu de données de ce cas d'usage n'est encore publié.</p>")
        out[f"usages/{uc}.html"] = page(spec.title, "".join(parts), 1, config, inputs.generated)
        items.append(f"<li class=\"card\"><h3><a href=\"{e(uc)}.html\">{e(spec.title)}</a></h3><p>{e(spec.summary)}</p>"
                     f"<p class=\"muted\">{len(products)} jeu(x) de données publiés</p></li>")
    out["usages/index.html"] = page("Cas d'usage", "<p class=\"muted\"><a href=\"../index.html\">Catalogue</a> › Cas d'usage</p>"
                                    "<h1>Cas d'usage</h1><ul class=\"cards\">" + "".join(items) + "</ul>", 1, config,
                                    inputs.generated)
    return out


__all__ = ["pages", "uc2_page", "uc3_pages", "uc3_territory"]
