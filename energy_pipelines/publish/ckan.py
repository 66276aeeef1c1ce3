"""Publish to a CKAN portal (DataSud) through the Action API v3.

Flow of :meth:`CkanPublisher.publish`:

0. ``organization_list_for_user``: the key must be an editor/admin of
   ``owner_org`` (CKAN treats a bad key as anonymous, so this is checked first);
1. ``package_show`` (with the key): absent -> ``package_create``; present and
   its metadata differs -> ``package_patch``; identical -> no write at all;
2. for each file: the resource with the same ``name`` is looked up; its
   ``hash`` field holds the sha256 hex digest of the last uploaded file. Same
   digest and size -> nothing is sent (reported *unchanged*); otherwise
   ``resource_patch`` / ``resource_create`` with a multipart ``upload``.
   Resources of the dataset that are not in the request are left alone.
   A dataset deleted on the portal (its name stays taken) is made active again.

Files must not be rewritten in place while they are published: the digest is
taken before the upload. (A file swapped by atomic rename meanwhile is sent
again on the next run, since its digest then differs from the stored one.)

We store the digest in CKAN's core ``hash`` resource field because every CKAN
schema keeps it (a custom field could be dropped by a strict ckanext-scheming
schema on the portal).

Errors: HTTP 401/403 -> :class:`AuthenticationError`; other 4xx or
``success: false`` -> :class:`PublicationRejected`; 5xx/429, timeouts and
connection errors are retried with exponential backoff (``backoff * 2**n``
seconds, ``Retry-After`` honoured up to 60 s), then
:class:`TransientPublicationError`. Creates that may have happened before a
lost answer are checked (``package_show``) before being retried, so a retry
never makes a second resource.

The API key is sent only in the ``Authorization`` header and only to the
portal's own origin. It never appears in ``repr()``, logs or exception texts
(anything CKAN echoes back is redacted too).

Configuration from the environment (:meth:`CkanPublisher.from_env`):

``DATASUD_URL``      portal root, e.g. ``https://trouver.datasud.fr``
``DATASUD_API_KEY``  API token of an editor/admin of the target organisation
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from .base import (
    AuthenticationError,
    PublicationConfigError,
    PublicationError,
    PublicationRejected,
    PublicationReport,
    PublicationRequest,
    ResourceFile,
    TransientPublicationError,
    file_sha256,
)

log = logging.getLogger(__name__)

ENV_URL = "DATASUD_URL"
ENV_API_KEY = "DATASUD_API_KEY"

_MIMETYPES = {
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "csv": "text/csv",
    "geojson": "application/geo+json",
    "zip": "application/zip",
}


class _Secret:
    """Holds the API key; prints as ``<redacted>`` whatever inspects it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # refuse to be pickled into a run's storage
        raise TypeError("the API key cannot be pickled")


