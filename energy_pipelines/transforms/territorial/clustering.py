"""Groups of similar territories (UC1): what FactoMineR's HCPC does, with scikit-learn and SciPy.

For each level (communes, EPCI) and each of three views of a year —
- `general`: what kind of territory it is: size (log10 population), INSEE density level (typology) and
  the structure of its consumption (shares of the residential, tertiary, industrial, road-transport sectors);
- `consumption`: consumption per inhabitant by sector (log1p) and the energy mix (shares of electricity,
  gas, oil products, wood);
- `production`: renewable production per inhabitant by filière (log1p) and the renewable coverage rate —

the variables are standardised, summarised by a PCA (the first `pca_components` axes, FactoMineR's
default 5), clustered by Ward's hierarchical method on those axes, the tree is cut where the relative
inertia gain is largest (FactoMineR's rule: the k in [min, max] minimising W(k) / W(k-1), W the
within-cluster inertia), and the partition is consolidated by k-means started from the Ward centres.
Each cluster is described by its v-tests (the variables whose cluster mean departs significantly from the
overall mean, FactoMineR's `catdes`/`condes`), and the partition's stability by a bootstrap: the whole
procedure is refitted on resampled units and every unit reassigned, the adjusted Rand index with the
reference partition (and Hennig's per-cluster Jaccard) summarised over the replicates.

**Published inputs only.** The function takes the indicator tables as they will be published, after the
secrecy engine: a value that is null, masked (a `masked` column) or not exact is *unusable*, never
imputed (an imputed secret would be an estimate of it, which secrecy forbids). Per view: a variable
unusable for more than `max_unusable_share` of the units is dropped (named in the figures with the
share); the partition is fitted on the units with every remaining variable usable; a unit missing some
(at most half) is assigned afterwards to the nearest cluster centre on its usable standardised
variables only (`assignment = partial`); with more missing it is left out (`excluded`, with the reason).
A cell that is absent (no row) is a true zero: the sources list what exists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from energy_pipelines.clock import Window
from energy_pipelines.sources.ore_consumption import year_start_utc
from energy_pipelines.territories import Territory, default_territories
from energy_pipelines.transforms.result import Derived
from energy_pipelines.transforms.territorial.ratios import usable
from energy_pipelines.transforms.territorial.referential import build_referential

VIEWS = ("general", "consumption", "production")
VIEW_LABELS = {"general": "caractéristiques générales", "consumption": "consommation", "production": "production"}
CONSUMPTION_SECTORS = ("residentiel", "tertiaire", "industrie", "agriculture", "transport_routier")
MIX_ENERGIES = ("electricite", "gaz", "produits_petroliers", "bois_energie")
FILIERES = ("photovoltaique", "hydraulique", "eolien", "biomasse", "biogaz", "pompes_a_chaleur", "solaire_thermique")
VARIABLE_LABELS = {
    "log10_population": "population (habitants)",
    "density_level": "niveau de densité INSEE (1 très dense à 7 rural très dispersé)",
    "share_residentiel_pct": "part du résidentiel dans la consommation (%)",
    "share_tertiaire_pct": "part du tertiaire dans la consommation (%)",
    "share_industrie_pct": "part de l'industrie dans la consommation (%)",
    "share_transport_routier_pct": "part du transport routier dans la consommation (%)",
    "residentiel_per_capita_mwh": "consommation du résidentiel par habitant (MWh)",
    "tertiaire_per_capita_mwh": "consommation du tertiaire par habitant (MWh)",
    "industrie_per_capita_mwh": "consommation de l'industrie par habitant (MWh)",
    "agriculture_per_capita_mwh": "consommation de l'agriculture par habitant (MWh)",
    "transport_routier_per_capita_mwh": "consommation du transport routier par habitant (MWh)",
    "mix_electricite_pct": "part de l'électricité dans la consommation (%)",
    "mix_gaz_pct": "part du gaz naturel dans la consommation (%)",
    "mix_produits_petroliers_pct": "part des produits pétroliers dans la consommation (%)",
    "mix_bois_energie_pct": "part du bois-énergie dans la consommation (%)",
    "prod_photovoltaique_per_capita_mwh": "production photovoltaïque par habitant (MWh)",
    "prod_hydraulique_per_capita_mwh": "production hydraulique par habitant (MWh)",
    "prod_eolien_per_capita_mwh": "production éolienne par habitant (MWh)",
    "prod_biomasse_per_capita_mwh": "production de chaleur biomasse par habitant (MWh)",
    "prod_biogaz_per_capita_mwh": "production biogaz par habitant (MWh)",
    "prod_pompes_a_chaleur_per_capita_mwh": "chaleur des pompes à chaleur par habitant (MWh)",
    "prod_solaire_thermique_per_capita_mwh": "production solaire thermique par habitant (MWh)",
    "renewable_coverage_pct": "taux de couverture renouvelable (%)",
}


def natural_scale(name: str, values: pd.Series | float):
    """Variables enter the clustering transformed (log10 population, log1p per inhabitant); people read them back."""
    if name == "log10_population":
        return 10 ** values
    if name.endswith("_per_capita_mwh"):
        return np.expm1(values)
    return values


OUTPUT_COLUMNS = ["period_start_utc", "year", "level", "territory_code", "territory_name", "view", "cluster",
                  "cluster_size", "assignment", "pc1", "pc2", "distance_to_centre", "note"]


class ClusteringParams(BaseModel):
    """assets_config/uc1/clustering.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: tuple[str, ...] = ("commune", "epci")
    min_units: int = Field(default=12, ge=4)
    min_clusters: int = Field(default=3, ge=2)
    max_clusters: int = Field(default=8, ge=2)
    pca_components: int = Field(default=5, ge=2)
    bootstrap: int = Field(default=50, ge=0)
    seed: int = 2019
    max_unusable_share: float = Field(default=0.2, ge=0, le=1)
    v_test_threshold: float = Field(default=1.96, gt=0)


