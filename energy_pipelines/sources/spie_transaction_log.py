"""SPIE's half-hourly OCPP 1.6 transaction log: the adapter named by the catalogue (formats in `spie_ocpp`)."""

from energy_pipelines.sources.spie_ocpp import TRANSACTION_LOG as ADAPTER

__all__ = ["ADAPTER"]
