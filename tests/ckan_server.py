"""A real local CKAN for tests: the session-scoped ``ckan_server`` fixture.

Register it once in a conftest (tests/integration/conftest.py does)::

    from tests.ckan_server import ckan_server  # noqa

then ask for it in a test and mark the test ``services``::

    @pytest.mark.services
    def test_something(ckan_server):
        user, token = ckan_server.create_user(unique_name("editor"))
        ckan_server.create_organization(unique_name("org"), members={user["name"]: "editor"})
        ckan_server.url, ckan_server.token  # sysadmin API token

The fixture is a :class:`CkanInstance` from ``deploy/ckan/local_ckan.py``: real
CKAN 2.11 in its own venv (``.cache/ckan/venv``, installed on first use), a
fresh database of its own, a fake Solr, all on free loopback ports. Each test
session gets its own run folder and database, so two test runs on one machine
do not stop each other's portal; the venv is shared.

Services rule: when CKAN cannot be brought up (no PostgreSQL/Redis, install
failure...) the tests that need it SKIP with the reason, or FAIL when
``REQUIRE_SERVICES=1`` (CI sets it).
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import random
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
_counter = itertools.count(1)


def _load_local_ckan() -> ModuleType:
    # deploy/ is not a package: load the script by path.
    name = "energy_pipelines_local_ckan"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "ckan" / "local_ckan.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


local_ckan = _load_local_ckan()
CkanInstance = local_ckan.CkanInstance


def unique_name(prefix: str) -> str:
    """A CKAN-valid name unique within the session (orgs, users, datasets share one portal)."""
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def ckan_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CkanInstance]:
    tag = uuid.uuid4().hex[:8]
    manager = local_ckan.LocalCkan(
        os.environ.get("CKAN_TEST_WORKDIR") or local_ckan.DEFAULT_WORKDIR,  # shared venv lives here
        run_dir=tmp_path_factory.mktemp("ckan"),
        database=f"ckan_test_{tag}",
        redis_db=random.randint(2, 15),  # db 0 belongs to others, 1 to the CLI instance
        log=lambda msg: print(f"[ckan_server] {msg}", file=sys.stderr),
    )
    try:
        instance = manager.up()
    except local_ckan.CkanUnavailable as exc:
        reason = f"local CKAN could not be brought up: {exc}"
        if services_required():
            pytest.fail(f"REQUIRE_SERVICES=1 and {reason}", pytrace=False)
        pytest.skip(reason)
    try:
        yield instance
    finally:
        manager.down(drop_database=True)