# -- features ---------------------------------------------------------------------------------------

def _cells(frame: pd.DataFrame, value: str, **where) -> pd.DataFrame:
    sel = pd.Series(True, index=frame.index)
    for k, v in where.items():
        sel &= frame[k].isin(v) if isinstance(v, (list, tuple)) else frame[k] == v
    sub = frame[sel]
    return sub.assign(_v=sub[value].where(usable(sub, value)))


def _wide(cells: pd.DataFrame, column: str, categories: tuple[str, ...], units: pd.Index,
          covered: pd.Index) -> pd.DataFrame:
    """Cells -> units x categories. An absent cell is 0 (the sources list what exists), a present but
    unusable one NaN; a unit the source does not cover at all is NaN throughout."""
    out = pd.DataFrame(0.0, index=units, columns=list(categories))
    if not cells.empty:
        values = cells.pivot(index="territory_code", columns=column, values="_v")
        values = values.reindex(index=units, columns=list(categories))
        present = cells.assign(_p=1.0).pivot(index="territory_code", columns=column, values="_p")
        present = present.reindex(index=units, columns=list(categories))
        out = values.where(present.notna(), 0.0)
    out.loc[~units.isin(covered)] = np.nan
    return out


def features(level: str, year: int, indicators: pd.DataFrame, balance: pd.DataFrame,
             typology: pd.Series | None) -> dict[str, pd.DataFrame]:
    """The three views' variables of every unit of `level` in `year` (NaN = unusable)."""
    ind = indicators[(indicators["level"] == level) & (indicators["year"] == year)].set_index("territory_code")
    units = ind.index
    bal = balance[(balance["level"] == level) & (balance["year"] == year) & (balance["source"] == "cigale")]
    pop = ind["population"].astype(float)
    total_cells = _cells(bal, "energy_mwh", measure="consumption", carrier="total", sector="total")
    covered = pd.Index(total_cells["territory_code"].unique())
    total = total_cells.set_index("territory_code")["_v"].reindex(units)
    sectors = _wide(_cells(bal, "energy_mwh", measure="consumption", carrier="total", sector=list(CONSUMPTION_SECTORS)),
                    "sector", CONSUMPTION_SECTORS, units, covered)
    mix = _wide(_cells(bal, "energy_mwh", measure="consumption", sector="total", carrier=list(MIX_ENERGIES)),
                "carrier", MIX_ENERGIES, units, covered)
    prod = _wide(_cells(bal, "energy_mwh", measure="production", sector="total", carrier=list(FILIERES)),
                 "carrier", FILIERES, units, covered)
    with np.errstate(divide="ignore", invalid="ignore"):
        general = pd.DataFrame(index=units)
        general["log10_population"] = np.log10(pop.where(pop > 0))
        general["density_level"] = typology.reindex(units) if typology is not None else np.nan
        for s in ("residentiel", "tertiaire", "industrie", "transport_routier"):
            general[f"share_{s}_pct"] = 100 * sectors[s] / total
        consumption = pd.DataFrame(index=units)
        for s in CONSUMPTION_SECTORS:
            consumption[f"{s}_per_capita_mwh"] = np.log1p(sectors[s] / pop)
        for e in MIX_ENERGIES:
            consumption[f"mix_{e}_pct"] = 100 * mix[e] / total
        production = pd.DataFrame(index=units)
        for f in FILIERES:
            production[f"prod_{f}_per_capita_mwh"] = np.log1p(prod[f] / pop)
        production["renewable_coverage_pct"] = ind["renewable_coverage_pct"].astype(float)
    views = {"general": general, "consumption": consumption, "production": production}
    return {k: v.replace([np.inf, -np.inf], np.nan) for k, v in views.items()}


