"""Access requests to restricted products: approvals by every owner and the committee, grants on a REAL CKAN,
revocation at expiry by the daily schedule, refusals that say who and why, and an append-only audit log."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import dagster as dg
import pytest
import requests
import yaml

from energy_pipelines.build import build_data_assets
from energy_pipelines.catalog import load_catalog
from energy_pipelines.clock import PARIS, UTC
from energy_pipelines.portal.access import (
    APPROVED, DENIED, EXPIRED, GRANTED, PENDING, AccessError, AccessRegister, MirrorGrantor,
)
from energy_pipelines.portal.config import COMMITTEE, load_access_config
from energy_pipelines.publish import CkanPublisher, PublicationRequest, ResourceFile
from energy_pipelines.settings import CATALOG_DIR, load_settings
from tests.ckan_server import unique_name

PRODUCT = "out_rte__eco2mix_regional"


@pytest.fixture(scope="module")
def restricted(tmp_path_factory):
    """The project's catalogue with RTE's source restricted: its product is published privately in RTE's org."""
    root = tmp_path_factory.mktemp("access")
    copy = root / "assets_config"
    shutil.copytree(CATALOG_DIR, copy)
    path = copy / "datasets" / "raw_rte__eco2mix_regional.yaml"
    data = yaml.safe_load(path.read_text())
    data["access"] = "restricted"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    catalog = load_catalog(copy)
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(root / "home")})
    _, lineage = build_data_assets(catalog, settings)
    return catalog, lineage, settings


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def register_for(restricted, tmp_path, clock=None) -> AccessRegister:
    catalog, lineage, _ = restricted
    return AccessRegister(tmp_path / "access", catalog, lineage, load_access_config(catalog),
                          clock=clock or (lambda: datetime.now(UTC)))


def ask(register, **changes):
    fields = dict(name="Camille Martin", email="camille@labo.example", organisation="Laboratoire d'économie de l'énergie",
                  portal_user="camille-martin", purpose="Étude des pointes de consommation", products=[PRODUCT], days=30)
    return register.request(**{**fields, **changes})


class RecordingGrantor:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple] = []
        self.fail = fail

    def grant_read(self, package, user, expires):
        if self.fail:
            raise ConnectionError("portal unreachable")
        self.calls.append(("grant", package, user, expires))

    def revoke_read(self, package, user):
        self.calls.append(("revoke", package, user))
        return True


def test_every_owner_of_the_lineage_and_the_committee_must_approve(restricted, tmp_path):
    catalog, lineage, _ = restricted
    register = register_for(restricted, tmp_path)
    req = ask(register)
    assert req.parties == (*lineage[PRODUCT].owners, COMMITTEE) == ("rte", COMMITTEE)
    assert req.status == PENDING and req.waiting_for == ("rte", COMMITTEE)
    grantor = RecordingGrantor()
    register.approve(req.id, "rte-donnees", "usage de recherche conforme")
    assert register.reconcile(grantor)["granted"] == [] and register.get(req.id).waiting_for == (COMMITTEE,)
    with pytest.raises(AccessError, match="already approved"):
        register.approve(req.id, "rte-donnees")
    with pytest.raises(AccessError, match="enedis, which is not a party"):
        register.approve(req.id, "enedis-donnees")
    with pytest.raises(AccessError, match="not an approver"):
        register.approve(req.id, "someone-else")
    assert register.approve(req.id, "copil-region-sud").status == APPROVED
    done = register.reconcile(grantor)
    assert done["granted"] == [f"{req.id}/{PRODUCT}"] and grantor.calls[0][:3] == ("grant", PRODUCT, "camille-martin")
    req = register.get(req.id)
    assert req.status == GRANTED
    # expiry: the grant's Paris day plus the requested days, at Paris midnight
    granted_day = datetime.fromisoformat(req.granted[PRODUCT]).astimezone(PARIS).date()
    assert req.expires_at.astimezone(PARIS).date() == granted_day + timedelta(days=30)
    assert req.expires_at.astimezone(PARIS).hour == 0
    assert register.reconcile(grantor) == {"granted": [], "revoked": [], "failed": []}  # nothing twice


def test_a_refusal_names_who_refused_and_why_and_nothing_is_granted(restricted, tmp_path):
    register = register_for(restricted, tmp_path)
    req = ask(register)
    register.approve(req.id, "copil-region-sud")
    with pytest.raises(AccessError, match="must give its reason"):
        register.deny(req.id, "rte-donnees", "  ")
    req = register.deny(req.id, "rte-donnees", "Données de consolidation non encore publiables")
    assert req.status == DENIED
    assert req.denial["party"] == "rte" and req.denial["by"] == "rte-donnees"
    assert req.denial["reason"] == "Données de consolidation non encore publiables"
    with pytest.raises(AccessError, match="is denied: it takes no more answers"):
        register.approve(req.id, "rte-donnees")
    grantor = RecordingGrantor()
    assert register.reconcile(grantor)["granted"] == [] and grantor.calls == []


