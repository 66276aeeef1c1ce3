"""What a publication target is: the request, the report, the errors (no Dagster, no HTTP).

A :class:`PublicationRequest` describes one CKAN dataset (``package``) and the
files to attach as its resources. A :class:`Publisher` makes the target match
the request and says what it had to change in a :class:`PublicationReport`.
Publishers are idempotent: a resource whose file has the same sha256 as the
one already published is not sent again.

Licence ids come from the catalogue (`assets_config/licences.yaml`, field `ckan_id`): the
request carries the portal's id, this module does not map licences itself.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

__all__ = [
    "AuthenticationError",
    "PublicationConfigError",
    "PublicationError",
    "PublicationRejected",
    "PublicationReport",
    "PublicationRequest",
    "Publisher",
    "ResourceFile",
    "TransientPublicationError",
    "file_sha256",
]

SLUG_RE = re.compile(r"^[a-z0-9_-]{2,100}$")

# ---------------------------------------------------------------- errors


class PublicationError(RuntimeError):
    """A publication failed. Messages name the action and the portal's error, never a secret."""

    def __init__(self, message: str, *, action: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.action = action
        self.status = status


class PublicationConfigError(PublicationError):
    """The publisher is not configured (e.g. a missing environment variable)."""


class AuthenticationError(PublicationError):
    """The portal refused the credentials (HTTP 401/403, or no key for a write)."""


class PublicationRejected(PublicationError):
    """The portal answered but refused the request (other 4xx, or ``success: false``)."""

    def __init__(self, message: str, *, action: str | None = None, status: int | None = None,
                 error: Mapping[str, object] | None = None) -> None:
        super().__init__(message, action=action, status=status)
        self.error = dict(error or {})


class TransientPublicationError(PublicationError):
    """5xx, timeouts or connection errors that persisted after every retry."""


# ---------------------------------------------------------------- request / report


@dataclass(frozen=True)
class ResourceFile:
    """One file published as one CKAN resource; ``name`` is its stable identity across runs."""

    name: str
    path: Path
    format: str
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise ValueError(f"resource name must be a plain file name, got {self.name!r}")


@dataclass(frozen=True)
class PublicationRequest:
    """One dataset to publish. ``extras`` carries governance (owners, publisher, access, lineage)."""

    name: str
    title: str
    notes: str
    owner_org: str
    private: bool
    license_id: str
    tags: tuple[str, ...] = ()
    extras: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    resources: tuple[ResourceFile, ...] = ()

    def __post_init__(self) -> None:
        for label, value in (("dataset name", self.name), ("owner_org", self.owner_org)):
            if not SLUG_RE.fullmatch(value or ""):
                raise ValueError(f"{label} must match [a-z0-9_-]{{2,100}}, got {value!r}")
        names = [r.name for r in self.resources]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate resource names in {self.name}: {names}")
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "resources", tuple(self.resources))
        object.__setattr__(self, "extras", MappingProxyType({str(k): str(v) for k, v in dict(self.extras).items()}))


@dataclass
class PublicationReport:
    """What one ``publish`` did. ``uploaded``/``unchanged`` list resource names."""

    dataset_name: str
    target: str
    created: bool
    private: bool
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    url: str | None = None
    metadata_updated: bool = False  # dataset fields changed (always True when created)


@runtime_checkable
class Publisher(Protocol):
    def publish(self, request: PublicationRequest) -> PublicationReport: ...


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
