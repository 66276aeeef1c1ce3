"""SPIE's historical transaction export: the adapter named by the catalogue (formats in `spie_ocpp`)."""

from energy_pipelines.sources.spie_ocpp import TRANSACTION_HISTORY as ADAPTER

__all__ = ["ADAPTER"]
