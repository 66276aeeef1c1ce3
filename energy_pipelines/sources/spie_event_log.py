"""SPIE's half-hourly OCPP 1.6 event log (StatusNotification): the adapter named by the catalogue (formats in `spie_ocpp`)."""

from energy_pipelines.sources.spie_ocpp import EVENT_LOG as ADAPTER

__all__ = ["ADAPTER"]
