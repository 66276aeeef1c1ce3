"""`energy-pipelines backup ARCHIVE` / `restore ARCHIVE`: the data root and the Dagster instance.

The archive is one tar file:
    data/             the data root (Parquet, landing, reports, warehouse.duckdb views, logs, the
                      CLI's SQLite instance), without temporary files of unfinished writes or lock files
    instance/         the production instance folder (`serve`'s: $DAGSTER_HOME or <data root>/instance)
    instance.pgdump   its PostgreSQL database (`pg_dump -Fc`), when the instance is PostgreSQL-backed

Restore writes into an empty (or absent) data root and a database that does not exist yet (it is
created), so a restore never mixes with live data. Stop `serve` before a backup: every file is
written atomically, but a run in progress could leave its window half-replaced across date files.
The database password goes to pg_dump/pg_restore through PGPASSWORD, never on a command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

from energy_pipelines.ops.serve import ServeError, ensure_database, instance_home
from energy_pipelines.settings import Settings, export_for_child, load_settings
from energy_pipelines.storage.atomic import TEMP_NAME

DATA, INSTANCE, PG_DUMP = "data", "instance", "instance.pgdump"


class BackupError(RuntimeError):
    """The backup or restore cannot proceed; the message names the path, database or tool at fault."""


def _postgres_backed(instance_dir: Path) -> bool:
    config_file = instance_dir / "dagster.yaml"
    if not config_file.exists():
        return False
    return "postgres" in ((yaml.safe_load(config_file.read_text()) or {}).get("storage") or {})


def _pg_environment(settings: Settings) -> dict[str, str]:
    env = export_for_child(settings)
    env.update({"PGHOST": settings.dagster_pg_host, "PGPORT": str(settings.dagster_pg_port),
                "PGUSER": settings.dagster_pg_user})
    if settings.dagster_pg_password.get_secret_value():
        env["PGPASSWORD"] = settings.dagster_pg_password.get_secret_value()
    return env


def _run_tool(argv: list[str], settings: Settings) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} not found on PATH (install the PostgreSQL client tools)")
    done = subprocess.run(argv, env=_pg_environment(settings), capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed on database {settings.dagster_pg_db}: {done.stderr.strip()[-800:]}")


def _without_temporaries(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """tarfile filter: no temporary file of an unfinished write, no lock file."""
    name = Path(member.name).name
    return None if TEMP_NAME.match(name) or name.endswith(".lock") else member


def backup(settings: Settings, archive: Path) -> list[str]:
    """Write the archive (atomically); the names of its parts."""
    home, instance_dir = settings.home, instance_home(settings)
    if not home.is_dir():
        raise BackupError(f"no data root at {home}")
    archive = archive.resolve()
    if archive.is_relative_to(home):
        raise BackupError(f"{archive} is inside the data root {home}; write the backup elsewhere")
    archive.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".backup-") as tmp:
        tmp_archive = Path(tmp) / archive.name
        with tarfile.open(tmp_archive, "w") as tar:
            for child in sorted(home.iterdir()):
                if child == instance_dir:
                    continue  # archived as instance/
                tar.add(child, arcname=f"{DATA}/{child.name}", filter=_without_temporaries)
            parts.append(DATA)
            if instance_dir.is_dir():
                tar.add(instance_dir, arcname=INSTANCE, filter=_without_temporaries)
                parts.append(INSTANCE)
            if _postgres_backed(instance_dir):
                dump = Path(tmp) / PG_DUMP
                _run_tool(["pg_dump", "-Fc", "--no-owner", "-f", str(dump), settings.dagster_pg_db], settings)
                tar.add(dump, arcname=PG_DUMP)
                parts.append(f"{PG_DUMP} ({settings.dagster_pg_db})")
        os.replace(tmp_archive, archive)
    return parts


def restore(settings: Settings, archive: Path) -> list[str]:
    """Restore the archive into this environment's (empty) data root, instance folder and database."""
    home, instance_dir = settings.home, instance_home(settings)
    if not archive.is_file():
        raise BackupError(f"no backup archive at {archive}")
    for target in (home, instance_dir):
        if target.exists() and any(target.iterdir()):
            raise BackupError(f"{target} is not empty; restore into a fresh data root")
    parts = []
    home.parent.mkdir(parents=True, exist_ok=True)
    # unpacked beside the data root, so moving into it is a rename on the same file system
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory(dir=home.parent, prefix=".restore-") as tmp:
        names = tar.getnames()
        if not any(n == DATA or n.startswith(f"{DATA}/") for n in names):
            raise BackupError(f"{archive} is not an energy-pipelines backup (no {DATA}/ inside)")
        tar.extractall(tmp, filter="data")  # refuses absolute paths, .. and links leaving the folder
        home.mkdir(parents=True, exist_ok=True)
        for child in (Path(tmp) / DATA).iterdir():
            shutil.move(str(child), home / child.name)
        parts.append(DATA)
        if (Path(tmp) / INSTANCE).is_dir():
            instance_dir.mkdir(parents=True, exist_ok=True)
            for child in (Path(tmp) / INSTANCE).iterdir():
                shutil.move(str(child), instance_dir / child.name)
            parts.append(INSTANCE)
        if (Path(tmp) / PG_DUMP).is_file():
            if not ensure_database(settings):
                raise BackupError(f"database {settings.dagster_pg_db} already exists; set DAGSTER_PG_DB to a new "
                                  "name (restore never writes over an instance)")
            _run_tool(["pg_restore", "--no-owner", "--exit-on-error", "-d", settings.dagster_pg_db,
                       str(Path(tmp) / PG_DUMP)], settings)
            parts.append(f"{PG_DUMP} -> {settings.dagster_pg_db}")
    return parts


def _cmd(action, done: str):
    def run(args) -> int:
        settings = load_settings()
        try:
            parts = action(settings, Path(args.archive))
        except (BackupError, ServeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(done.format(archive=args.archive, home=settings.home) + ", ".join(parts))
        return 0
    return run


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("backup", help="archive the data root and the instance (stop `serve` first)")
    p.add_argument("archive", help="the tar file to write (outside the data root)")
    p.set_defaults(func=_cmd(backup, "backup written to {archive}: "))
    p = subparsers.add_parser("restore", help="restore an archive into an empty data root and a new database")
    p.add_argument("archive", help="a tar file written by `energy-pipelines backup`")
    p.set_defaults(func=_cmd(restore, "restored into {home}: "))
