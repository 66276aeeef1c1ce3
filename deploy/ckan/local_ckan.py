#!/usr/bin/env python3
"""Bring up a real, unmodified CKAN (from PyPI) on this machine for the DataSud tests.

    python deploy/ckan/local_ckan.py up      # prints one JSON line: {"url", "token", ...}
    python deploy/ckan/local_ckan.py status  # JSON without secrets; exit 1 when down
    python deploy/ckan/local_ckan.py down    # stops exactly the processes `up` started

What `up` does (details and timings in README.md beside this file):

1. checks PostgreSQL (127.0.0.1:5432, trust auth, admin role ``postgres``) and
   Redis (127.0.0.1:6379) answer; raises ``CkanUnavailable`` otherwise;
2. installs ``ckan[requirements]==2.11.6`` into its OWN virtualenv (never the
   project's: CKAN pins exact versions of requests, SQLAlchemy, Flask...),
   skipped when the stamp file says it is already there;
3. drops and recreates the database (role ``ckan_test``), so every ``up``
   starts from an empty portal;
4. starts ``fake_solr.py`` (CKAN cannot run without something at ``solr_url``)
   and ``ckan run`` on free loopback ports, storage in the run folder;
5. creates a sysadmin and an API token for it.

Only the standard library is used, so the script runs with any Python 3.11.
Secrets (token, password) are written to ``<run dir>/instance.json`` (mode
0600) and to stdout only as the one JSON line of ``up``; progress goes to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent
DEFAULT_WORKDIR = PROJECT_ROOT / ".cache" / "ckan"
CKAN_VERSIONS = ("2.11.6", "2.12.0")  # first that installs wins; 2.12.0 only as fallback
DB_ROLE = "ckan_test"
SYSADMIN = "ci_admin"
INSTALL_STAMP = ".ckan-installed"

# Runs inside CKAN's venv: one process instead of three `ckan user/sysadmin/token`
# CLI calls (each loads the whole app, ~2.5 s). Uses CKAN's public action API.
_BOOTSTRAP = r"""
import json, sys
from ckan.cli import load_config
from ckan.config.middleware import make_app
import ckan.model as model
from ckan import logic
ini, name, password = sys.argv[1], sys.argv[2], sys.stdin.readline().strip()
app = make_app(load_config(ini))
with app._wsgi_app.test_request_context():
    site_user = logic.get_action("get_site_user")({"ignore_auth": True}, {})
    ctx = {"ignore_auth": True, "user": site_user["name"]}
    logic.get_action("user_create")(ctx, {"name": name, "email": name + "@example.org", "password": password})
    user = model.User.by_name(name)
    user.sysadmin = True
    model.repo.commit_and_remove()
    token = logic.get_action("api_token_create")({"ignore_auth": True, "user": name}, {"user": name, "name": "tests"})
