"""Every asset spec against a committed snapshot, so graph or ownership drift shows in review.

Key, group, owners, tags, kinds, partitioning, dependencies and checks of every asset, as the
definitions build them from the catalogue. A change that alters any of them fails here until the
snapshot is regenerated on purpose: `UPDATE_SNAPSHOTS=1 make test PYTEST_ARGS=tests/integration/test_asset_specs_snapshot.py`
— and the diff of `tests/snapshots/asset_specs.json` is then part of the review.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from energy_pipelines.build import build_defs
from energy_pipelines.settings import load_settings

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "asset_specs.json"


def _partitioning(pdef) -> str | None:
    if pdef is None:
        return None
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        return f"{pdef.cron_schedule} {pdef.timezone} from {pdef.start:%Y-%m-%d}"
    return type(pdef).__name__


def asset_specs(tmp_path) -> dict:
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(tmp_path), "ENERGY_PIPELINES_PARTITIONS_START": "2025-01-01"})
    defs = build_defs(settings)
    graph = defs.resolve_asset_graph()
    checks_by_asset: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        checks_by_asset.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        out[key.to_user_string()] = {
            "group": node.group_name,
            "owners": sorted(node.owners),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "kinds": sorted(node.kinds),
            "partitions": _partitioning(node.partitions_def),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(checks_by_asset.get(key.to_user_string(), [])),
            "automation": node.automation_condition.get_label() if node.automation_condition else None,
        }
    return out


def test_asset_specs_match_the_snapshot(tmp_path):
    current = asset_specs(tmp_path)
    text = json.dumps(current, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    added, removed = sorted(set(current) - set(expected)), sorted(set(expected) - set(current))
    changed = sorted(k for k in set(current) & set(expected) if current[k] != expected[k])
    assert (added, removed, changed) == ([], [], []), (
        f"asset specs drifted from {SNAPSHOT.name}: added {added}, removed {removed}, changed "
        + "; ".join(f"{k}: {expected[k]} -> {current[k]}" for k in changed[:5])
        + " (regenerate with UPDATE_SNAPSHOTS=1 if intended)")