class CkanPublisher:
    """Publisher for a CKAN portal. Thread-unsafe; one per thread/run."""

    target = "ckan"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float | tuple[float, float] = (10.0, 300.0),
        max_retries: int = 3,
        backoff: float = 1.0,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PublicationConfigError(f"CKAN base URL must be http(s)://host[/path], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc.lower())
        key = (api_key or "").strip()
        if key and not (key.isascii() and key.isprintable()):
            # would break (or be echoed by) the HTTP layer; say so without showing it
            raise PublicationConfigError(
                "the API key contains line breaks, control or non-ASCII characters; check how it was set"
            )
        self._key = _Secret(key) if key else None
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = float(backoff)
        self._session = session if session is not None else requests.Session()
        self._own_session = session is None
        self._sleep = sleep

    # -- construction / lifecycle

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> CkanPublisher:
        """Build from ``DATASUD_URL`` and ``DATASUD_API_KEY`` (names the missing one, never a value)."""
        env = os.environ if env is None else env
        missing = [name for name in (ENV_URL, ENV_API_KEY) if not (env.get(name) or "").strip()]
        if missing:
            raise PublicationConfigError(
                f"missing environment variable(s) {', '.join(missing)} for DataSud publication "
                f"({ENV_URL}: portal root URL, {ENV_API_KEY}: API token of an organisation editor)"
            )
        return cls(env[ENV_URL].strip(), env[ENV_API_KEY], **kwargs)

    @classmethod
    def from_settings(cls, settings, **kwargs: Any) -> CkanPublisher:
        """Build from the settings' DATASUD_URL and DATASUD_API_KEY (names the missing one, never a value)."""
        key = settings.datasud_api_key.get_secret_value() if settings.datasud_api_key else ""
        return cls.from_env({ENV_URL: settings.datasud_url or "", ENV_API_KEY: key}, **kwargs)

    def __repr__(self) -> str:
        key = "<redacted>" if self._key else None
        return f"CkanPublisher(base_url={self.base_url!r}, api_key={key})"

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> CkanPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API

    def publish(self, request: PublicationRequest) -> PublicationReport:
        if self._key is None:
            raise AuthenticationError(f"no API key configured for {self.base_url}: set {ENV_API_KEY}", action="publish")
        # Hash every file before the first write: a missing file fails the run cleanly.
        files = []
        for rf in request.resources:
            if not rf.path.is_file():
                raise PublicationError(f"resource file for {rf.name!r} not found: {rf.path}")
            files.append((rf, file_sha256(rf.path), rf.path.stat().st_size))

        report = PublicationReport(
            dataset_name=request.name, target=self.target, created=False, private=request.private,
            url=f"{self.base_url}/dataset/{request.name}",
        )
        self._check_can_publish(request.owner_org)
        payload = _package_payload(request)
        pkg = self.find_package(request.name)
        if pkg is None:
            pkg = self._call("package_create", json=payload, probe=lambda: self.find_package(request.name))
            report.created = report.metadata_updated = True
            log.info("created CKAN dataset %s (private=%s)", request.name, request.private)
        elif _metadata_differs(pkg, request):
            # "state" revives a dataset deleted on the portal (its name stays taken)
            pkg = self._call("package_patch", json={"id": pkg["id"], **payload, "state": "active"})
            report.metadata_updated = True
            log.info("updated metadata of CKAN dataset %s (private=%s)", request.name, request.private)

        current = {r.get("name"): r for r in pkg.get("resources", [])}
        for rf, digest, size in files:
            res = current.get(rf.name)
            fields = {"name": rf.name, "format": rf.format, "description": rf.description, "hash": digest}
            if res is not None and _same_file(res, digest, size):
                if any((res.get(k) or "") != v for k, v in fields.items()):
                    self._call("resource_patch", data={"id": res["id"], **fields})  # metadata only
                report.unchanged.append(rf.name)
                log.info("resource %s/%s unchanged (sha256 %s)", request.name, rf.name, digest[:12])
                continue
            if res is not None:
                self._call("resource_patch", data={"id": res["id"], **fields}, upload=rf)
            else:
                self._call(
                    "resource_create", data={"package_id": pkg["id"], **fields}, upload=rf,
                    probe=lambda rf=rf, digest=digest: self._find_resource(request.name, rf.name, digest),
                )
            report.uploaded.append(rf.name)
            log.info("uploaded %s/%s (%d bytes, sha256 %s)", request.name, rf.name, size, digest[:12])
        return report

    def _check_can_publish(self, owner_org: str) -> None:
        # CKAN treats an invalid token as anonymous: reads of public datasets would
        # succeed and an unchanged re-publication would "pass" without a valid key.
        # One read of the key's editable organisations catches that before any write.
        orgs = self._call("organization_list_for_user", json={"permission": "create_dataset"})
        if not any(owner_org in (o.get("name"), o.get("id")) for o in orgs):
            raise AuthenticationError(
                f"the API key cannot publish into organisation {owner_org!r} on {self.base_url} "
                "(invalid or expired key, not an editor/admin of it, or no such organisation)",
                action="organization_list_for_user",
            )

    def package_show(self, name: str) -> dict[str, Any]:
        """The package dict as this key sees it (raises PublicationRejected status 404 if absent)."""
        return self._call("package_show", json={"id": name})

    def find_package(self, name: str) -> dict[str, Any] | None:
        try:
            return self.package_show(name)
        except PublicationRejected as exc:
            if exc.status == 404:
                return None
            raise

    def ensure_organization(self, name: str, title: str | None = None) -> dict[str, Any]:
        """Return the organisation, creating it if absent (needs a key allowed to create orgs)."""
        try:
            return self._call("organization_show", json={"id": name})
        except PublicationRejected as exc:
            if exc.status != 404:
                raise
        return self._call("organization_create", json={"name": name, "title": title or name})

    def download(self, resource_url: str) -> bytes:
        """GET a resource file; the key is sent only when the URL is on the portal's origin."""
        parts = urlsplit(resource_url)
        same_origin = (parts.scheme, parts.netloc.lower()) == self._origin
        resp = self._request("GET", resource_url, action="download", auth=same_origin)
        if resp.status_code >= 400:
            self._raise_for(resp, "download")
        return resp.content

    # -- HTTP

    def _call(
        self,
        action: str,
        *,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        upload: ResourceFile | None = None,
        probe: Callable[[], Any] | None = None,
    ) -> Any:
        url = f"{self.base_url}/api/3/action/{action}"
        resp = self._request("POST", url, action=action, json=json, data=data, upload=upload, probe=probe)
        if isinstance(resp, _Probed):
            log.warning("%s had taken effect before its answer was lost; not repeated", action)
            return resp.result
        if resp.status_code >= 400:
            self._raise_for(resp, action)
        body = _json_body(resp)
        if not isinstance(body, dict) or body.get("success") is not True:
            raise PublicationRejected(
                self._redact(f"CKAN {action} failed: {_error_text(body)}"), action=action, status=resp.status_code,
                error=body.get("error") if isinstance(body, dict) else None,
            )
        return body["result"]

    def _request(
        self,
        method: str,
        url: str,
        *,
        action: str,
        auth: bool = True,
        upload: ResourceFile | None = None,
        probe: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        headers = {"Accept": "application/json", "User-Agent": "energy-pipelines-publisher"}
        if auth and self._key is not None:
            headers["Authorization"] = self._key.reveal()
        attempts = self.max_retries + 1
        reason = ""
        for attempt in range(attempts):
            if attempt and probe is not None:
                found = probe()
                if found is not None:
                    return _Probed(found)
            try:
                if upload is not None:
                    # reopened on each attempt: a retry must resend the whole file
                    with open(upload.path, "rb") as fh:
                        files = {"upload": (upload.name, fh, _mimetype(upload.format))}
                        resp = self._session.request(method, url, headers=headers, timeout=self.timeout,
                                                     files=files, **kwargs)
                else:
                    resp = self._session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = f"{type(exc).__name__}: {self._redact(str(exc))}"
                retry_after = None
            except requests.RequestException as exc:
                # e.g. InvalidHeader, whose text quotes the header value: redact, do not chain
                raise PublicationError(
                    self._redact(f"CKAN {action}: request failed: {type(exc).__name__}: {exc}"), action=action
                ) from None
            else:
                if resp.status_code < 500 and resp.status_code != 429:
                    return resp
                reason = f"HTTP {resp.status_code}: {self._redact(_error_text(_json_body(resp)))}"
                retry_after = _retry_after(resp)
                resp.close()
            if attempt + 1 < attempts:
                delay = retry_after if retry_after is not None else self.backoff * (2**attempt)
                log.warning("CKAN %s: %s; retry %d/%d in %.1f s", action, reason, attempt + 1, self.max_retries, delay)
                self._sleep(delay)
        raise TransientPublicationError(
            f"CKAN {action}: gave up after {attempts} attempt(s) on {self.base_url}: {reason}", action=action
        )

    def _raise_for(self, resp: requests.Response, action: str) -> None:
        body = _json_body(resp)
        text = self._redact(_error_text(body))
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status_code in (401, 403):
            raise AuthenticationError(
                f"CKAN {action} refused the credentials (HTTP {resp.status_code}): {text}",
                action=action, status=resp.status_code,
            )
        raise PublicationRejected(
            f"CKAN {action} rejected (HTTP {resp.status_code}): {text}", action=action, status=resp.status_code,
            error=error if isinstance(error, dict) else None,
        )

    def _redact(self, text: str) -> str:
        if self._key is not None:
            text = text.replace(self._key.reveal(), "<redacted>")
        return text

    def _find_resource(self, package: str, name: str, digest: str) -> dict[str, Any] | None:
        pkg = self.find_package(package)
        for res in (pkg or {}).get("resources", []):
            if res.get("name") == name and res.get("hash") == digest:
                return res
        return None


class _Probed:
    """A create found to have happened already (its answer was lost)."""

    def __init__(self, result: Any) -> None:
        self.result = result


def _package_payload(request: PublicationRequest) -> dict[str, Any]:
    return {
        "name": request.name,
        "title": request.title,
        "notes": request.notes,
        "owner_org": request.owner_org,
        "private": request.private,
        "license_id": request.license_id,
        "tags": [{"name": t} for t in request.tags],
        "extras": [{"key": k, "value": v} for k, v in sorted(request.extras.items())],
    }


def _metadata_differs(pkg: Mapping[str, Any], request: PublicationRequest) -> bool:
    org = pkg.get("organization") or {}
    current = (
        pkg.get("title") or "",
        pkg.get("notes") or "",
        bool(pkg.get("private")),
        pkg.get("license_id") or "",
        sorted(t.get("name") for t in pkg.get("tags", [])),
        {e.get("key"): e.get("value") for e in pkg.get("extras", [])},
        org.get("name"),
        pkg.get("state", "active"),
    )
    wanted = (
        request.title, request.notes, request.private, request.license_id,
        sorted(request.tags), dict(request.extras), request.owner_org, "active",
    )
    return current != wanted


def _same_file(res: Mapping[str, Any], digest: str, size: int) -> bool:
    return res.get("url_type") == "upload" and res.get("hash") == digest and res.get("size") == size


def _mimetype(fmt: str) -> str:
    return _MIMETYPES.get(fmt.strip().lower(), "application/octet-stream")


def _json_body(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:300]


def _error_text(body: Any) -> str:
    """CKAN's error as one line: '__type: message' or 'Validation Error: field: msg; ...'."""
    if not isinstance(body, dict):
        return str(body).strip()[:300] or "(empty body)"
    error = body.get("error", body)
    if not isinstance(error, dict):
        return str(error)[:300]
    kind = error.get("__type", "Error")
    if "message" in error:
        return f"{kind}: {error['message']}"
    details = "; ".join(
        f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else json.dumps(v)}"
        for k, v in error.items() if k != "__type"
    )
    return f"{kind}: {details}" if details else kind


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return min(60.0, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


__all__ = ["CkanPublisher", "ENV_API_KEY", "ENV_URL"]
