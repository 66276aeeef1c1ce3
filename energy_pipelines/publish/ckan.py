"""Publish to a CKAN portal (DataSud) through the Action API, with ``ckanapi``.

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

The digest is stored in CKAN's core ``hash`` resource field because every CKAN
schema keeps it (a strict ckanext-scheming schema could drop a custom field).

Transport: ``ckanapi.RemoteCKAN`` over a ``requests`` session whose adapter
carries a ``urllib3`` ``Retry``: 429 and 5xx answers, connection errors and read
timeouts are retried with exponential backoff (``backoff * 2**n`` s), honouring
``Retry-After`` (at most 60 s). Actions that *create* something go through a
second session that retries only what cannot have reached CKAN (connection
refused, 429): when such a call times out or gets a 5xx, the effect may have
happened before the answer was lost, so the publisher looks for it
(``package_show``) and only calls again if it is absent. A retry never makes a
second dataset or resource.

Errors: 401/403 -> :class:`AuthenticationError`; other 4xx or ``success:
false`` -> :class:`PublicationRejected`; 5xx/429/timeouts/connection errors
still failing after the retries -> :class:`TransientPublicationError`.

Secrets: the API key travels only in the ``Authorization`` header and only to
the portal's own origin (a ``requests`` auth hook checks every request's
origin; ckanapi's own ``X-CKAN-API-Key`` header is never used). It never
appears in ``repr()``, logs or exception texts (anything CKAN echoes back is
redacted). A portal URL that is not HTTPS is refused unless it is on the
loopback (a local test portal): the key would otherwise travel in clear.

Configuration: :meth:`CkanPublisher.from_settings` (``DATASUD_URL``,
``DATASUD_API_KEY`` through :class:`energy_pipelines.settings.Settings`).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import ckanapi
import requests
from ckanapi import errors as ckan_errors
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60
USER_AGENT = "energy-pipelines-publisher"

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


class _PortalAuth(requests.auth.AuthBase):
    """Adds the key as ``Authorization`` to requests for the portal's origin, and to no other."""

    def __init__(self, key: _Secret, origin: tuple[str, str]) -> None:
        self._key = key
        self._origin = origin

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        request.headers.pop("X-CKAN-API-Key", None)
        if _origin(request.url or "") == self._origin:
            request.headers["Authorization"] = self._key.reveal()
        return request

    def __repr__(self) -> str:
        return "_PortalAuth(<redacted>)"


