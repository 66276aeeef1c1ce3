"""Publication gate: may this asset partition be published, given its latest blocking check results?

Within one run Dagster already stops downstream steps when a blocking check fails with ERROR.
A publisher runs later, in another run, so it asks the event log instead:

    gate = publication_gate(context.instance, defs, AssetKey("out_x"), ["2025-03-30-10:00"])
    if not gate.ok:
        raise PublicationError(gate.explain())

For the asset and (by default) every upstream asset, each blocking check must have a completed
evaluation, for every partition concerned, that passed (or failed with WARN only) and that
targets the latest materialisation of that partition. Anything else refuses: failed with ERROR,
never evaluated, still planned (its run died), or stale (data re-materialised since the check).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dagster as dg

PASSED, WARNED, FAILED, NOT_EVALUATED, STALE = "passed", "warned", "failed", "not_evaluated", "stale"
ALLOWED = (PASSED, WARNED)


@dataclass(frozen=True)
class CheckVerdict:
    check_key: dg.AssetCheckKey
    partition: str | None
    status: str
    run_id: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ALLOWED

    def __str__(self) -> str:
        where = f"[{self.partition}]" if self.partition else ""
        extra = f": {self.detail}" if self.detail else ""
        return f"{self.check_key.asset_key.to_user_string()}{where} {self.check_key.name} {self.status}{extra}"


@dataclass
class QualityGate:
    asset_key: dg.AssetKey
    partitions: list[str] | None
    verdicts: list[CheckVerdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def problems(self) -> list[CheckVerdict]:
        return [v for v in self.verdicts if not v.ok]

    def explain(self, limit: int = 20) -> str:
        if self.ok:
            return f"{self.asset_key.to_user_string()}: {len(self.verdicts)} blocking check result(s), all passed"
        lines = [str(v) for v in self.problems[:limit]]
        more = len(self.problems) - limit
        return (f"{self.asset_key.to_user_string()} may not be published: " + "; ".join(lines)
                + (f" (+{more} more)" if more > 0 else ""))


def _graph(defs_or_graph):
    return defs_or_graph.resolve_asset_graph() if isinstance(defs_or_graph, dg.Definitions) else defs_or_graph


def _upstream(graph, asset_key: dg.AssetKey, partitions: list[str] | None) -> list[tuple[dg.AssetKey, list[str] | None]]:
    """The asset and its ancestors, each with the partitions that feed the requested ones."""
    out: dict[dg.AssetKey, set[str] | None] = {asset_key: set(partitions) if partitions is not None else None}
    queue = [asset_key]
    while queue:
        child = queue.pop()
        child_parts = out[child]
        for parent in graph.get(child).parent_keys:
            if not graph.has(parent):
                continue
            parent_node = graph.get(parent)
            if not parent_node.is_partitioned:
                parts = None
            elif child_parts is None:
                parts = None  # an unpartitioned child depends on every parent partition: judge latest results
            else:
                parts = set()
                for key in child_parts:
                    result = graph.get_parent_partition_keys_for_child(key, parent, child)
                    parts |= set(result.partitions_subset.get_partition_keys())
            if parent in out:
                old = out[parent]
                parts = None if old is None or parts is None else old | parts
                if parts == old:
                    continue
            out[parent] = parts
            queue.append(parent)
    return [(k, sorted(v) if v is not None else None) for k, v in out.items()]


def _severity(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, partition: str | None):
    from dagster._core.event_api import PartitionKeyFilter

    records = instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=1, partition_filter=PartitionKeyFilter(key=partition) if partition else None)
    if not records or records[0].event is None or records[0].event.dagster_event is None:
        return None, None
    evaluation = records[0].event.dagster_event.event_specific_data
    return getattr(evaluation, "severity", None), getattr(evaluation, "description", None)


def check_verdicts(instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey],
                   partitions: Sequence[str] | None, partitioned_checks: set[dg.AssetCheckKey]) -> list[CheckVerdict]:
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    verdicts = []
    for key in check_keys:
        per_partition = key in partitioned_checks and partitions is not None
        wanted = list(partitions) if per_partition else [None]
        infos = {i.partition_key: i for i in instance.event_log_storage.get_asset_check_partition_info(
            [key], partition_keys=list(partitions) if per_partition else None)}
        for part in wanted:
            info = infos.get(part)
            if info is None and not per_partition and infos:
                # an unpartitioned check on a partitioned asset: take its latest evaluation
                info = max(infos.values(), key=lambda i: i.latest_check_event_storage_id)
            if info is None:
                verdicts.append(CheckVerdict(key, part, NOT_EVALUATED, detail="no evaluation recorded"))
                continue
            status = info.latest_execution_status
            if status == Status.PLANNED:
                verdicts.append(CheckVerdict(key, part, NOT_EVALUATED, info.latest_planned_run_id,
                                             "planned but never evaluated (run in progress or failed)"))
            elif not info.is_current:
                verdicts.append(CheckVerdict(key, part, STALE, info.latest_planned_run_id,
                                             "the data was materialised again after this evaluation"))
            elif status == Status.SUCCEEDED:
                verdicts.append(CheckVerdict(key, part, PASSED, info.latest_planned_run_id))
            else:
                severity, description = _severity(instance, key, part)
                verdicts.append(CheckVerdict(key, part, WARNED if severity == dg.AssetCheckSeverity.WARN else FAILED,
                                             info.latest_planned_run_id, description))
    return verdicts


def blocking_check_keys(defs_or_graph, asset_key: dg.AssetKey) -> list[dg.AssetCheckKey]:
    graph = _graph(defs_or_graph)
    return sorted((k for k in graph.get(asset_key).check_keys if graph.get_check_spec(k).blocking),
                  key=lambda k: k.name)


def publication_gate(instance: dg.DagsterInstance, defs_or_graph, asset_key: dg.AssetKey | str,
                     partitions: Sequence[str] | None = None, *, upstream: bool = True) -> QualityGate:
    """Whether `asset_key` (for `partitions`, or its latest results if None) may be published.

    `defs_or_graph`: the `Definitions` (or its resolved asset graph) the checks belong to.
    With `upstream=True` the blocking checks of every ancestor must also have passed for the
    partitions that feed the requested ones.
    """
    graph = _graph(defs_or_graph)
    asset_key = dg.AssetKey.from_coercible(asset_key)
    gate = QualityGate(asset_key=asset_key, partitions=list(partitions) if partitions is not None else None)
    targets = _upstream(graph, asset_key, gate.partitions) if upstream else [(asset_key, gate.partitions)]
    for key, parts in targets:
        if key != asset_key:
            # an upstream partition that was never materialised fed nothing (e.g. the half-hour
            # before the first one of a look-back mapping): there is no data of it to vouch for
            if not instance.get_latest_materialization_event(key):
                continue
            if parts is not None and graph.get(key).is_partitioned:
                done = instance.get_materialized_partitions(key)
                parts = [p for p in parts if p in done]
                if not parts:
                    continue
        checks = blocking_check_keys(graph, key)
        partitioned = {k for k in checks if graph.get_check_spec(k).partitions_def is not None}
        gate.verdicts.extend(check_verdicts(instance, checks, parts, partitioned))
    return gate