def test_requests_for_open_closed_or_unknown_products_are_refused_with_reasons(restricted, tmp_path):
    register = register_for(restricted, tmp_path)
    with pytest.raises(AccessError) as exc:
        ask(register, products=["out_uc3__rates_hourly", "core_acc__allocation", "out_nope__x"], days=4000,
            email="not-an-email", portal_user="Camille Martin")
    text = str(exc.value)
    assert "out_uc3__rates_hourly is open: it needs no request" in text
    assert "'core_acc__allocation' is not a published product" in text and "'out_nope__x'" in text
    assert "between 1 and 365 days" in text and "'not-an-email' is not an e-mail" in text
    assert "'Camille Martin' is not a portal account name" in text
    assert register.requests() == {}  # nothing recorded


def test_the_audit_log_is_append_only_and_says_every_step(restricted, tmp_path):
    clock = Clock(datetime(2025, 10, 26, 9, 0, tzinfo=UTC))
    register = register_for(restricted, tmp_path, clock)
    req = ask(register)
    snapshots = [register.log_path.read_bytes()]
    register.approve(req.id, "rte-donnees")
    snapshots.append(register.log_path.read_bytes())
    register.approve(req.id, "copil-region-sud")
    snapshots.append(register.log_path.read_bytes())
    failing = RecordingGrantor(fail=True)
    assert register.reconcile(failing)["failed"] == [f"{req.id}/{PRODUCT}"]  # kept due, recorded
    snapshots.append(register.log_path.read_bytes())
    grantor = RecordingGrantor()
    register.reconcile(grantor)  # the daily retry grants it
    clock.t += timedelta(days=31)
    register.reconcile(grantor)  # past expiry: revoked
    snapshots.append(register.log_path.read_bytes())
    for before, after in zip(snapshots, snapshots[1:]):
        assert after.startswith(before)  # earlier lines never change
    events = [json.loads(line) for line in register.log_path.read_text().splitlines()]
    assert [e["event"] for e in events] == ["requested", "approved", "approved", "grant_failed", "granted", "revoked"]
    assert [e["seq"] for e in events] == list(range(1, 7))
    assert "portal unreachable" in events[3]["error"]
    assert register.get(req.id).status == EXPIRED
    assert [c[0] for c in grantor.calls] == ["grant", "revoke"]
    assert not list((tmp_path / "access").glob(".*.tmp"))


def test_the_mirror_target_records_readers_beside_the_product(restricted, tmp_path):
    folder = tmp_path / "published" / "rte" / PRODUCT
    folder.mkdir(parents=True)
    (folder / "package.json").write_text("{}")
    mirror = MirrorGrantor(tmp_path / "published")
    mirror.grant_read(PRODUCT, "camille-martin", datetime(2025, 11, 25).date())
    assert json.loads((folder / "access.json").read_text()) == {"camille-martin": "2025-11-25"}
    assert mirror.revoke_read(PRODUCT, "camille-martin") and not mirror.revoke_read(PRODUCT, "camille-martin")
    with pytest.raises(AccessError, match="not in the portal mirror"):
        mirror.grant_read("out_absent__x", "u", datetime(2025, 1, 1).date())


