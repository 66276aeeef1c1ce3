"""Access requests to restricted products: recorded, approved by every owner and the committee, granted, revoked.

A request names who asks (name, e-mail, organisation, their portal account), why, for how long,
and which products. Only published restricted products can be asked for (open ones need no
request; closed or personal data is never granted). The parties that must approve are every owner
in the lineage of each requested product (`governance/lineage.py`) and the steering committee;
who may answer for each party is declared in `assets_config/access.yaml`. One refusal closes the
request and names who refused and why.

Once every party has approved, the requester's portal account is granted read access to each
product (on CKAN: a dataset collaborator with capacity `member`) until the expiry date
(the grant day, Paris, plus the requested days); the daily schedule (`portal/dagster.py`) grants
what a failed attempt left pending and revokes what has expired.

Storage: one append-only JSON-lines audit log, `<data root>/access/audit.jsonl`. Every step
(requested, approved, denied, granted, grant_failed, revoked, revoke_failed) is one event; a
request's state is the fold of its events, so the log is the single source of truth. Each write
rewrites the file through a temporary file that is fsynced and renamed over it, under an
exclusive lock: readers see the old log or the new one, never half a line, and concurrent
commands never lose an event. Past lines are never changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from energy_pipelines.catalog import Catalog
from energy_pipelines.clock import PARIS, UTC, paris_start
from energy_pipelines.governance.lineage import Effective
from energy_pipelines.governance.policy import PRIVATE, decide
from energy_pipelines.portal.config import COMMITTEE, AccessConfig
from energy_pipelines.storage.atomic import write_atomic

LOG_FILE = "audit.jsonl"
PENDING, APPROVED, GRANTED, DENIED, EXPIRED = "pending", "approved", "granted", "denied", "expired"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PORTAL_USER = re.compile(r"^[a-z0-9_-]{2,100}$")


class AccessError(ValueError):
    """A request or an answer that cannot be accepted; the message says why."""


class Grantor(Protocol):
    def grant_read(self, package: str, user: str, expires: date) -> None: ...

    def revoke_read(self, package: str, user: str) -> bool: ...


@dataclass
class Request:
    id: str
    requester: dict[str, str]
    purpose: str
    products: tuple[str, ...]
    days: int
    parties: tuple[str, ...]  # who must approve: owner ids and `steering_committee`
    requested_at: datetime
    approvals: dict[str, dict[str, str]] = field(default_factory=dict)  # party -> {by, at, note}
    denial: dict[str, str] | None = None  # {party, by, at, reason}
    granted: dict[str, str] = field(default_factory=dict)  # product -> at
    expires_at: datetime | None = None
    revoked: dict[str, str] = field(default_factory=dict)  # product -> at
    failures: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.denial:
            return DENIED
        if self.granted and all(p in self.revoked for p in self.granted):
            return EXPIRED
        if self.products and all(p in self.granted for p in self.products):
            return GRANTED
        if all(p in self.approvals for p in self.parties):
            return APPROVED
        return PENDING

    @property
    def waiting_for(self) -> tuple[str, ...]:
        return tuple(p for p in self.parties if p not in self.approvals) if self.status == PENDING else ()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "requester": self.requester, "purpose": self.purpose,
                "products": list(self.products), "days": self.days, "parties": list(self.parties),
                "waiting_for": list(self.waiting_for), "requested_at": self.requested_at.isoformat(),
                "approvals": self.approvals, "denial": self.denial, "granted": self.granted,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None, "revoked": self.revoked,
                "failures": self.failures}


def _now() -> datetime:
    return datetime.now(UTC)


class AccessRegister:
    """The requests and their audit log under `directory` (normally `<data root>/access`)."""

    def __init__(self, directory: Path | str, catalog: Catalog, lineage: Mapping[str, Effective],
                 config: AccessConfig, *, clock: Callable[[], datetime] = _now) -> None:
        self.directory = Path(directory)
        self.catalog = catalog
        self.lineage = lineage
        self.config = config
        self.clock = clock

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE

    # -- the log

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def events(self) -> list[dict[str, Any]]:
        try:
            text = self.log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise AccessError(f"{self.log_path}: line {n} is not valid JSON; the audit log was edited by hand") from None
        return out

    def _append(self, events: Iterable[dict[str, Any]]) -> None:
        """Add events (caller holds the lock): the whole log rewritten atomically and fsynced."""
        old = self.log_path.read_bytes() if self.log_path.exists() else b""
        seq = len(self.events())
        new = b"".join(json.dumps({"seq": seq + i + 1, **e}, ensure_ascii=False, sort_keys=True).encode() + b"\n"
                       for i, e in enumerate(events))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                fh.write(old + new)
                fh.flush()
                os.fsync(fh.fileno())

        write_atomic(self.log_path, write)
        with contextlib.suppress(OSError):  # make the rename itself durable
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _event(self, kind: str, request: str, **fields: Any) -> dict[str, Any]:
        return {"at": self.clock().astimezone(UTC).isoformat(), "event": kind, "request": request, **fields}

    # -- state

    def requests(self) -> dict[str, Request]:
        out: dict[str, Request] = {}
        for ev in self.events():
            kind, rid = ev["event"], ev["request"]
            if kind == "requested":
                out[rid] = Request(rid, ev["requester"], ev["purpose"], tuple(ev["products"]), ev["days"],
                                   tuple(ev["parties"]), datetime.fromisoformat(ev["at"]))
                continue
            req = out[rid]
            if kind == "approved":
                req.approvals[ev["party"]] = {"by": ev["by"], "at": ev["at"], "note": ev.get("note", "")}
            elif kind == "denied":
                req.denial = {"party": ev["party"], "by": ev["by"], "at": ev["at"], "reason": ev["reason"]}
            elif kind == "granted":
                req.granted[ev["product"]] = ev["at"]
                req.expires_at = datetime.fromisoformat(ev["expires_at"])
            elif kind == "revoked":
                req.revoked[ev["product"]] = ev["at"]
            elif kind in ("grant_failed", "revoke_failed"):
                req.failures.append(f"{ev['at']} {kind} {ev.get('product', '')}: {ev.get('error', '')}")
        return out

    def get(self, request_id: str) -> Request:
        try:
            return self.requests()[request_id]
        except KeyError:
            raise AccessError(f"no access request {request_id!r} (see `energy-pipelines access list`)") from None

    # -- steps

    def parties_for(self, products: Iterable[str]) -> tuple[str, ...]:
        owners = sorted({o for p in products for o in self.lineage[p].owners})
        return (*owners, COMMITTEE)

    def request(self, *, name: str, email: str, organisation: str, portal_user: str, purpose: str,
                products: Iterable[str], days: int) -> Request:
        products = tuple(dict.fromkeys(products))
        problems = []
        if not products:
            problems.append("name at least one product")
        for p in products:
            if p not in self.catalog or not self.catalog[p].publish or p not in self.lineage:
                problems.append(f"{p!r} is not a published product of the catalogue")
                continue
            decision = decide(self.lineage[p], self.catalog)
            if decision.outcome != PRIVATE:
                problems.append(f"{p} is {'open: it needs no request' if decision.allowed else 'not published: ' + decision.reason}")
        for label, value in (("name", name), ("organisation", organisation), ("purpose", purpose)):
            if not (value or "").strip():
                problems.append(f"the {label} is required")
        if not _EMAIL.match(email or ""):
            problems.append(f"{email!r} is not an e-mail address")
        if not _PORTAL_USER.match(portal_user or ""):
            problems.append(f"{portal_user!r} is not a portal account name (lowercase letters, digits, - and _)")
        if not 1 <= days <= self.config.max_duration_days:
            problems.append(f"the duration must be between 1 and {self.config.max_duration_days} days, got {days}")
        for party in self.parties_for([p for p in products if p in self.lineage]) if not problems else ():
            if party != COMMITTEE and not self.config.owners.get(party):
                problems.append(f"owner {party!r} has no approver in access.yaml")
        if problems:
            raise AccessError("request refused: " + "; ".join(problems))
        rid = f"DA-{self.clock().astimezone(PARIS):%Y%m%d}-{uuid.uuid4().hex[:6]}"
        with self._locked():
            self._append([self._event(
                "requested", rid, by=email,
                requester={"name": name.strip(), "email": email, "organisation": organisation.strip(),
                           "portal_user": portal_user},
                purpose=purpose.strip(), products=list(products), days=days, parties=list(self.parties_for(products)))])
        return self.get(rid)

    def _answer(self, request_id: str, approver: str) -> tuple[Request, str]:
        req = self.get(request_id)
        party = self.config.party_of(approver)
        if party is None:
            raise AccessError(f"{approver!r} is not an approver declared in access.yaml")
        if party not in req.parties:
            raise AccessError(f"{approver} answers for {party}, which is not a party to {request_id} "
                              f"(parties: {', '.join(req.parties)})")
        if req.status != PENDING:
            raise AccessError(f"{request_id} is {req.status}: it takes no more answers")
        if party in req.approvals:
            raise AccessError(f"{party} has already approved {request_id} "
                              f"(by {req.approvals[party]['by']} at {req.approvals[party]['at']})")
        return req, party

    def approve(self, request_id: str, approver: str, note: str = "") -> Request:
        with self._locked():
            _, party = self._answer(request_id, approver)
            self._append([self._event("approved", request_id, party=party, by=approver, note=note.strip())])
        return self.get(request_id)

    def deny(self, request_id: str, approver: str, reason: str) -> Request:
        if not (reason or "").strip():
            raise AccessError("a refusal must give its reason")
        with self._locked():
            _, party = self._answer(request_id, approver)
            self._append([self._event("denied", request_id, party=party, by=approver, reason=reason.strip())])
        return self.get(request_id)

    def reconcile(self, grantor: Grantor) -> dict[str, list[str]]:
        """Grant every fully approved request not yet granted; revoke every grant past its expiry."""
        done: dict[str, list[str]] = {"granted": [], "revoked": [], "failed": []}
        now = self.clock().astimezone(UTC)
        with self._locked():
            for req in self.requests().values():
                user = req.requester["portal_user"]
                expired = req.expires_at is not None and now >= req.expires_at
                if req.status in (APPROVED, GRANTED) and expired:
                    for product in req.granted:
                        if product in req.revoked:
                            continue
                        try:
                            grantor.revoke_read(product, user)
                        except Exception as exc:  # noqa: BLE001 - recorded, retried by the daily schedule
                            self._append([self._event("revoke_failed", req.id, product=product, error=_short(exc))])
                            done["failed"].append(f"{req.id}/{product}")
                            continue
                        self._append([self._event("revoked", req.id, product=product, user=user,
                                                  reason="expired")])
                        done["revoked"].append(f"{req.id}/{product}")
                elif req.status == APPROVED:
                    expires = req.expires_at or paris_start(now.astimezone(PARIS).date() + timedelta(days=req.days))
                    for product in req.products:
                        if product in req.granted:
                            continue
                        try:
                            grantor.grant_read(product, user, expires.astimezone(PARIS).date())
                        except Exception as exc:  # noqa: BLE001 - recorded, retried by the daily schedule
                            self._append([self._event("grant_failed", req.id, product=product, error=_short(exc))])
                            done["failed"].append(f"{req.id}/{product}")
                            continue
                        self._append([self._event("granted", req.id, product=product, user=user,
                                                  expires_at=expires.isoformat())])
                        done["granted"].append(f"{req.id}/{product}")
        return done


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


class MirrorGrantor:
    """The offline mirror's stand-in for portal accounts: `<dataset folder>/access.json` lists who may read it."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _file(self, package: str) -> Path:
        found = sorted(self.root.glob(f"*/{package}/package.json"))
        if not found:
            raise AccessError(f"{package} is not in the portal mirror {self.root}")
        return found[0].parent / "access.json"

    def readers(self, package: str) -> dict[str, str]:
        path = self._file(package)
        return json.loads(path.read_text()) if path.exists() else {}

    def grant_read(self, package: str, user: str, expires: date) -> None:
        readers = {**self.readers(package), user: expires.isoformat()}
        path = self._file(package)
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(readers, indent=1, sort_keys=True)))

    def revoke_read(self, package: str, user: str) -> bool:
        readers = self.readers(package)
        if user not in readers:
            return False
        del readers[user]
        path = self._file(package)
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(readers, indent=1, sort_keys=True)))
        return True