def typology_of(level: str, typology: pd.DataFrame | None, communes: pd.DataFrame,
                territories: dict[str, Territory]) -> pd.Series | None:
    """INSEE density level of each unit: the commune's, or the population-weighted mean over an EPCI."""
    if typology is None or typology.empty:
        return None
    latest = typology.sort_values("datetime_utc").drop_duplicates("commune_code", keep="last")
    level_of = latest.set_index("commune_code")["density_level"].astype(float)
    if level == "commune":
        return level_of
    ref = build_referential(communes, territories).communes
    ref = ref.assign(dens=ref["commune_code"].map(level_of), w=ref["population_ref"].astype(float).fillna(1.0))
    grouped = ref.dropna(subset=["epci_siren"]).groupby("epci_siren")
    # an EPCI with a commune of unknown density has an unknown mean
    complete = grouped["dens"].apply(lambda s: s.notna().all())
    mean = grouped.apply(lambda g: np.average(g["dens"], weights=g["w"]) if g["dens"].notna().all() else np.nan,
                         include_groups=False)
    return mean.where(complete)


# -- HCPC -------------------------------------------------------------------------------------------

def _within(coords: np.ndarray, labels: np.ndarray) -> float:
    return float(sum(((coords[labels == c] - coords[labels == c].mean(axis=0)) ** 2).sum()
                     for c in np.unique(labels)))


def hcpc(z: np.ndarray, params: ClusteringParams, seed: int) -> dict:
    """Standardised data -> PCA -> Ward -> cut at the largest relative inertia gain -> k-means."""
    n, p = z.shape
    pca = PCA(n_components=min(params.pca_components, p, n - 1), random_state=seed)
    coords = pca.fit_transform(z)
    tree = linkage(coords, method="ward")
    kmax = min(params.max_clusters, n - 1)
    kmin = min(params.min_clusters, kmax)
    within = {k: _within(coords, fcluster(tree, k, criterion="maxclust")) for k in range(max(1, kmin - 1), kmax + 1)}
    ratios = {k: within[k] / within[k - 1] if within[k - 1] > 0 else 1.0 for k in range(max(2, kmin), kmax + 1)}
    k = min(ratios, key=ratios.get) if ratios else 1
    ward = fcluster(tree, k, criterion="maxclust")
    centres = np.vstack([coords[ward == c].mean(axis=0) for c in np.unique(ward)])
    km = KMeans(n_clusters=len(centres), init=centres, n_init=1, random_state=seed).fit(coords)
    return {"pca": pca, "coords": coords, "k": len(centres), "labels": km.labels_, "kmeans": km,
            "within": within, "ratios": ratios}


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered 1..k from the largest."""
    sizes = pd.Series(labels).value_counts()
    order = {old: new for new, old in enumerate(sizes.index, start=1)}
    return np.array([order[x] for x in labels])


def v_tests(x: pd.DataFrame, labels: np.ndarray, threshold: float) -> dict[int, list[dict]]:
    """FactoMineR's v-test of every variable in every cluster; the significant ones, strongest first."""
    n = len(x)
    mean, var = x.mean(), x.var(ddof=0)
    out = {}
    for c in np.unique(labels):
        members = x[labels == c]
        nk = len(members)
        if nk == n:
            out[int(c)] = []
            continue
        sd = np.sqrt(var / nk * (n - nk) / (n - 1))
        v = (members.mean() - mean) / sd.replace(0, np.nan)
        sig = v[v.abs() >= threshold].sort_values(key=np.abs, ascending=False)
        # means on the scale people read (the v-test itself is on the variable as clustered)
        out[int(c)] = [{"variable": name, "label": VARIABLE_LABELS.get(name, name), "v_test": round(float(val), 2),
                        "mean_in_cluster": round(float(natural_scale(name, members[name]).mean()), 3),
                        "overall_mean": round(float(natural_scale(name, x[name]).mean()), 3)}
                       for name, val in sig.items()]
    return out


