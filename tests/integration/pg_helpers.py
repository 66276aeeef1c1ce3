"""A throw-away PostgreSQL database per test on the machine's server (skips when it is absent)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import require_service

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def pg_env(db: str) -> dict[str, str]:
    """The variables deploy/dagster.yaml reads, for database `db`."""
    return {"DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": str(PG["port"]), "DAGSTER_PG_USER": PG["user"],
            "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": db}


def connect(dbname: str = "test"):
    import psycopg2

    return psycopg2.connect(dbname=dbname, connect_timeout=3, **PG)


@contextmanager
def throwaway_database(prefix: str, *, create: bool = True) -> Iterator[str]:
    """A fresh database name (created unless `create=False`), dropped at the end whatever happened."""
    try:
        admin = connect()
    except Exception as exc:  # noqa: BLE001  (any connection failure means: no service)
        require_service(False, f"PostgreSQL not reachable on 127.0.0.1:5432 ({exc})")
    admin.autocommit = True
    db = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        if create:
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE {db}")
        yield db
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()