class _RemoteCKAN(ckanapi.RemoteCKAN):
    """ckanapi's client, remembering the last HTTP answer so errors can say what the portal said."""

    last: tuple[int, str] | None = None

    def _request_fn(self, url, data, headers, files, requests_kwargs):  # noqa: ANN001 (ckanapi's signature)
        self.last = None
        status, text = super()._request_fn(url, data, headers, files, requests_kwargs)
        self.last = (status, text)
        return status, text


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def check_portal_url(base_url: str) -> str:
    """The portal root without trailing slash; refuses non-HTTP(S) URLs and plain HTTP off the loopback."""
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublicationConfigError(f"CKAN base URL must be https://host[/path], got {base_url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise PublicationConfigError("CKAN base URL must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise PublicationConfigError(
            f"refusing the portal {parts.scheme}://{parts.netloc}: the API key would travel in clear; "
            "use https:// (plain http is accepted only on the loopback, for a local test portal)")
    return base_url.rstrip("/")


def _retrying_session(retry: Retry) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class CkanPublisher:
    """Publisher for a CKAN portal. Not thread-safe: one per thread/run."""

    target = "ckan"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float | tuple[float, float] = (10.0, 300.0),
        max_retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = check_portal_url(base_url)
        self._origin = _origin(self.base_url)
        key = (api_key or "").strip()
        if key and not (key.isascii() and key.isprintable()):
            # would break (or be echoed by) the HTTP layer; say so without showing it
            raise PublicationConfigError(
                "the API key contains line breaks, control or non-ASCII characters; check how it was set")
        self._key = _Secret(key) if key else None
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = float(backoff)
        self._sleep = sleep  # only between the attempts of a create (the adapter sleeps for the rest)
        common = dict(backoff_factor=self.backoff, allowed_methods=None, raise_on_status=False,
                      respect_retry_after_header=True, retry_after_max=MAX_RETRY_AFTER_S)
        # reads, patches and uploads onto an existing resource are idempotent: retry everything transient
        self._session = _retrying_session(Retry(
            total=self.max_retries, connect=self.max_retries, read=self.max_retries, status=self.max_retries,
            other=0, status_forcelist=RETRY_STATUSES, **common))
        # creates: only what cannot have reached CKAN (refused connection, rate limit); the rest is probed
        self._create_session = _retrying_session(Retry(
            total=self.max_retries, connect=self.max_retries, read=0, status=self.max_retries, other=0,
            status_forcelist={429}, **common))
        for session in (self._session, self._create_session):
            session.headers["User-Agent"] = USER_AGENT
            session.auth = _PortalAuth(self._key, self._origin) if self._key else None
        # no apikey given to ckanapi: it would also send X-CKAN-API-Key; the auth hook adds the header
        self._api = _RemoteCKAN(self.base_url, user_agent=USER_AGENT, session=self._session)
        self._create_api = _RemoteCKAN(self.base_url, user_agent=USER_AGENT, session=self._create_session)

    # -- construction / lifecycle

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> CkanPublisher:
        """Build from the settings' ``DATASUD_URL`` and ``DATASUD_API_KEY`` (names what is missing, never a value)."""
        url = (settings.datasud_url or "").strip()
        key = settings.datasud_api_key.get_secret_value().strip() if settings.datasud_api_key else ""
        missing = [name for name, value in ((ENV_URL, url), (ENV_API_KEY, key)) if not value]
        if missing:
            raise PublicationConfigError(
                f"missing environment variable(s) {', '.join(missing)} for DataSud publication "
                f"({ENV_URL}: portal root URL, {ENV_API_KEY}: API token of an organisation editor)")
        return cls(url, key, **kwargs)

    @property
    def http_sessions(self) -> tuple[requests.Session, requests.Session]:
        """The two sessions (idempotent calls, creates), e.g. to add a response hook that counts requests."""
        return self._session, self._create_session

    def __repr__(self) -> str:
        key = "<redacted>" if self._key else None
        return f"CkanPublisher(base_url={self.base_url!r}, api_key={key})"

    def close(self) -> None:
        self._session.close()
        self._create_session.close()

    def __enter__(self) -> CkanPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- publication

    def publish(self, request: PublicationRequest) -> PublicationReport:
        if self._key is None:
            raise AuthenticationError(f"no API key configured for {self.base_url}: set {ENV_API_KEY}",
                                      action="publish")
        # Hash every file before the first write: a missing file fails the run cleanly.
        files = []
        for rf in request.resources:
            if not rf.path.is_file():
                raise PublicationError(f"resource file for {rf.name!r} not found: {rf.path}")
            files.append((rf, file_sha256(rf.path), rf.path.stat().st_size))

        report = PublicationReport(dataset_name=request.name, target=self.target, created=False,
                                   private=request.private, url=f"{self.base_url}/dataset/{request.name}")
        self._check_can_publish(request.owner_org)
        payload = _package_payload(request)
        pkg = self.find_package(request.name)
        if pkg is None:
            pkg = self._create("package_create", payload, probe=lambda: self.find_package(request.name))
            report.created = report.metadata_updated = True
            log.info("created CKAN dataset %s (private=%s)", request.name, request.private)
        elif _metadata_differs(pkg, request):
            # "state" revives a dataset deleted on the portal (its name stays taken)
            pkg = self._call("package_patch", {"id": pkg["id"], **payload, "state": "active"})
            report.metadata_updated = True
            log.info("updated metadata of CKAN dataset %s (private=%s)", request.name, request.private)

        current = {r.get("name"): r for r in pkg.get("resources", [])}
        for rf, digest, size in files:
            res = current.get(rf.name)
            fields = {"name": rf.name, "format": rf.format, "description": rf.description, "hash": digest}
            if res is not None and _same_file(res, digest, size):
                if any((res.get(k) or "") != v for k, v in fields.items()):
                    self._call("resource_patch", {"id": res["id"], **fields})  # metadata only
                report.unchanged.append(rf.name)
                log.info("resource %s/%s unchanged (sha256 %s)", request.name, rf.name, digest[:12])
                continue
            if res is not None:
                self._call("resource_patch", {"id": res["id"], **fields}, upload=rf)
            else:
                self._create("resource_create", {"package_id": pkg["id"], **fields}, upload=rf,
                             probe=lambda rf=rf, digest=digest: self._find_resource(request.name, rf.name, digest))
            report.uploaded.append(rf.name)
            log.info("uploaded %s/%s (%d bytes, sha256 %s)", request.name, rf.name, size, digest[:12])
        return report

    def _check_can_publish(self, owner_org: str) -> None:
        # CKAN treats an invalid token as anonymous: reads of public datasets would
        # succeed and an unchanged re-publication would "pass" without a valid key.
        # One read of the key's editable organisations catches that before any write.
        orgs = self._call("organization_list_for_user", {"permission": "create_dataset"})
        if not any(owner_org in (o.get("name"), o.get("id")) for o in orgs):
            raise AuthenticationError(
                f"the API key cannot publish into organisation {owner_org!r} on {self.base_url} "
                "(invalid or expired key, not an editor/admin of it, or no such organisation)",
                action="organization_list_for_user")

    # -- reads and organisation

    def package_show(self, name: str) -> dict[str, Any]:
        """The package dict as this key sees it (raises PublicationRejected status 404 if absent)."""
        return self._call("package_show", {"id": name})

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
            return self._call("organization_show", {"id": name})
        except PublicationRejected as exc:
            if exc.status != 404:
                raise
        return self._create("organization_create", {"name": name, "title": title or name},
                            probe=lambda: self._find("organization_show", name))

    def download(self, resource_url: str) -> bytes:
        """GET a resource file; the key goes only to the portal's own origin (the auth hook checks)."""
        try:
            resp = self._session.get(resource_url, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientPublicationError(self._redact(f"CKAN download: {type(exc).__name__}: {exc}"),
                                            action="download") from None
        if resp.status_code >= 400:
            self._raise_for(resp.status_code, resp.text, "download")
        return resp.content

    # -- read access for one user (access requests)

    def grant_read(self, package: str, user: str, expires: date) -> None:
        """Make `user` a read-only collaborator of the (private) dataset, until `expires`.

        CKAN collaborators carry no expiry: the date is ours (the access register revokes on it),
        and is written in the dataset's activity through the collaborator capacity call. Needs
        `ckan.auth.allow_dataset_collaborators = true` on the portal and a key that can manage
        the dataset's collaborators (an admin of its organisation).
        """
        self._call("package_collaborator_create", {"id": package, "user_id": user, "capacity": "member"})
        log.info("granted %s read access to %s until %s", user, package, expires.isoformat())

    def revoke_read(self, package: str, user: str) -> bool:
        """Remove `user` from the dataset's collaborators; False when they were not one."""
        try:
            self._call("package_collaborator_delete", {"id": package, "user_id": user})
        except PublicationRejected as exc:
            if exc.status == 404:
                return False
            raise
        log.info("revoked %s's read access to %s", user, package)
        return True

    def collaborators(self, package: str) -> dict[str, str]:
        """user id -> capacity of the dataset's collaborators."""
        rows = self._call("package_collaborator_list", {"id": package})
        return {r["user_id"]: r["capacity"] for r in rows}

    def user_id(self, name: str) -> str:
        return self._call("user_show", {"id": name})["id"]

    # -- HTTP

    def _call(self, action: str, data: Mapping[str, Any], *, upload: ResourceFile | None = None,
              api: _RemoteCKAN | None = None) -> Any:
        api = api or self._api
        try:
            if upload is not None:
                # reopened for each call: the adapter's retries resend the encoded body
                with open(upload.path, "rb") as fh:
                    return api.call_action(action, dict(data), files={"upload": (upload.name, fh,
                                                                                 _mimetype(upload.format))},
                                           requests_kwargs={"timeout": self.timeout})
            return api.call_action(action, dict(data), requests_kwargs={"timeout": self.timeout})
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientPublicationError(
                self._redact(f"CKAN {action}: gave up after {self.max_retries + 1} attempt(s) on {self.base_url}: "
                             f"{type(exc).__name__}: {_first_line(exc)}"), action=action) from None
        except requests.RequestException as exc:
            # e.g. InvalidHeader, whose text quotes the header value: redact, do not chain
            raise PublicationError(self._redact(f"CKAN {action}: request failed: {type(exc).__name__}: {exc}"),
                                   action=action) from None
        except (ckan_errors.CKANAPIError, ckan_errors.ServerIncompatibleError) as exc:
            status, text = api.last or (None, str(exc))
            self._raise_for(status, text, action)
            raise AssertionError("unreachable")  # _raise_for always raises

    def _create(self, action: str, data: Mapping[str, Any], *, probe: Callable[[], Any],
                upload: ResourceFile | None = None) -> Any:
        """A create whose lost answer must not make a second object: probe before calling again."""
        for attempt in range(self.max_retries + 1):
            if attempt:
                found = probe()
                if found is not None:
                    log.warning("CKAN %s had taken effect before its answer was lost; not repeated", action)
                    return found
            try:
                return self._call(action, data, upload=upload, api=self._create_api)
            except TransientPublicationError as exc:
                if attempt == self.max_retries:
                    raise
                delay = self.backoff * (2 ** attempt)
                log.warning("CKAN %s: %s; checking whether it happened, retry %d/%d in %.1f s",
                            action, exc, attempt + 1, self.max_retries, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _find(self, action: str, name: str) -> Any:
        try:
            return self._call(action, {"id": name})
        except PublicationRejected as exc:
            if exc.status == 404:
                return None
            raise

    def _raise_for(self, status: int | None, text: str, action: str) -> None:
        body = _json(text)
        message = self._redact(_error_text(body))
        error = body.get("error") if isinstance(body, dict) else None
        if status is not None and (status >= 500 or status == 429):
            raise TransientPublicationError(
                f"CKAN {action}: gave up after {self.max_retries + 1} attempt(s) on {self.base_url}: "
                f"HTTP {status}: {message}", action=action, status=status)
        if status in (401, 403):
            raise AuthenticationError(f"CKAN {action} refused the credentials (HTTP {status}): {message}",
                                      action=action, status=status)
        if status is not None and status >= 300:
            raise PublicationRejected(f"CKAN {action} rejected (HTTP {status}): {message}", action=action,
                                      status=status, error=error if isinstance(error, dict) else None)
        raise PublicationRejected(f"CKAN {action} failed: {message}", action=action, status=status,
                                  error=error if isinstance(error, dict) else None)

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


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return (text or "")[:300]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


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
        for k, v in error.items() if k != "__type")
    return f"{kind}: {details}" if details else kind


__all__ = ["CkanPublisher", "ENV_API_KEY", "ENV_URL", "check_portal_url", "is_loopback"]
