"""The secrecy settings are read like every settings file (`catalog.load_model`), with their own error type."""

from __future__ import annotations

from functools import partial

from energy_pipelines.catalog import CatalogError, load_model as _load_model, read_yaml  # noqa: F401


class SecrecyConfigError(CatalogError):
    """A secrecy settings file is malformed; the message names the file and the field."""


load_model = partial(_load_model, error=SecrecyConfigError)
