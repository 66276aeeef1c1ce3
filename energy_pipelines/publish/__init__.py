"""Publication of data products: DataSud (CKAN) and an offline portal mirror.

Pure Python (no Dagster): the assets/CLI choose a :class:`Publisher` and hand it
:class:`PublicationRequest` objects built from the catalogue.

- :class:`CkanPublisher` -- CKAN Action API (DataSud) through ``ckanapi``;
  ``from_settings()`` takes ``DATASUD_URL`` and ``DATASUD_API_KEY`` from the settings.
- :class:`MirrorPublisher` -- the offline default: ``<root>/<org>/<dataset>/package.json``
  plus the files.
"""
from . import base as _base, ckan as _ckan
from .base import (
    AuthenticationError,
    PublicationConfigError,
    PublicationError,
    PublicationRejected,
    PublicationReport,
    PublicationRequest,
    Publisher,
    ResourceFile,
    TransientPublicationError,
    file_sha256,
)
from .ckan import ENV_API_KEY, ENV_URL, CkanPublisher
from .mirror import MirrorPublisher

__all__ = [*_base.__all__, *_ckan.__all__, "MirrorPublisher"]
