"""`energy-pipelines serve`: the production stack on one machine, in the foreground.

    PostgreSQL   the instance's storage (deploy/dagster.yaml); the database is created when missing
    code server  `dagster api grpc` loading energy_pipelines.definitions (runs are launched from it)
    daemon       `dagster-daemon run`: schedules, sensors, the run queue, run monitoring and retries
    webserver    `dagster-webserver`: the UI and its GraphQL API
    reports      `<data root>/reports/` (Data Docs, charts) over http on 127.0.0.1 (a thread of this process),
                 the links of the checks' metadata (ENERGY_PIPELINES_REPORTS_URL, unless set already)

Each child runs in its own process group (a session of its own), so Ctrl-C in the terminal reaches
only this supervisor, which then stops the children group by group: SIGTERM, a grace period, then
SIGKILL for whatever is left (run workers started by the code server belong to its group). If a
child dies on its own, the others are stopped too and the exit code is 1: a service manager
(systemd, ...) restarts the whole stack rather than running half of it.

The instance lives in $DAGSTER_HOME when set, else `<data root>/instance`; its dagster.yaml is
copied from deploy/dagster.yaml on first start and must configure PostgreSQL storage. Logs go to
`<data root>/logs/serve/<child>.log`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from energy_pipelines.settings import PROJECT_ROOT, Settings, export_for_child, load_settings

DEPLOY_INSTANCE_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"
LOCATION_NAME = "energy_pipelines"
CODE_MODULE = "energy_pipelines.definitions"
STOP_GRACE_S = 20.0
BIN = Path(sys.executable).parent


class ServeError(RuntimeError):
    """The stack cannot start; the message names the file, service or port at fault."""


class StopRequested(Exception):
    """Ctrl-C/SIGTERM arrived while the stack was still starting."""


def _sleep_unless_stopped(stop: threading.Event, seconds: float) -> None:
    if stop.wait(seconds):
        raise StopRequested


def instance_home(settings: Settings) -> Path:
    return settings.dagster_home or settings.home / "instance"


def logs_dir(settings: Settings) -> Path:
    return settings.home / "logs" / "serve"


def prepare_instance(settings: Settings) -> Path:
    """The instance folder with a PostgreSQL-backed dagster.yaml (copied from deploy/ when absent)."""
    home = instance_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "dagster.yaml"
    if not config_file.exists():
        shutil.copyfile(DEPLOY_INSTANCE_YAML, config_file)
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ServeError(f"{config_file}: not valid YAML ({exc})") from None
    if "postgres" not in (config.get("storage") or {}):
        raise ServeError(f"{config_file}: storage is not PostgreSQL; `serve` runs the production instance "
                         f"(copy {DEPLOY_INSTANCE_YAML} there, or unset DAGSTER_HOME)")
    return home


def _connect(settings: Settings, dbname: str):
    import psycopg2

    try:
        return psycopg2.connect(host=settings.dagster_pg_host, port=settings.dagster_pg_port,
                                user=settings.dagster_pg_user, dbname=dbname, connect_timeout=5,
                                password=settings.dagster_pg_password.get_secret_value() or None)
    except psycopg2.OperationalError as exc:
        raise ServeError(f"PostgreSQL at {settings.dagster_pg_host}:{settings.dagster_pg_port} (user "
                         f"{settings.dagster_pg_user}, database {dbname}) is not reachable: "
                         f"{str(exc).strip()} (set DAGSTER_PG_HOST/PORT/USER/PASSWORD)") from None


def ensure_database(settings: Settings) -> bool:
    """Create the instance's database when missing; True when it was created."""
    from psycopg2 import sql

    admin = _connect(settings, "postgres")
    admin.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    try:
        with admin.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", [settings.dagster_pg_db])
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(settings.dagster_pg_db)))
            return True
    finally:
        admin.close()


def write_workspace(home: Path, grpc_port: int) -> Path:
    """The workspace of the webserver and the daemon: the code server, not an in-process load."""
    workspace = home / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
        "host": "127.0.0.1", "port": grpc_port, "location_name": LOCATION_NAME}}]}))
    return workspace


def child_environment(settings: Settings, home: Path, reports_url: str | None = None) -> dict[str, str]:
    """The children's environment: the same data root, where its reports are served and the instance's
    connection settings."""
    env = export_for_child(settings, home=str(settings.home),
                           **({"reports_url": reports_url} if reports_url else {}))
    env.update({
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": settings.dagster_pg_host,
        "DAGSTER_PG_PORT": str(settings.dagster_pg_port),
        "DAGSTER_PG_USER": settings.dagster_pg_user,
        "DAGSTER_PG_PASSWORD": settings.dagster_pg_password.get_secret_value(),
        "DAGSTER_PG_DB": settings.dagster_pg_db,
    })
    return env


