"""Offline publication target: a local folder laid out like the portal.

    <root>/<owner_org>/<dataset name>/package.json     CKAN-like package dict
    <root>/<owner_org>/<dataset name>/<resource name>   the published files

``package.json`` carries what the CKAN package would (private flag, licence,
tags, extras, resources with ``sha256``, ``hash`` and ``size``), so downstream
tools and tests can read the mirror the way they would read DataSud.

Same idempotence as :class:`~energy_pipelines.publish.ckan.CkanPublisher`: a
file whose sha256 matches the one already in place is not rewritten; an
unchanged request rewrites nothing at all. Every write goes to a temporary
file in the same folder, is fsynced and renamed over the target, so readers
see the old file or the new one, never a partial one. Files are written
before ``package.json``: after a crash, the next run sees the mismatch and
copies again. Resources present in the mirror but not in the request are kept,
as on CKAN.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from .base import PublicationError, PublicationReport, PublicationRequest, file_sha256

log = logging.getLogger(__name__)

PACKAGE_FILE = "package.json"


class MirrorPublisher:
    target = "mirror"

    def __init__(self, root: Path | str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.root = Path(root)
        self._now = clock or (lambda: datetime.now(timezone.utc))

    def __repr__(self) -> str:
        return f"MirrorPublisher(root={str(self.root)!r})"

    def dataset_dir(self, owner_org: str, name: str) -> Path:
        return self.root / owner_org / name

    def package_show(self, owner_org: str, name: str) -> dict[str, Any] | None:
        path = self.dataset_dir(owner_org, name) / PACKAGE_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def publish(self, request: PublicationRequest) -> PublicationReport:
        for rf in request.resources:
            if rf.name == PACKAGE_FILE or rf.name.startswith("."):
                raise PublicationError(f"resource name {rf.name!r} is reserved in the mirror layout")
            if not rf.path.is_file():
                raise PublicationError(f"resource file for {rf.name!r} not found: {rf.path}")
        folder = self.dataset_dir(request.owner_org, request.name)
        folder.mkdir(parents=True, exist_ok=True)
        old = self.package_show(request.owner_org, request.name)
        now = self._now().strftime("%Y-%m-%dT%H:%M:%S.%f")
        report = PublicationReport(
            dataset_name=request.name, target=self.target, created=old is None, private=request.private,
            url=(folder / PACKAGE_FILE).resolve().as_uri(),
        )

        resources = {r["name"]: r for r in (old or {}).get("resources", [])}
        order = [r["name"] for r in (old or {}).get("resources", [])]
        for rf in request.resources:
            digest, size = file_sha256(rf.path), rf.path.stat().st_size
            target = folder / rf.name
            prev = resources.get(rf.name)
            in_place = prev is not None and prev.get("sha256") == digest and _has_content(target, digest, size)
            if in_place:
                report.unchanged.append(rf.name)
                last_modified = prev["last_modified"]
            else:
                _atomic_copy(rf.path, target)
                report.uploaded.append(rf.name)
                last_modified = now
                log.info("mirrored %s/%s (%d bytes, sha256 %s)", request.name, rf.name, size, digest[:12])
            if rf.name not in resources:
                order.append(rf.name)
            resources[rf.name] = {
                "name": rf.name,
                "description": rf.description,
                "format": rf.format,
                "url": rf.name,  # relative to package.json
                "url_type": "upload",
                "sha256": digest,
                "hash": digest,  # the field CkanPublisher compares on the portal
                "size": size,
                "last_modified": last_modified,
            }

        package = {
            "name": request.name,
            "title": request.title,
            "notes": request.notes,
            "owner_org": request.owner_org,
            "organization": {"name": request.owner_org},
            "private": request.private,
            "license_id": request.license_id,
            "tags": [{"name": t} for t in request.tags],
            "extras": [{"key": k, "value": v} for k, v in sorted(request.extras.items())],
            "resources": [resources[n] for n in order],
        }
        report.metadata_updated = old is None or any(
            old.get(k) != v for k, v in package.items() if k != "resources"
        )
        if report.metadata_updated or old.get("resources") != package["resources"]:
            # (an unchanged request leaves package.json byte-identical)
            package["metadata_created"] = (old or {}).get("metadata_created", now)
            package["metadata_modified"] = now
            text = json.dumps(package, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
            _atomic_write(folder / PACKAGE_FILE, lambda fh: fh.write(text.encode("utf-8")))
        return report


def _has_content(path: Path, digest: str, size: int) -> bool:
    # Trust nothing but the bytes: a file edited or truncated by hand is copied again.
    try:
        return path.stat().st_size == size and file_sha256(path) == digest
    except FileNotFoundError:
        return False


def _atomic_copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin:
        _atomic_write(dst, lambda fout: shutil.copyfileobj(fin, fout, 1 << 20))


def _atomic_write(dst: Path, write: Callable[[IO[bytes]], object]) -> None:
    with _temp_beside(dst) as (fh, tmp):
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, dst)
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(dst.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _temp_beside(dst: Path) -> Iterator[tuple[IO[bytes], Path]]:
    fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    tmp = Path(name)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide published files from other readers
    fh = os.fdopen(fd, "wb")
    try:
        yield fh, tmp
    finally:
        fh.close()
        tmp.unlink(missing_ok=True)  # no-op after a successful rename
