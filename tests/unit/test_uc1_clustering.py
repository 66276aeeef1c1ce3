"""UC1 clustering: HCPC finds planted groups, describes them, measures its stability, and never uses a masked value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from energy_pipelines.transforms.territorial.clustering import (
    ClusteringParams, cluster_view, features, hcpc, peers, territorial_clusters, v_tests,
)

PARAMS = ClusteringParams(bootstrap=20, min_units=12)


def planted(n_per=20, seed=1, spread=0.3) -> tuple[pd.DataFrame, np.ndarray]:
    """Three groups of territories that differ on two of four variables."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 5, 1], [6, 0, 5, 1], [3, 6, 5, 1]], dtype=float)
    x = np.vstack([c + rng.normal(0, spread, size=(n_per, 4)) for c in centres])
    truth = np.repeat([0, 1, 2], n_per)
    units = pd.Index([f"u{i:03d}" for i in range(len(x))])
    return pd.DataFrame(x, index=units, columns=["a", "b", "c", "d"]), truth


def test_planted_groups_are_found_cut_where_the_inertia_drops_and_stable():
    x, truth = planted()
    rows, info = cluster_view(x, PARAMS)
    assert info["k"] == 3 and info["units_fitted"] == 60
    assert adjusted_rand_score(truth, rows["cluster"].astype(int)) == pytest.approx(1.0)
    ratios = info["within_inertia_ratio_by_k"]
    assert min(ratios, key=ratios.get) == 3  # FactoMineR's rule picks the largest relative gain
    assert info["stability"]["replicates"] == 20 and info["stability"]["ari_mean"] > 0.95
    assert all(v > 0.9 for v in info["stability"]["jaccard_mean_by_cluster"].values())
    # profiles: the separating variables characterise the groups, the noise ones do not
    strength = {}
    for prof in info["profiles"].values():
        for v in prof:
            strength[v["variable"]] = max(strength.get(v["variable"], 0), abs(v["v_test"]))
    assert strength["a"] > 5 and strength["b"] > 5
    assert all(strength.get(noise, 0) < 3.5 for noise in ("c", "d"))  # at most a chance 5 % crossing


def test_noise_is_less_stable_than_structure():
    x, _ = planted(spread=0.3)
    noise = pd.DataFrame(np.random.default_rng(3).normal(size=x.shape), index=x.index, columns=x.columns)
    structured = cluster_view(x, PARAMS)[1]["stability"]["ari_mean"]
    random = cluster_view(noise, PARAMS)[1]["stability"]["ari_mean"]
    assert random < structured - 0.2


def test_v_tests_match_their_definition():
    x = pd.DataFrame({"v": [1.0, 2.0, 3.0, 10.0, 11.0, 12.0]})
    labels = np.array([1, 1, 1, 2, 2, 2])
    out = v_tests(x, labels, threshold=0.0)
    n, nk = 6, 3
    expected = (2.0 - x["v"].mean()) / np.sqrt(x["v"].var(ddof=0) / nk * (n - nk) / (n - 1))
    assert out[1][0]["v_test"] == pytest.approx(expected, abs=0.01) and out[2][0]["v_test"] == pytest.approx(-expected, abs=0.01)


def test_masked_values_are_never_used_only_the_usable_ones():
    x, truth = planted()
    masked = x.copy()
    masked.loc["u005", "a"] = np.nan                   # one masked value: partial assignment
    masked.loc[["u010", "u011", "u012"], ["a", "b", "c"]] = np.nan  # too many: excluded
    rows, info = cluster_view(masked, PARAMS)
    assert rows.at["u005", "assignment"] == "partial" and "a unusable" in rows.at["u005", "note"]
    assert rows.at["u005", "cluster"] == rows.at["u004", "cluster"]  # its group, from b, c, d
    assert set(rows.loc[["u010", "u011", "u012"], "assignment"]) == {"excluded"}
    assert rows.loc[["u010", "u011", "u012"], "cluster"].isna().all()



def test_a_variable_masked_too_often_is_dropped_with_its_share():
    x, _ = planted()
    x.loc[x.index[:15], "d"] = np.nan
    rows, info = cluster_view(x, PARAMS)
    assert info["variables_dropped"] == {"d": "unusable for 25% of the units"}
    assert "d" not in info["variables"] and (rows["assignment"] == "fit").all()


def test_too_few_units_are_not_clustered_and_say_why():
    x, _ = planted(n_per=3)
    rows, info = cluster_view(x, PARAMS)
    assert "fewer than 12" in info["skipped"] and (rows["assignment"] == "excluded").all()
    assert rows["note"].str.contains("fewer than 12").all()


def test_hcpc_consolidation_never_worsens_the_within_inertia_of_the_ward_cut():
    x, _ = planted(spread=1.5, seed=4)
    z = (x - x.mean()) / x.std(ddof=0)
    res = hcpc(z.to_numpy(), PARAMS, 0)
    coords, labels, k = res["coords"], res["labels"], res["k"]
    within = sum(((coords[labels == c] - coords[labels == c].mean(axis=0)) ** 2).sum() for c in range(k))
    assert within <= res["within"][k] + 1e-9


# -- from the indicator tables -------------------------------------------------------------------------