def bootstrap(z: np.ndarray, reference: np.ndarray, k: int, params: ClusteringParams) -> dict:
    """Refit on resampled units, reassign every unit; ARI with the reference and per-cluster Jaccard."""
    if params.bootstrap == 0 or len(z) < 2 * k:
        return {"replicates": 0}
    rng = np.random.default_rng(params.seed)
    aris, jac = [], {int(c): [] for c in np.unique(reference)}
    for b in range(params.bootstrap):
        idx = rng.integers(0, len(z), size=len(z))
        if len(np.unique(idx)) <= k:
            continue
        sample = z[idx]
        scaler = StandardScaler().fit(sample)
        zs = np.nan_to_num(scaler.transform(sample))
        pca = PCA(n_components=min(params.pca_components, z.shape[1], len(np.unique(idx)) - 1),
                  random_state=params.seed).fit(zs)
        coords = pca.transform(zs)
        ward = fcluster(linkage(coords, method="ward"), k, criterion="maxclust")
        centres = np.vstack([coords[ward == c].mean(axis=0) for c in np.unique(ward)])
        km = KMeans(n_clusters=len(centres), init=centres, n_init=1, random_state=params.seed).fit(coords)
        labels = km.predict(pca.transform(np.nan_to_num(scaler.transform(z))))
        aris.append(adjusted_rand_score(reference, labels))
        for c in jac:
            members = reference == c
            best = max((np.sum(members & (labels == d)) / np.sum(members | (labels == d)) for d in np.unique(labels)),
                       default=0.0)
            jac[c].append(best)
    if not aris:
        return {"replicates": 0}
    a = np.asarray(aris)
    return {"replicates": len(a), "ari_mean": round(float(a.mean()), 3), "ari_median": round(float(np.median(a)), 3),
            "ari_p10": round(float(np.quantile(a, 0.1)), 3), "ari_min": round(float(a.min()), 3),
            "jaccard_mean_by_cluster": {c: round(float(np.mean(v)), 3) for c, v in jac.items() if v}}


def cluster_view(x: pd.DataFrame, params: ClusteringParams) -> tuple[pd.DataFrame, dict]:
    """One view of one level: rows per unit (cluster, assignment, PC coordinates) and the figures."""
    units = x.index
    info: dict = {"units": len(units)}
    unusable = x.isna().mean()
    dropped = {c: f"unusable for {s:.0%} of the units" for c, s in unusable.items() if s > params.max_unusable_share}
    kept = [c for c in x.columns if c not in dropped]
    constant = [c for c in kept if x[c].dropna().nunique() <= 1]
    dropped.update({c: "constant" for c in constant})
    kept = [c for c in kept if c not in constant]
    info["variables"], info["variables_dropped"] = kept, dropped
    rows = pd.DataFrame(index=units, data={"cluster": pd.NA, "assignment": "excluded", "pc1": np.nan, "pc2": np.nan,
                                           "distance_to_centre": np.nan, "note": None})
    if len(kept) < 2:
        info["skipped"] = f"fewer than 2 usable variables ({kept})"
        rows["note"] = info["skipped"]
        return rows, info
    data = x[kept]
    fit = data.notna().all(axis=1)
    info["units_fitted"] = int(fit.sum())
    if fit.sum() < params.min_units:
        info["skipped"] = f"{int(fit.sum())} units with every variable usable, fewer than {params.min_units}"
        rows["note"] = info["skipped"]
        return rows, info
    scaler = StandardScaler().fit(data[fit])
    z = scaler.transform(data[fit])
    res = hcpc(z, params, params.seed)
    labels = _renumber(res["labels"])
    k = res["k"]
    coords = res["coords"]
    centres_z = np.vstack([z[labels == c].mean(axis=0) for c in range(1, k + 1)])
    rows.loc[fit, "cluster"] = labels
    rows.loc[fit, "assignment"] = "fit"
    rows.loc[fit, "pc1"] = coords[:, 0]
    rows.loc[fit, "pc2"] = coords[:, 1] if coords.shape[1] > 1 else 0.0
    rows.loc[fit, "distance_to_centre"] = np.sqrt(((z - centres_z[labels - 1]) ** 2).sum(axis=1))
    # units with a few unusable variables: nearest centre on the usable ones
    partial = ~fit & (data.notna().sum(axis=1) >= max(2, int(np.ceil(len(kept) / 2))))
    for unit in units[partial]:
        row = data.loc[unit]
        ok = row.notna().to_numpy()
        zu = (row.to_numpy(dtype=float)[ok] - scaler.mean_[ok]) / scaler.scale_[ok]
        d = np.sqrt(((centres_z[:, ok] - zu) ** 2).sum(axis=1) * len(kept) / ok.sum())
        rows.loc[unit, ["cluster", "assignment", "distance_to_centre"]] = [int(np.argmin(d)) + 1, "partial",
                                                                           float(d.min())]
        rows.loc[unit, "note"] = "assigned on its usable variables: " + ", ".join(
            c for c, o in zip(kept, ok, strict=True) if not o) + " unusable"
    excluded = (rows["assignment"] == "excluded")
    for unit in units[excluded.to_numpy()]:
        rows.loc[unit, "note"] = "too many unusable variables: " + ", ".join(data.columns[data.loc[unit].isna()])
    sizes = rows["cluster"].value_counts()
    rows["cluster_size"] = rows["cluster"].map(sizes)
    info.update({
        "k": int(k), "pca_explained_variance_pct": [round(100 * float(v), 1) for v in res["pca"].explained_variance_ratio_],
        "within_inertia_ratio_by_k": {int(kk): round(float(v), 4) for kk, v in res["ratios"].items()},
        "cluster_sizes": {int(c): int(s) for c, s in sizes.sort_index().items()},
        "units_partial": int(partial.sum()), "units_excluded": int(excluded.sum()),
        "profiles": v_tests(data[fit], labels, params.v_test_threshold),
        "stability": bootstrap(data[fit].to_numpy(dtype=float), labels, k, params),
    })
    return rows, info


