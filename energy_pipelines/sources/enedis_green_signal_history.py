"""Enedis' seasonal history of the green signal per station: the adapter named by the catalogue
(formats in `enedis_green_signal`)."""

from energy_pipelines.sources.enedis_green_signal import HISTORY as ADAPTER

__all__ = ["ADAPTER"]