def tables(n_communes=30, masked_share=0.0, seed=0):
    """Indicator and balance rows of `n_communes` communes in two kinds (urban tertiary / rural PV)."""
    rng = np.random.default_rng(seed)
    ind, bal = [], []
    for i in range(n_communes):
        code, urban = f"04{i:03d}", i % 2 == 0
        pop = 20000 if urban else 500
        ind.append({"year": 2020, "level": "commune", "territory_code": code, "territory_name": f"C{i}",
                    "population": pop, "renewable_coverage_pct": 5.0 if urban else 60.0})
        sectors = {"residentiel": 6.0, "tertiaire": 5.0 if urban else 1.0, "industrie": 1.0, "agriculture": 0.2 if urban else 3.0,
                   "transport_routier": 7.0}
        total = 0.0
        for s, per in sectors.items():
            v = per * pop * rng.uniform(0.9, 1.1)
            total += v
            bal.append((code, "consumption", "total", s, v))
        for e, share in (("electricite", 0.5), ("gaz", 0.3 if urban else 0.0), ("produits_petroliers", 0.2),
                         ("bois_energie", 0.0 if urban else 0.3)):
            if share:
                bal.append((code, "consumption", e, "total", share * total))
        bal.append((code, "consumption", "total", "total", total))
        bal.append((code, "production", "photovoltaique", "total", pop * (0.2 if urban else 2.0)))
    b = pd.DataFrame(bal, columns=["territory_code", "measure", "carrier", "sector", "energy_mwh"]).assign(
        year=2020, level="commune", source="cigale", value_status="exact")
    b["masked"] = rng.random(len(b)) < masked_share
    return pd.DataFrame(ind), b


def test_features_treat_absent_cells_as_zero_and_masked_ones_as_unusable():
    ind, bal = tables()
    bal.loc[(bal["territory_code"] == "04001") & (bal["sector"] == "tertiaire"), "masked"] = True
    views = features("commune", 2020, ind, bal, None)
    assert views["consumption"].at["04001", "tertiaire_per_capita_mwh"] != views["consumption"].at[
        "04001", "tertiaire_per_capita_mwh"]  # NaN: masked
    assert views["consumption"].at["04000", "mix_bois_energie_pct"] == 0.0  # no wood row: none burnt
    assert views["production"].at["04000", "prod_eolien_per_capita_mwh"] == 0.0
    assert views["general"]["density_level"].isna().all()


def test_a_masked_value_left_in_place_changes_nothing():
    """The secrecy engine flags cells and leaves their values: whatever the hidden value, same groups."""
    ind, bal = tables(n_communes=30)
    secret = (bal["territory_code"] == "04003") & (bal["sector"] == "tertiaire")
    bal.loc[secret, "masked"] = True
    params = ClusteringParams(levels=("commune",), bootstrap=5)
    a = territorial_clusters(ind, bal, pd.DataFrame(columns=["file_kind"]), params=params, territories={})
    bal.loc[secret, "energy_mwh"] = 1e9
    b = territorial_clusters(ind, bal, pd.DataFrame(columns=["file_kind"]), params=params, territories={})
    pd.testing.assert_frame_equal(a.data, b.data)
    row = a.data[(a.data["territory_code"] == "04003") & (a.data["view"] == "consumption")].iloc[0]
    assert row["assignment"] == "partial" and "tertiaire_per_capita_mwh" in row["note"]


def test_territorial_clusters_returns_rows_and_figures_with_profiles_and_stability():
    ind, bal = tables(n_communes=40)
    result = territorial_clusters(ind, bal, pd.DataFrame(columns=["file_kind"]),
                                  params=ClusteringParams(levels=("commune",), bootstrap=10), territories={})
    data = result.data
    assert set(data["view"]) == {"general", "consumption", "production"} and len(data) == 3 * 40
    info = result.figures["2020/commune/production"]
    assert info["stability"]["replicates"] == 10 and 0 <= info["stability"]["ari_mean"] <= 1
    assert info["profiles"] and info["variables_dropped"]  # the absent filières are constant: dropped
    urban = data[(data["view"] == "production") & data["territory_code"].isin([f"04{i:03d}" for i in range(0, 40, 2)])]
    rural = data[(data["view"] == "production") & data["territory_code"].isin([f"04{i:03d}" for i in range(1, 40, 2)])]
    assert set(urban["cluster"]).isdisjoint(set(rural["cluster"]))
    mates = peers(data, "commune", "04000", "production", n=3)
    assert len(mates) == 3 and set(mates["cluster"]) == {urban["cluster"].iat[0]}


def test_too_few_units_in_every_view_give_rows_saying_why_not_an_error():
    """Published tables hold EPCIs only: a year may have too few usable units in every view (the demo failed)."""
    ind, bal = tables(n_communes=6)
    result = territorial_clusters(ind, bal, pd.DataFrame(columns=["file_kind"]),
                                  params=ClusteringParams(levels=("commune",), bootstrap=5), territories={})
    data = result.data
    assert len(data) == 3 * 6 and (data["assignment"] == "excluded").all()
    assert data["cluster"].isna().all() and data["cluster_size"].isna().all()
    assert data["note"].str.contains("fewer than 12").all()
