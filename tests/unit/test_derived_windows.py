"""The windows a `derive:` block declares become the partition mappings of the built asset.

UC2's hybrid signal is the case that needs them all: the transaction log read 7 days back (sessions
open since) and 7 days forward (readings delivered later settle the energy), the status events 7
days back only, Enedis and RTE on the same half-hour, the station register whole.
"""

from __future__ import annotations

import dagster as dg
import pytest
from pydantic import ValidationError

from energy_pipelines.assets.derived import build_derived_asset
from energy_pipelines.catalog import DerivedInput, default_catalog
from energy_pipelines.clock import paris_day_bounds

SIGNAL = "hybrid__green_charging_signal"


def _mapping(asset: dg.AssetsDefinition, upstream: str):
    return asset.get_partition_mapping(dg.AssetKey(upstream))


def test_the_signal_reads_back_and_forward_as_declared(settings):
    catalog = default_catalog()
    signal = build_derived_asset(catalog[SIGNAL], settings, catalog)
    week = 7 * 48  # half-hours
    tx = _mapping(signal, "raw_spie__transaction_log")
    assert (tx.start_offset, tx.end_offset) == (-week, week)
    events = _mapping(signal, "raw_spie__event_log")
    assert (events.start_offset, events.end_offset) == (-week, 0)
    for same in ("raw_enedis__green_signal", "core_rte__eco2mix_regional"):
        assert (_mapping(signal, same).start_offset, _mapping(signal, same).end_offset) == (0, 0)
    # one half-hour reads the tx log of 15 days: its own half-hour, a week before, a week after
    pdef = signal.partitions_def
    key = pdef.get_partition_keys_in_time_window(dg.TimeWindow(*paris_day_bounds("2025-06-15")))[20]
    upstream = tx.get_upstream_mapped_partitions_result_for_partitions(
        pdef.subset_with_partition_keys([key]), pdef, pdef).partitions_subset
    assert len(upstream.get_partition_keys()) == 2 * week + 1


def test_a_lookahead_rounds_up_to_whole_partitions_of_the_dataset(settings):
    catalog = default_catalog()
    spec = catalog["hybrid__charging_usage_daily"]
    derive = spec.derive.model_copy(update={"inputs": {
        **spec.derive.inputs,
        "signal": DerivedInput(dataset=SIGNAL, lookahead="30min"),  # half an hour after a day: one more day
    }})
    daily = build_derived_asset(spec.model_copy(update={"derive": derive}), settings, catalog)
    m = _mapping(daily, SIGNAL)
    assert (m.start_offset, m.end_offset) == (0, 1)


def test_a_lookahead_needs_a_window_to_extend_and_a_duration():
    with pytest.raises(ValidationError, match="not with window: all"):
        DerivedInput(dataset=SIGNAL, window="all", lookahead="7d")
    with pytest.raises(ValidationError, match="lookahead 'a week'"):
        DerivedInput(dataset=SIGNAL, lookahead="a week")