def check_port_free(host: str, port: int, what: str) -> None:
    # the gRPC server only prints "Address already in use" and keeps running: find out first
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ServeError(f"{what} port {host}:{port} is not free ({exc.strerror}); choose another") from None


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_child(name: str, argv: Sequence[str], env: dict[str, str], logs: Path) -> Child:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {' '.join(argv)}\n".encode())
        out.flush()
        process = subprocess.Popen(list(argv), env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Child(name, process, log)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal still exists
        return True


def stop_child(child: Child, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left of it after the grace period."""
    pgid = child.process.pid  # the leader of its own session: group id == its pid
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if child.process.poll() is not None and not _group_exists(pgid):
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.process.wait()


def wait_for_code_server(child: Child, port: int, timeout_s: float, stop: threading.Event) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise ServeError(f"the code server exited (code {child.process.returncode}) while loading the "
                             f"definitions; see {child.log}:\n{child.log_tail()}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service="DagsterApi"), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        _sleep_unless_stopped(stop, 1)
    raise ServeError(f"the code server did not answer on 127.0.0.1:{port} within {timeout_s:.0f} s; see {child.log}")


def wait_for_webserver(child: Child, host: str, port: int, timeout_s: float, stop: threading.Event) -> None:
    import requests

    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/server_info"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise ServeError(f"the webserver exited (code {child.process.returncode}); see {child.log}:\n"
                             f"{child.log_tail()}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        _sleep_unless_stopped(stop, 1)
    raise ServeError(f"the webserver did not answer on {url} within {timeout_s:.0f} s; see {child.log}")


class Stack:
    """The running children, stopped in reverse order of their start."""

    def __init__(self) -> None:
        self.children: list[Child] = []

    def add(self, child: Child) -> Child:
        self.children.append(child)
        return child

    def dead(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)

    def stop(self) -> None:
        for child in reversed(self.children):
            stop_child(child)
        self.children.clear()


def serve(settings: Settings, *, host: str, port: int, grpc_port: int, startup_timeout_s: float = 600.0,
          stop_requested: threading.Event | None = None, reports_port: int | None = None) -> int:
    from energy_pipelines.checks.datadocs import ReportsServer

    stop_requested = stop_requested or threading.Event()
    reports_port = port + 1 if reports_port is None else reports_port
    check_port_free(host, port, "webserver")
    check_port_free("127.0.0.1", grpc_port, "code server")
    check_port_free("127.0.0.1", reports_port, "reports")
    home = prepare_instance(settings)
    if ensure_database(settings):
        print(f"created PostgreSQL database {settings.dagster_pg_db}")
    workspace = write_workspace(home, grpc_port)
    try:
        reports = ReportsServer(settings.reports_dir, reports_port)
    except OSError as exc:
        raise ServeError(f"reports port 127.0.0.1:{reports_port} is not free ({exc.strerror}); choose another") from None
    reports_url = settings.reports_url or reports.url
    env = child_environment(settings, home, reports_url)
    logs = logs_dir(settings)
    print(f"instance {home} (PostgreSQL {settings.dagster_pg_host}:{settings.dagster_pg_port}/"
          f"{settings.dagster_pg_db}), data root {settings.home}, logs {logs}, Data Docs on "
          f"{reports_url}data_docs/index.html", flush=True)
    stack = Stack()
    try:
        code = stack.add(start_child("code_server", [
            str(BIN / "dagster"), "api", "grpc", "-m", CODE_MODULE, "-a", "defs", "-h", "127.0.0.1",
            "-p", str(grpc_port), "--location-name", LOCATION_NAME], env, logs))
        wait_for_code_server(code, grpc_port, startup_timeout_s, stop_requested)
        stack.add(start_child("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, logs))
        web = stack.add(start_child("webserver", [str(BIN / "dagster-webserver"), "-h", host, "-p", str(port),
                                                  "-w", str(workspace)], env, logs))
        wait_for_webserver(web, host, port, startup_timeout_s, stop_requested)
        print(f"ready: Dagster UI on http://{host}:{port} (Ctrl-C stops the stack)", flush=True)
        while not stop_requested.wait(1.0):
            if (gone := stack.dead()) is not None:
                print(f"error: {gone.name} exited (code {gone.process.returncode}); stopping the stack. "
                      f"Last lines of {gone.log}:\n{gone.log_tail()}", file=sys.stderr, flush=True)
                return 1
        print("stopping: webserver, daemon, code server, reports", flush=True)
        return 0
    except StopRequested:
        print("stopping before the stack was ready", flush=True)
        return 0
    finally:
        stack.stop()
        reports.stop()


def _cmd_serve(args) -> int:
    stop = threading.Event()

    def _request_stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    try:
        return serve(load_settings(), host=args.host, port=args.port, grpc_port=args.grpc_port,
                     startup_timeout_s=args.startup_timeout, stop_requested=stop, reports_port=args.reports_port)
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("serve", help="run the production stack (PostgreSQL instance, code server, "
                                            "daemon, webserver) until Ctrl-C")
    p.add_argument("--host", default="127.0.0.1", help="interface of the UI (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    p.add_argument("--grpc-port", type=int, default=4266, help="port of the code server on 127.0.0.1 (default 4266)")
    p.add_argument("--reports-port", type=int, default=None,
                   help="port on 127.0.0.1 serving the Data Docs and charts the UI links to (default: --port + 1)")
    p.add_argument("--startup-timeout", type=float, default=600.0,
                   help="seconds to wait for the code server and the UI to answer (default 600)")
    p.set_defaults(func=_cmd_serve)