def test_the_cli_records_lists_and_refuses(restricted, tmp_path, monkeypatch, capsys):
    import argparse

    from energy_pipelines.portal import cli

    catalog, lineage, _ = restricted
    monkeypatch.setattr(cli, "_register", lambda settings=None: (
        load_settings({"ENERGY_PIPELINES_HOME": str(tmp_path / "home")}), register_for(restricted, tmp_path)))
    parser = argparse.ArgumentParser(prog="energy-pipelines")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))

    def run(*argv):
        args = parser.parse_args(list(argv))
        return args.func(args)

    assert run("access", "request", "--product", PRODUCT, "--name", "Camille Martin", "--email", "c@labo.example",
               "--organisation", "Labo", "--portal-user", "camille", "--purpose", "Étude", "--days", "10") == 0
    rid = capsys.readouterr().out.split()[1].rstrip(";")
    assert run("access", "deny", rid, "--as", "rte-donnees", "--reason", "pas de convention signée") == 0
    out = capsys.readouterr().out
    assert "rte: REFUSED by rte-donnees" in out and "pas de convention signée" in out
    assert run("access", "list", "--status", "denied", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [rid] and listed[0]["denial"]["reason"] == "pas de convention signée"
    assert run("access", "approve", rid, "--as", "copil-region-sud") == 2
    assert "takes no more answers" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a refusal without a reason is not even parsed
        parser.parse_args(["access", "deny", rid, "--as", "rte-donnees"])
    # the same commands are reachable from the main CLI
    from energy_pipelines import cli as main_cli

    assert main_cli.main(["access", "list", "--status", "denied", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [rid]


# ---------------------------------------------------------------------------------------------- real CKAN


def _portal_product(ckan_server, tmp_path, admin_token: str, org: str) -> str:
    """A private dataset (with a file) as the publisher makes it for a restricted product."""
    name = unique_name(PRODUCT.replace("_", "-"))
    data = tmp_path / "part.parquet"
    data.write_bytes(b"PAR1 not really parquet PAR1")
    CkanPublisher(ckan_server.url, admin_token).publish(PublicationRequest(
        name=name, title="Mix électrique (restreint)", notes="", owner_org=org, private=True, license_id="lov2",
        resources=(ResourceFile("part.parquet", data, "Parquet"),)))
    return name


@pytest.mark.services
def test_access_flow_on_a_real_ckan(ckan_server, restricted, tmp_path):
    catalog, lineage, _ = restricted
    admin, admin_token = ckan_server.create_user(unique_name("region-admin"))  # admin of the owner's org
    org = unique_name("rte")
    ckan_server.create_organization(org, members={admin["name"]: "admin"})
    requester, requester_token = ckan_server.create_user(unique_name("camille"))
    package = _portal_product(ckan_server, tmp_path, admin_token, org)
    api = f"{ckan_server.url}/api/3/action/package_show"

    def as_requester() -> int:
        return requests.post(api, json={"id": package}, headers={"Authorization": requester_token}, timeout=30).status_code

    def anonymous() -> int:
        return requests.post(api, json={"id": package}, timeout=30).status_code

    class PortalNames(CkanPublisher):
        """The catalogue's product id is the dataset name on the portal; here the test's unique name."""

        def grant_read(self, product, user, expires):
            return super().grant_read(package, user, expires)

        def revoke_read(self, product, user):
            return super().revoke_read(package, user)

    portal = PortalNames(ckan_server.url, admin_token)
    clock = Clock(datetime.now(UTC) - timedelta(days=40))  # the request was made and granted 40 days ago
    register = register_for(restricted, tmp_path, clock)
    req = ask(register, portal_user=requester["name"], days=30)

    assert as_requester() == 403 and anonymous() == 403  # before approval
    register.approve(req.id, "rte-donnees")
    register.reconcile(portal)
    assert as_requester() == 403  # one approval is not enough
    register.approve(req.id, "copil-region-sud")
    assert register.reconcile(portal)["granted"] == [f"{req.id}/{PRODUCT}"]
    assert as_requester() == 200 and anonymous() == 403  # granted to that account only
    shown = requests.post(api, json={"id": package}, headers={"Authorization": requester_token}, timeout=30).json()
    res = shown["result"]["resources"][0]
    assert requests.get(res["url"], headers={"Authorization": requester_token}, timeout=30).status_code == 200
    assert requester["id"] in portal.collaborators(package)

    # 29 days later: not expired yet, nothing revoked
    clock.t += timedelta(days=29)
    assert register.reconcile(portal)["revoked"] == [] and as_requester() == 200

    # the daily schedule's job, run now (real clock, past the expiry), revokes it on the portal
    from energy_pipelines.portal import dagster as portal_dagster
    from energy_pipelines.resources import Platform, Portal

    job, schedule = portal_dagster.build_access_job(catalog, lineage)
    assert schedule.cron_schedule == "15 0 * * *" and schedule.execution_timezone == "Europe/Paris"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    settings = load_settings({"ENERGY_PIPELINES_HOME": str(tmp_path), "DATASUD_URL": ckan_server.url,
                              "DATASUD_API_KEY": admin_token, "ENERGY_PIPELINES_PUBLISH_TARGET": "datasud"})

    class TestPortal(Portal):
        def publisher(self):
            return PortalNames(ckan_server.url, admin_token)

    result = job.execute_in_process(resources={
        "platform": Platform.from_settings(settings), "portal": TestPortal(target="datasud", mirror_root=str(tmp_path))})
    assert result.success
    assert result.output_for_node("reconcile_access_grants")["revoked"] == [f"{req.id}/{PRODUCT}"]
    assert as_requester() == 403 and anonymous() == 403  # after expiry
    assert requester["id"] not in portal.collaborators(package)
    assert register.get(req.id).status == EXPIRED
