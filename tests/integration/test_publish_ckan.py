"""CkanPublisher against a REAL CKAN (the ``ckan_server`` fixture) and, for
retries/timeouts, against tiny local stand-in servers.

Every real-CKAN test captures logs (all loggers at DEBUG) and the process's
stdout/stderr, and checks that no API key ever shows up there or in an
exception text.
"""
from __future__ import annotations

import email.parser
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from energy_pipelines.publish import (
    AuthenticationError,
    CkanPublisher,
    PublicationConfigError,
    PublicationRejected,
    PublicationRequest,
    ResourceFile,
    TransientPublicationError,
)
from energy_pipelines.settings import load_settings
from tests.ckan_server import unique_name

PARQUET = "core_rte__eco2mix_paca_2017.parquet"
DATAPACKAGE = "datapackage.json"


# ---------------------------------------------------------------- helpers


def write_parquet(path: Path, values: list[float]) -> Path:
    table = pa.table({
        "half_hour_utc": pa.array([1_483_225_200_000_000 + i * 1_800_000_000 for i in range(len(values))],
                                  pa.timestamp("us", tz="UTC")),
        "consumption_mw": pa.array(values, pa.float64()),
    })
    pq.write_table(table, path, compression="zstd")
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Counter:
    """Records every request the publisher's sessions send, so tests can prove what was (not) sent."""

    def __init__(self, pub: CkanPublisher) -> None:
        self.calls: list[tuple[str, str, bool]] = []  # (method, url, carried an upload)
        for session in pub.http_sessions:
            session.hooks["response"].append(self._record)

    def _record(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        req = resp.request
        self.calls.append((req.method, req.url, b"multipart/form-data" in (req.headers.get("Content-Type") or "").encode()))

    @property
    def uploads(self) -> int:
        return sum(1 for _, _, upload in self.calls if upload)

    def actions(self) -> list[str]:
        return [url.rsplit("/", 1)[-1] for _, url, _ in self.calls if "/api/action/" in url]


def make_request(org: str, name: str, files: dict[str, Path], *, private: bool, tags: tuple[str, ...] = ("energie",)) -> PublicationRequest:
    return PublicationRequest(
        name=name,
        title="éCO2mix PACA 2017",
        notes="Consommation régionale au pas demi-horaire (RTE).",
        owner_org=org,
        private=private,
        license_id="lov2",
        tags=tags,
        extras={"owners": "rte", "publisher": "region-sud", "access": "open", "lineage": "raw_rte__eco2mix_paca"},
        resources=(
            ResourceFile(PARQUET, files["parquet"], "Parquet", "Half-hourly consumption, UTC"),
            ResourceFile(DATAPACKAGE, files["meta"], "JSON", "Frictionless descriptor"),
        ),
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    meta = tmp_path / DATAPACKAGE
    meta.write_text(json.dumps({"name": "core_rte__eco2mix_paca", "licenses": [{"name": "etalab-2.0"}]}))
    return {"parquet": write_parquet(tmp_path / PARQUET, [4100.0, 4050.5, 3990.25]), "meta": meta}


@pytest.fixture
def no_secret_leaks(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    """Yield a list to put secrets in; at teardown none may appear in logs or stdout/stderr."""
    caplog.set_level(logging.DEBUG)  # urllib3/requests debug logs included
    secrets: list[str] = []
    yield secrets
    out, err = capfd.readouterr()
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in out and secret not in err


def assert_clean(exc: BaseException, *secrets: str) -> None:
    text = f"{exc}\n{exc!r}\n{exc.args!r}"
    for secret in secrets:
        assert secret not in text


# ---------------------------------------------------------------- real CKAN


@pytest.fixture
def org_with_editor(ckan_server) -> dict[str, str]:
    """A fresh organisation with an ordinary (non-sysadmin) editor and a read-only member."""
    editor, editor_token = ckan_server.create_user(unique_name("editor"))
    member, member_token = ckan_server.create_user(unique_name("member"))
    org = unique_name("org")
    ckan_server.create_organization(org, members={editor["name"]: "editor", member["name"]: "member"})
    return {"org": org, "editor_token": editor_token, "member_token": member_token}


@pytest.mark.services
def test_private_public_update_and_idempotent_republish(ckan_server, org_with_editor, files, no_secret_leaks) -> None:
    token = org_with_editor["editor_token"]
    no_secret_leaks += [token, ckan_server.token]
    pub = CkanPublisher(ckan_server.url, token)
    session = Counter(pub)
    name = unique_name("core-rte-eco2mix")
    assert token not in repr(pub)

    # 1. private dataset with a real Parquet file, published by an ordinary editor
    report = pub.publish(make_request(org_with_editor["org"], name, files, private=True))
    assert report.created and report.private
    assert report.uploaded == [PARQUET, DATAPACKAGE] and report.unchanged == []
    assert report.url == f"{ckan_server.url}/dataset/{name}"
    assert token not in repr(report)

    pkg = pub.package_show(name)
    assert pkg["private"] is True and pkg["license_id"] == "lov2"
    assert pkg["organization"]["name"] == org_with_editor["org"]
    assert {e["key"]: e["value"] for e in pkg["extras"]}["lineage"] == "raw_rte__eco2mix_paca"
    res = {r["name"]: r for r in pkg["resources"]}[PARQUET]
    v1 = files["parquet"].read_bytes()
    assert res["hash"] == sha256(v1) and res["size"] == len(v1) and res["url_type"] == "upload"
    downloaded = pub.download(res["url"])
    assert sha256(downloaded) == sha256(v1)
    assert pq.read_table(pa.BufferReader(downloaded)).column("consumption_mw").to_pylist() == [4100.0, 4050.5, 3990.25]

    # anonymous: neither the dataset nor its file (CKAN answers 403, not 404)
    api = f"{ckan_server.url}/api/3/action"
    assert requests.post(f"{api}/package_show", json={"id": name}, timeout=10).status_code == 403
    assert requests.get(res["url"], timeout=10).status_code == 403
    anonymous = CkanPublisher(ckan_server.url, None)
    with pytest.raises(AuthenticationError, match="package_show"):
        anonymous.package_show(name)
    with pytest.raises(AuthenticationError, match="download"):
        anonymous.download(res["url"])
    # search (through the fake Solr) hides it from anonymous, shows it to the editor
    org_fq = f'owner_org:"{pkg["owner_org"]}"'
    assert requests.post(f"{api}/package_search", json={"fq": org_fq}, timeout=10).json()["result"]["count"] == 0
    seen = requests.post(f"{api}/package_search", json={"fq": org_fq, "include_private": True},
                         headers={"Authorization": token}, timeout=10).json()["result"]
    assert [d["name"] for d in seen["results"]] == [name]

    # 2. make it public: metadata patch only, no file sent again
    uploads = session.uploads
    report = pub.publish(make_request(org_with_editor["org"], name, files, private=False))
    assert not report.created and report.metadata_updated and not report.private
    assert report.uploaded == [] and report.unchanged == [PARQUET, DATAPACKAGE]
    assert session.uploads == uploads
    public = requests.post(f"{api}/package_show", json={"id": name}, timeout=10).json()["result"]
    assert public["private"] is False
    assert sha256(requests.get(res["url"], timeout=10).content) == sha256(v1)

    # 3. changed Parquet -> resource_patch of the same resource, new bytes served
    write_parquet(files["parquet"], [4200.0, 4150.0, 4100.0, 4000.0])
    v2 = files["parquet"].read_bytes()
    report = pub.publish(make_request(org_with_editor["org"], name, files, private=False))
    assert report.uploaded == [PARQUET] and report.unchanged == [DATAPACKAGE]
    pkg = pub.package_show(name)
    assert len(pkg["resources"]) == 2
    res2 = {r["name"]: r for r in pkg["resources"]}[PARQUET]
    assert res2["id"] == res["id"] and res2["hash"] == sha256(v2) and res2["size"] == len(v2)
    assert res2["last_modified"] != res["last_modified"]
    assert sha256(pub.download(res2["url"])) == sha256(v2)
    assert sha256(requests.get(res2["url"], timeout=10).content) == sha256(v2)  # public now

    # 4. the same request again: no upload, no write at all, nothing changes on the portal
    uploads, actions = session.uploads, len(session.actions())
    report = pub.publish(make_request(org_with_editor["org"], name, files, private=False))
    assert report.uploaded == [] and report.unchanged == [PARQUET, DATAPACKAGE]
    assert not report.created and not report.metadata_updated
    assert session.uploads == uploads
    assert session.actions()[actions:] == ["organization_list_for_user", "package_show"]  # reads only
    again = pub.package_show(name)
    res3 = {r["name"]: r for r in again["resources"]}[PARQUET]
    assert (res3["last_modified"], res3["size"], res3["hash"]) == (res2["last_modified"], res2["size"], res2["hash"])
    assert again["metadata_modified"] == pkg["metadata_modified"]


@pytest.mark.services
def test_wrong_missing_and_insufficient_keys_are_refused(ckan_server, org_with_editor, files, no_secret_leaks, monkeypatch) -> None:
    wrong = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.not-a-real-token.c2lnbmF0dXJl"
    member = org_with_editor["member_token"]
    no_secret_leaks += [wrong, member, org_with_editor["editor_token"], ckan_server.token]
    org = org_with_editor["org"]
    name = unique_name("refused")
    admin = CkanPublisher(ckan_server.url, ckan_server.token)

    with pytest.raises(AuthenticationError, match=org) as wrong_exc:
        CkanPublisher(ckan_server.url, wrong).publish(make_request(org, name, files, private=True))
    assert_clean(wrong_exc.value, wrong)

    # a valid key of a read-only member is refused the same way
    with pytest.raises(AuthenticationError, match="editor/admin") as member_exc:
        CkanPublisher(ckan_server.url, member).publish(make_request(org, name, files, private=True))
    assert_clean(member_exc.value, member)

    with pytest.raises(AuthenticationError, match="DATASUD_API_KEY"):
        CkanPublisher(ckan_server.url, None).publish(make_request(org, name, files, private=True))
    with pytest.raises(PublicationConfigError, match=r"variable\(s\) DATASUD_API_KEY for"):  # only what is missing
        CkanPublisher.from_settings(load_settings({"DATASUD_URL": ckan_server.url}))

    assert admin.find_package(name) is None  # nothing was created by any refused attempt

    # a CKAN-side 403: a dataset of this org read with a key from outside it
    admin.publish(make_request(org, name, files, private=True))
    outsider, outsider_token = ckan_server.create_user(unique_name("outsider"))
    no_secret_leaks.append(outsider_token)
    with pytest.raises(AuthenticationError, match=r"package_show.*HTTP 403.*not authorized") as outsider_exc:
        CkanPublisher(ckan_server.url, outsider_token).package_show(name)
    assert_clean(outsider_exc.value, outsider_token)


@pytest.mark.services
def test_from_settings_publishes_and_validation_errors_are_explained(ckan_server, org_with_editor, files, no_secret_leaks) -> None:
    token = org_with_editor["editor_token"]
    no_secret_leaks.append(token)
    pub = CkanPublisher.from_settings(load_settings({"DATASUD_URL": ckan_server.url + "/", "DATASUD_API_KEY": token}))
    assert pub.base_url == ckan_server.url
    assert token not in repr(pub)

    report = pub.publish(make_request(org_with_editor["org"], unique_name("from-env"), files, private=True))
    assert report.created and report.uploaded == [PARQUET, DATAPACKAGE]

    # CKAN refuses tags with '/' or '!': the error names the action and CKAN's field message
    bad = make_request(org_with_editor["org"], unique_name("bad-tags"), files, private=True, tags=("bad/tag!",))
    with pytest.raises(PublicationRejected, match=r"package_create.*HTTP 409.*Validation Error.*tags") as exc:
        pub.publish(bad)
    assert exc.value.status == 409 and exc.value.action == "package_create"
    assert_clean(exc.value, token)


@pytest.mark.services
def test_a_dataset_deleted_on_the_portal_is_revived(ckan_server, org_with_editor, files) -> None:
    pub = CkanPublisher(ckan_server.url, org_with_editor["editor_token"])
    name = unique_name("revived")
    request = make_request(org_with_editor["org"], name, files, private=False)
    pub.publish(request)
    ckan_server.action("package_delete", {"id": name})
    assert pub.package_show(name)["state"] == "deleted"  # the name stays taken: create would fail

    report = pub.publish(request)
    assert not report.created and report.metadata_updated and report.uploaded == []
    assert pub.package_show(name)["state"] == "active"
    assert requests.post(f"{ckan_server.url}/api/3/action/package_show", json={"id": name}, timeout=10).status_code == 200


@pytest.mark.services
def test_ensure_organization_creates_once(ckan_server) -> None:
    admin = CkanPublisher(ckan_server.url, ckan_server.token)
    name = unique_name("region-sud")
    created = admin.ensure_organization(name, "Région Sud")
    again = admin.ensure_organization(name, "ignored title")
    assert created["id"] == again["id"] and again["title"] == "Région Sud"


# ---------------------------------------------------------------- stand-in servers (no CKAN needed)


class Script:
    """What a stand-in server answers, and what it received."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # unblocks held (timed-out) requests at teardown

    def answer(self, handler: BaseHTTPRequestHandler, index: int, action: str, body: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def headers(self, index: int) -> dict[str, str]:
        return {}


@pytest.fixture
def stand_in() -> Iterator[Any]:
    servers: list[tuple[ThreadingHTTPServer, Script]] = []

    def start(script: Script) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with script.lock:
                    index = len(script.requests)
                    script.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, payload = script.answer(self, index, self.path.rsplit("/", 1)[-1], body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in script.headers(index).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, script))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, script in servers:
        script.release.set()
        server.shutdown()
        server.server_close()


def ok(result: Any) -> tuple[int, Any]:
    return 200, {"success": True, "result": result}


class FailTwice(Script):
    def answer(self, handler, index, action, body):
        return (503, {"success": False, "error": {"message": "upstream busy"}}) if index < 2 else ok({"name": "ds"})


def test_5xx_is_retried_by_the_adapter(stand_in) -> None:
    script = FailTwice()
    pub = CkanPublisher(stand_in(script), "k-123", max_retries=3, backoff=0.01)
    assert pub.package_show("ds") == {"name": "ds"}
    assert len(script.requests) == 3  # two 503s, then the answer
    assert all(r["headers"]["Authorization"] == "k-123" for r in script.requests)
    assert not any("X-CKAN-API-Key" in r["headers"] for r in script.requests)  # the key in one header only


class RateLimited(Script):
    """429 with Retry-After: 1 twice, then the answer; records when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def answer(self, handler, index, action, body):
        self.times.append(time.monotonic())
        if index < 2:
            return 429, {"success": False, "error": {"message": "slow down"}}
        return ok({"name": "ds"})

    def headers(self, index):
        return {"Retry-After": "1"} if index < 2 else {}


def test_429_waits_as_long_as_retry_after_says(stand_in) -> None:
    script = RateLimited()
    pub = CkanPublisher(stand_in(script), "k", max_retries=3, backoff=0)  # no backoff of our own
    assert pub.package_show("ds") == {"name": "ds"}
    assert len(script.times) == 3
    gaps = [b - a for a, b in zip(script.times, script.times[1:])]
    assert all(gap >= 0.95 for gap in gaps), gaps


class AlwaysDown(Script):
    def answer(self, handler, index, action, body):
        # echoes the key back, as a badly behaved proxy might
        return 502, {"success": False, "error": {"message": f"bad gateway for {handler.headers['Authorization']}"}}


def test_retries_give_up_with_a_clear_redacted_error(stand_in, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    key = "secret-key-that-must-not-leak"
    script = AlwaysDown()
    pub = CkanPublisher(stand_in(script), key, max_retries=2, backoff=0.01)
    with pytest.raises(TransientPublicationError, match=r"package_show: gave up after 3 attempt\(s\).*HTTP 502") as exc:
        pub.package_show("ds")
    assert len(script.requests) == 3
    assert exc.value.status == 502
    assert_clean(exc.value, key)
    assert "<redacted>" in str(exc.value)
    assert key not in caplog.text


class SlowFirst(Script):
    def answer(self, handler, index, action, body):
        if index == 0:
            self.release.wait(10)  # longer than the client's timeout; released at teardown
        return ok({"name": "ds"})


def test_timeouts_are_retried(stand_in) -> None:
    script = SlowFirst()
    pub = CkanPublisher(stand_in(script), "k", timeout=0.3, max_retries=1, backoff=0.01)
    assert pub.package_show("ds") == {"name": "ds"}
    assert len(script.requests) == 2


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pub = CkanPublisher(f"http://127.0.0.1:{port}", "k", max_retries=2, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(TransientPublicationError, match="ConnectionError") as exc:
        pub.package_show("ds")
    assert "gave up after 3 attempt(s)" in str(exc.value)
    assert time.monotonic() - started >= 0.02  # backoff 0.01 * 2 before the last attempt: it did wait


class Rejects(Script):
    def answer(self, handler, index, action, body):
        return 409, {"success": False, "error": {"__type": "Validation Error", "name": ["That URL is already in use."]}}


def test_4xx_is_not_retried_and_names_the_action(stand_in) -> None:
    script = Rejects()
    pub = CkanPublisher(stand_in(script), "k", max_retries=3)
    with pytest.raises(PublicationRejected, match=r"package_show rejected \(HTTP 409\): Validation Error: name: That URL is already in use") as exc:
        pub.package_show("ds")
    assert exc.value.error["name"] == ["That URL is already in use."]
    assert len(script.requests) == 1


class LostAnswerPortal(Script):
    """A minimal CKAN whose first resource_create succeeds but answers 502 (answer lost)."""

    def __init__(self) -> None:
        super().__init__()
        self.package: dict[str, Any] | None = None

    def answer(self, handler, index, action, body):
        if action == "organization_list_for_user":
            return ok([{"name": "org", "id": "org-id"}])
        if action == "package_show":
            return ok(self.package) if self.package else (404, {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}})
        if action == "package_create":
            self.package = {**json.loads(body), "id": "pkg-id", "organization": {"name": "org"}, "resources": []}
            return ok(self.package)
        if action == "resource_create":
            form = _multipart(handler.headers["Content-Type"], body)
            assert self.package is not None
            self.package["resources"].append({
                "id": f"res-{len(self.package['resources'])}", "name": form["name"], "hash": form["hash"],
                "size": len(form["upload"]), "url_type": "upload",
            })
            first = sum(1 for r in self.requests if r["path"].endswith("resource_create")) == 1
            return (502, b"Bad Gateway") if first else ok(self.package["resources"][-1])
        return 400, {"success": False, "error": {"message": f"unexpected {action}"}}


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    msg = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return {part.get_param("name", header="content-disposition"): (
        part.get_payload(decode=True) if part.get_filename() else part.get_payload(decode=True).decode()
    ) for part in msg.get_payload()}


def test_a_create_whose_answer_was_lost_is_not_repeated(stand_in, files) -> None:
    script = LostAnswerPortal()
    pub = CkanPublisher(stand_in(script), "k", max_retries=2, backoff=0)
    request = PublicationRequest(
        name="ds", title="t", notes="", owner_org="org", private=True, license_id="lov2",
        resources=(ResourceFile(PARQUET, files["parquet"], "Parquet"),),
    )
    report = pub.publish(request)
    assert report.uploaded == [PARQUET]
    assert [r["name"] for r in script.package["resources"]] == [PARQUET]  # one resource, not two
    assert sum(1 for r in script.requests if r["path"].endswith("resource_create")) == 1
    assert script.package["resources"][0]["hash"] == sha256(files["parquet"].read_bytes())


class Files(Script):
    def answer(self, handler, index, action, body):
        return 200, b"file-bytes"


def test_download_sends_the_key_only_to_the_portal_origin(stand_in) -> None:
    portal, elsewhere = Files(), Files()
    portal_url, elsewhere_url = stand_in(portal), stand_in(elsewhere)
    pub = CkanPublisher(portal_url, "portal-key")
    assert pub.download(f"{portal_url}/dataset/x/resource/y/download/f.parquet") == b"file-bytes"
    assert pub.download(f"{elsewhere_url}/f.parquet") == b"file-bytes"
    assert portal.requests[0]["headers"].get("Authorization") == "portal-key"
    assert "Authorization" not in elsewhere.requests[0]["headers"]


def test_key_is_hidden_from_repr_vars_and_invalid_header_errors() -> None:
    pub = CkanPublisher("http://127.0.0.1:9", "super-secret-value")
    assert "super-secret-value" not in repr(pub) and "super-secret-value" not in repr(vars(pub))
    with pytest.raises(PublicationConfigError, match="line breaks") as exc:
        CkanPublisher("http://127.0.0.1:9", "super-secret\nvalue")
    assert_clean(exc.value, "super-secret")
    with pytest.raises(PublicationConfigError, match="non-ASCII") as exc2:  # could not go in a header
        CkanPublisher("http://127.0.0.1:9", "clé-secrète-€")
    assert_clean(exc2.value, "clé-secrète-€")


def test_from_settings_names_the_missing_variables() -> None:
    with pytest.raises(PublicationConfigError, match=r"variable\(s\) DATASUD_URL for") as exc:
        CkanPublisher.from_settings(load_settings({"DATASUD_API_KEY": "value-that-must-not-appear"}))
    assert_clean(exc.value, "value-that-must-not-appear")


@pytest.mark.parametrize("url", ["http://trouver.datasud.fr", "http://10.0.0.5:5000", "http://[2001:db8::1]/ckan",
                                 "http://127.0.0.1.nip.io", "ftp://127.0.0.1", "https://user:pw@trouver.datasud.fr",
                                 "trouver.datasud.fr"])
def test_a_portal_off_the_loopback_must_be_https(url) -> None:
    with pytest.raises(PublicationConfigError) as exc:
        CkanPublisher(url, "a-key-for-that-portal")
    assert_clean(exc.value, "a-key-for-that-portal", "pw")
    if url.startswith("http://"):
        assert "in clear" in str(exc.value) or "credentials" in str(exc.value)
    with pytest.raises(PublicationConfigError):  # the settings path refuses it as well
        CkanPublisher.from_settings(load_settings({"DATASUD_URL": url, "DATASUD_API_KEY": "k"}))


@pytest.mark.parametrize("url", ["https://trouver.datasud.fr", "https://trouver.datasud.fr/", "http://127.0.0.1:5000",
                                 "http://127.8.9.1", "http://localhost:5000/ckan", "http://[::1]:5000"])
def test_https_and_the_loopback_are_accepted(url) -> None:
    assert CkanPublisher(url, "k").base_url == url.rstrip("/")