sys.stdout.write(json.dumps({"token": token["token"]}))
"""


class CkanUnavailable(RuntimeError):
    """The local CKAN could not be brought up (missing service, failed install...)."""


def _log(msg: str) -> None:
    print(f"[local_ckan] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the running instance


@dataclass
class CkanInstance:
    """A running local CKAN. ``token`` is the sysadmin's API token."""

    url: str
    token: str
    sysadmin: str
    ckan_version: str
    database: str
    solr_url: str
    run_dir: str
    venv_dir: str
    redis_db: int
    pids: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show the token
        return f"CkanInstance(url={self.url!r}, ckan_version={self.ckan_version!r}, database={self.database!r})"

    def to_json(self, *, secrets_included: bool = True) -> str:
        data = asdict(self)
        if not secrets_included:
            data.pop("token")
        return json.dumps(data, sort_keys=True)

    # -- small Action API client (stdlib only), used with the sysadmin token

    def action(self, name: str, data: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        """POST an action as the sysadmin (or ``token``); return ``result`` or raise RuntimeError."""
        req = urllib.request.Request(
            f"{self.url}/api/3/action/{name}",
            data=json.dumps(data or {}).encode(),
            headers={"Content-Type": "application/json", "Authorization": token or self.token},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            body = _json_or_text(exc.read())
            raise RuntimeError(f"{name} -> HTTP {exc.code}: {_error_text(body)}") from None
        if not body.get("success"):
            raise RuntimeError(f"{name} failed: {_error_text(body)}")
        return body["result"]

    def create_user(self, name: str, *, sysadmin: bool = False) -> tuple[dict[str, Any], str]:
        """Create a user (ordinary unless ``sysadmin``) and an API token; return (user, token)."""
        user = self.action(
            "user_create",
            {"name": name, "email": f"{name}@example.org", "password": secrets.token_urlsafe(18)},
        )
        if sysadmin:
            self.action("user_patch", {"id": name, "sysadmin": True})
        token = self.action("api_token_create", {"user": name, "name": "tests"})["token"]
        return user, token

    def create_organization(
        self, name: str, *, title: str | None = None, members: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Create an organisation; ``members`` maps user name -> capacity (member/editor/admin)."""
        org = self.action("organization_create", {"name": name, "title": title or name})
        for user, capacity in (members or {}).items():
            self.action("organization_member_create", {"id": name, "username": user, "role": capacity})
        return org


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:300]


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        return json.dumps(body.get("error", body))[:500]
    return str(body)[:500]


# ---------------------------------------------------------------- the manager


class LocalCkan:
    """Install, start and stop one local CKAN.

    ``workdir`` holds the shared virtualenv (``workdir/venv``) and, unless
    ``run_dir`` is given, the instance state (``workdir/run``). Several
    instances can share one venv with their own run dirs and databases
    (the pytest fixture does that, so concurrent test runs do not stop
    each other's CKAN).
    """

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        run_dir: Path | str | None = None,
        database: str = "ckan_test",
        redis_db: int = 1,
        pg_host: str = "127.0.0.1",
        pg_port: int = 5432,
        pg_admin: str = "postgres",
        redis_host: str = "127.0.0.1",
        redis_port: int = 6379,
        versions: tuple[str, ...] = CKAN_VERSIONS,
        log: Callable[[str], None] = _log,
    ) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", database):
            raise ValueError(f"unsafe database name {database!r}")
        if not 1 <= redis_db <= 15:
            raise ValueError("use a non-zero Redis db index (1-15)")
        self.workdir = Path(workdir or DEFAULT_WORKDIR).resolve()
        self.venv_dir = self.workdir / "venv"
        self.run_dir = Path(run_dir).resolve() if run_dir else self.workdir / "run"
        self.database = database
        self.redis_db = redis_db
        self.pg_host, self.pg_port, self.pg_admin = pg_host, pg_port, pg_admin
        self.redis_host, self.redis_port = redis_host, redis_port
        self.versions = versions
        self.log = log
        self.state_file = self.run_dir / "instance.json"

    # -- public API

    def up(self) -> CkanInstance:
        """(Re)start from an empty database and return the running instance."""
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        self.down()  # a fresh `up` never reuses a previous portal's state
        self._check_services()
        version = self.install()
        timings["install"] = round(time.monotonic() - t0, 1)

        self.run_dir.mkdir(parents=True, exist_ok=True)
        storage = self.run_dir / "storage"
        shutil.rmtree(storage, ignore_errors=True)
        storage.mkdir()
        t = time.monotonic()
        self._recreate_database()
        pids: dict[str, int] = {}
        try:
            solr_port = self._start_solr(pids)
            ckan_port = _free_port()
            url = f"http://127.0.0.1:{ckan_port}"
            solr_url = f"http://127.0.0.1:{solr_port}/solr/ckan"
            ini = self._write_config(url, solr_url, storage)
            self._run([self._bin("ckan"), "-c", str(ini), "db", "init"], "db init")
            password = secrets.token_urlsafe(24)
            boot = self._run(
                [self._bin("python"), "-c", _BOOTSTRAP, str(ini), SYSADMIN], "create sysadmin", stdin=password + "\n"
            )
            token = json.loads(boot)["token"]
            timings["database"] = round(time.monotonic() - t, 1)
            t = time.monotonic()
            self._start_server(ini, ckan_port, pids)
            self._wait_ready(url, pids)
            timings["server_start"] = round(time.monotonic() - t, 1)
        except BaseException:
            self._kill(pids)
            with contextlib.suppress(CkanUnavailable):  # leave no half-initialised database behind
                self._psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            raise
        timings["total"] = round(time.monotonic() - t0, 1)
        inst = CkanInstance(
            url=url,
            token=token,
            sysadmin=SYSADMIN,
            ckan_version=version,
            database=self.database,
            solr_url=solr_url,
            run_dir=str(self.run_dir),
            venv_dir=str(self.venv_dir),
            redis_db=self.redis_db,
            pids=pids,
            timings_s=timings,
        )
        _write_private(self.state_file, inst.to_json())
        self.log(f"CKAN {version} up at {url} in {timings['total']} s ({timings})")
        return inst

    def down(self, *, drop_database: bool = False) -> bool:
        """Stop the processes recorded by the last ``up``; return whether any was running."""
        inst = self.load()
        was_running = self._kill(inst.pids) if inst is not None else False
        self.state_file.unlink(missing_ok=True)
        if drop_database:
            self._psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        return was_running

    def status(self) -> dict[str, Any]:
        inst = self.load()
        if inst is None:
            return {"running": False, "run_dir": str(self.run_dir), "installed": self.installed_version()}
        alive = {name: _is_ours(pid, str(self.run_dir)) for name, pid in inst.pids.items()}
        answering = _status_show(inst.url) is not None
        info = json.loads(inst.to_json(secrets_included=False))
        info.update(running=all(alive.values()) and answering, processes_alive=alive, answering=answering)
        return info

    def load(self) -> CkanInstance | None:
        try:
            return CkanInstance(**json.loads(self.state_file.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def installed_version(self) -> str | None:
        stamp = self.venv_dir / INSTALL_STAMP
        if not stamp.exists() or not Path(self._bin("ckan")).exists():
            return None  # a venv damaged after its install is installed again
        return stamp.read_text().strip()

    def install(self) -> str:
        """Create CKAN's own venv unless the stamp says it is there; return the CKAN version."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.workdir / "install.lock"):  # concurrent test runs share one venv
            done = self.installed_version()
            if done:
                return done
            shutil.rmtree(self.venv_dir, ignore_errors=True)
            base_python = getattr(sys, "_base_executable", None) or sys.executable
            self._run([base_python, "-m", "venv", str(self.venv_dir)], "create venv")
            errors = []
            for version in self.versions:
                self.log(f"installing ckan[requirements]=={version} into {self.venv_dir} (~25-40 s)")
                try:
                    self._run(
                        [self._bin("pip"), "install", "--quiet", "--disable-pip-version-check", f"ckan[requirements]=={version}"],
                        f"pip install ckan=={version}",
                        timeout=900,
                    )
                except CkanUnavailable as exc:
                    errors.append(str(exc))
                    continue
                (self.venv_dir / INSTALL_STAMP).write_text(version + "\n")
                return version
            raise CkanUnavailable("could not install CKAN: " + " | ".join(errors))

    # -- steps

    def _bin(self, name: str) -> str:
        return str(self.venv_dir / "bin" / name)

    def _run(self, cmd: list[str], what: str, *, stdin: str | None = None, timeout: float = 300) -> str:
        try:
            proc = subprocess.run(
                cmd, input=stdin, capture_output=True, text=True, timeout=timeout, cwd=self.run_dir if self.run_dir.exists() else None
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CkanUnavailable(f"{what} failed: {exc}") from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise CkanUnavailable(f"{what} failed (exit {proc.returncode}):\n{tail}")
        return proc.stdout

    def _psql(self, *statements: str) -> str:
        if not shutil.which("psql"):
            raise CkanUnavailable("psql not found (install postgresql-client)")
        cmd = ["psql", "-h", self.pg_host, "-p", str(self.pg_port), "-U", self.pg_admin, "-d", "postgres",
               "-v", "ON_ERROR_STOP=1", "-qAt", "-w"]
        for st in statements:
            cmd += ["-c", st]
        return self._run(cmd, "psql")

    def _check_services(self) -> None:
        try:
            self._psql("SELECT 1")
        except CkanUnavailable as exc:
            raise CkanUnavailable(
                f"PostgreSQL at {self.pg_host}:{self.pg_port} (role {self.pg_admin}, trust auth) not usable: {exc}"
            ) from None
        try:
            with socket.create_connection((self.redis_host, self.redis_port), timeout=3) as s:
                s.sendall(b"PING\r\n")
                if not s.recv(64).startswith(b"+PONG"):
                    raise OSError("unexpected PING answer")
        except OSError as exc:
            raise CkanUnavailable(f"Redis at {self.redis_host}:{self.redis_port} not usable: {exc}") from None

    def _recreate_database(self) -> None:
        self._psql(
            # the role may exist already, possibly created by a concurrent run
            f"DO $$ BEGIN CREATE ROLE {DB_ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)',
            f"CREATE DATABASE \"{self.database}\" OWNER {DB_ROLE} ENCODING 'UTF8' TEMPLATE template0",
        )

    def _start_solr(self, pids: dict[str, int]) -> int:
        port_file = self.run_dir / "fake_solr.port"
        port_file.unlink(missing_ok=True)
        pids["fake_solr"] = _spawn(
            [sys.executable, str(HERE / "fake_solr.py"), "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
             "--run-dir-marker", str(self.run_dir)],
            self.run_dir / "fake_solr.log",
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if port_file.exists():
                return int(port_file.read_text())
            if not _alive(pids["fake_solr"]):
                break
            time.sleep(0.05)
        raise CkanUnavailable(f"fake_solr did not start; see {self.run_dir / 'fake_solr.log'}")

    def _write_config(self, url: str, solr_url: str, storage: Path) -> Path:
        ini = self.run_dir / "ckan.ini"
        if not ini.exists():  # generated once per run dir: it holds the random secrets
            self._run([self._bin("ckan"), "generate", "config", str(ini)], "ckan generate config")
        settings = {
            "sqlalchemy.url": f"postgresql://{DB_ROLE}@{self.pg_host}:{self.pg_port}/{self.database}",
            "ckan.site_url": url,
            "ckan.site_id": self.database,
            "ckan.redis.url": f"redis://{self.redis_host}:{self.redis_port}/{self.redis_db}",
            "solr_url": solr_url,
            "ckan.storage_path": str(storage),
            "ckan.max_resource_size": "100",  # MB; the default 10 rejects realistic Parquet files
            "ckan.views.default_views": "",  # no view plugins: silences warnings
            # access requests grant read access to one private dataset as a collaborator (DataSud
            # must enable this too; org admins then manage collaborators, editors cannot)
            "ckan.auth.allow_dataset_collaborators": "true",
        }
        text = ini.read_text()
        for key, value in settings.items():
            line = f"{key} = {value}"
            pattern = re.compile(r"^#?\s*" + re.escape(key) + r"\s*=.*$", re.M)
            if pattern.search(text):
                text = pattern.sub(lambda _m: line, text, count=1)
            else:
                text = text.replace("[app:main]\n", f"[app:main]\n{line}\n", 1)
        _write_private(ini, text)
        return ini

    def _start_server(self, ini: Path, port: int, pids: dict[str, int]) -> None:
        pids["ckan"] = _spawn(
            [self._bin("ckan"), "-c", str(ini), "run", "--host", "127.0.0.1", "--port", str(port),
             "--disable-reloader", "--threaded"],
            self.run_dir / "server.log",
        )

    def _wait_ready(self, url: str, pids: dict[str, int], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _status_show(url) is not None:
                return
            if not _alive(pids["ckan"]):
                break
            time.sleep(0.2)
        log = self.run_dir / "server.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
        raise CkanUnavailable(f"CKAN did not answer at {url}:\n{tail}")

    def _kill(self, pids: dict[str, int]) -> bool:
        """SIGTERM then SIGKILL each recorded pid, only if it is still ours."""
        any_alive = False
        marker = str(self.run_dir)
        for pid in pids.values():
            if _is_ours(pid, marker):
                any_alive = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for pid in pids.values():
            while _is_ours(pid, marker) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _is_ours(pid, marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for pid in pids.values():  # reap the ones this Python process started
            proc = _CHILDREN.pop(pid, None)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        return any_alive


# ---------------------------------------------------------------- helpers


# Popen objects of the processes this Python process started, so that stopping
# them also reaps them (no zombies, no "still running" ResourceWarning).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(cmd: list[str], logfile: Path) -> int:
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=logfile.parent, start_new_session=True
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except (FileNotFoundError, IndexError):
        return False


def _is_ours(pid: int, marker: str) -> bool:
    """True when ``pid`` is alive and its command line names our run dir (guards pid reuse)."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_show(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{url}/api/3/action/status_show", timeout=2) as resp:
            return json.load(resp)["result"]
    except (OSError, ValueError, KeyError):
        return None


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local CKAN for the DataSud publication tests")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help="holds venv/ and run/ (default: %(default)s)")
    parser.add_argument("--run-dir", help="instance state folder (default: WORKDIR/run)")
    parser.add_argument("--database", default="ckan_test")
    parser.add_argument("--redis-db", type=int, default=1)
    parser.add_argument("--drop-database", action="store_true", help="with down: also drop the database")
    args = parser.parse_args(argv)
    mgr = LocalCkan(args.workdir, run_dir=args.run_dir, database=args.database, redis_db=args.redis_db)
    if args.command == "up":
        try:
            inst = mgr.up()
        except CkanUnavailable as exc:
            _log(f"ERROR: {exc}")
            return 2
        print(inst.to_json(), flush=True)  # the one place the token is printed
        return 0
    if args.command == "down":
        stopped = mgr.down(drop_database=args.drop_database)
        _log("stopped" if stopped else "nothing was running")
        return 0
    info = mgr.status()
    print(json.dumps(info, sort_keys=True))
    return 0 if info["running"] else 1


if __name__ == "__main__":
    sys.exit(main())