def territorial_clusters(indicators: pd.DataFrame, balance: pd.DataFrame, communes: pd.DataFrame, *,
                         params: ClusteringParams, typology: pd.DataFrame | None = None,
                         window: Window | None = None, territories: dict[str, Territory] | None = None) -> Derived:
    """Clusters of communes and EPCIs on the three views, for each year of the input."""
    territories = territories if territories is not None else default_territories()
    figures: dict = {}
    frames = []
    for year in sorted(indicators["year"].unique()):
        for level in params.levels:
            dens = typology_of(level, typology, communes, territories)
            views = features(level, int(year), indicators, balance, dens)
            names = indicators[(indicators["level"] == level) & (indicators["year"] == year)].set_index(
                "territory_code")["territory_name"]
            for view, x in views.items():
                rows, info = cluster_view(x, params)
                figures[f"{int(year)}/{level}/{view}"] = info
                rows = rows.reset_index(names="territory_code").assign(
                    year=int(year), level=level, view=view, territory_name=lambda r: r["territory_code"].map(names))
                frames.append(rows)
    if not frames:
        return Derived(pd.DataFrame(columns=OUTPUT_COLUMNS), figures=figures)
    out = pd.concat(frames, ignore_index=True)
    # a view that could not be clustered (too few usable units) has no cluster columns: null, with its reason
    out = out.reindex(columns=list(dict.fromkeys([*out.columns, *OUTPUT_COLUMNS])))
    out["period_start_utc"] = year_start_utc(out["year"])
    out["cluster"] = pd.to_numeric(out["cluster"]).astype("Int64")
    out["cluster_size"] = pd.to_numeric(out["cluster_size"]).astype("Int64")
    for c in ("pc1", "pc2", "distance_to_centre"):
        out[c] = pd.to_numeric(out[c]).astype(float)
    return Derived(out[OUTPUT_COLUMNS].sort_values(["year", "level", "view", "territory_code"]).reset_index(drop=True),
                   figures=figures)


def peers(clusters: pd.DataFrame, level: str, code: str, view: str = "general", n: int = 5) -> pd.DataFrame:
    """The unit's cluster mates, nearest first (by their position on the first two axes)."""
    sub = clusters[(clusters["level"] == level) & (clusters["view"] == view)]
    me = sub[sub["territory_code"] == code]
    if me.empty or pd.isna(me["cluster"].iat[0]):
        return sub.iloc[:0]
    mates = sub[(sub["cluster"] == me["cluster"].iat[0]) & (sub["territory_code"] != code)].copy()
    d = np.hypot(mates["pc1"] - me["pc1"].iat[0], mates["pc2"] - me["pc2"].iat[0])
    return mates.assign(_d=d.fillna(np.inf)).sort_values("_d").head(n).drop(columns="_d")
