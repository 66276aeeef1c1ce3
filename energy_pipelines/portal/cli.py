"""`energy-pipelines access ...`: access requests to restricted products, from the command line.

    energy-pipelines access request --product P [--product P2] --name N --email E --organisation O
                                    --portal-user U --purpose TEXT --days N
    energy-pipelines access approve REQUEST_ID --as APPROVER_ID [--note TEXT]
    energy-pipelines access deny REQUEST_ID --as APPROVER_ID --reason TEXT
    energy-pipelines access list [--status pending|approved|granted|denied|expired] [--json]
    energy-pipelines access reconcile    grant what is approved, revoke what has expired (the daily schedule)

Register it with `add_parser(subparsers)` from the main CLI. The platform team runs these commands;
`--as` names the approver who answered (declared in assets_config/access.yaml) and goes to the
audit log. When the last approval arrives the grant is made at once on the portal; if the portal
cannot be reached it stays due and the daily schedule retries it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STATUSES = ("pending", "approved", "granted", "denied", "expired")


def _register(settings=None):
    from energy_pipelines.build import build_data_assets
    from energy_pipelines.catalog import default_catalog
    from energy_pipelines.portal.access import AccessRegister
    from energy_pipelines.portal.config import load_access_config
    from energy_pipelines.settings import load_settings

    settings = settings or load_settings()
    catalog = default_catalog()
    _, lineage = build_data_assets(catalog, settings)
    return settings, AccessRegister(settings.home / "access", catalog, lineage, load_access_config(catalog))


def grantor_for(settings):
    from energy_pipelines.portal.access import MirrorGrantor
    from energy_pipelines.publish import CkanPublisher

    if settings.publish_target == "datasud":
        return CkanPublisher.from_settings(settings)
    return MirrorGrantor(Path(settings.published_dir))


def _show(req, out=None) -> None:
    out = out or sys.stdout  # looked up at call time: a default bound at import keeps a stream that may be gone
    print(f"{req.id}  {req.status}  {req.requester['name']} ({req.requester['organisation']}, "
          f"portal account {req.requester['portal_user']})", file=out)
    print(f"  products: {', '.join(req.products)}; {req.days} day(s); purpose: {req.purpose}", file=out)
    for party in req.parties:
        if party in req.approvals:
            a = req.approvals[party]
            print(f"  {party}: approved by {a['by']} at {a['at']}" + (f" ({a['note']})" if a["note"] else ""), file=out)
        elif req.denial and req.denial["party"] == party:
            print(f"  {party}: REFUSED by {req.denial['by']} at {req.denial['at']}: {req.denial['reason']}", file=out)
        else:
            print(f"  {party}: waiting", file=out)
    if req.granted:
        print(f"  granted: {', '.join(req.granted)} until {req.expires_at.isoformat() if req.expires_at else '?'}",
              file=out)
    if req.revoked:
        print(f"  revoked: {', '.join(req.revoked)}", file=out)
    for failure in req.failures[-3:]:
        print(f"  failure: {failure}", file=out)


def _cmd(args) -> int:
    from energy_pipelines.portal.access import APPROVED, AccessError
    from energy_pipelines.publish import PublicationError

    try:
        settings, register = _register()
        if args.access_command == "request":
            req = register.request(name=args.name, email=args.email, organisation=args.organisation,
                                   portal_user=args.portal_user, purpose=args.purpose, products=args.product,
                                   days=args.days)
            print(f"recorded {req.id}; waiting for: {', '.join(req.waiting_for)}")
        elif args.access_command in ("approve", "deny"):
            if args.access_command == "approve":
                req = register.approve(args.request, args.approver, args.note or "")
            else:
                req = register.deny(args.request, args.approver, args.reason)
            if req.status == APPROVED:
                done = register.reconcile(grantor_for(settings))
                req = register.get(req.id)
                if done["failed"]:
                    print("the portal could not grant it now; the daily schedule will retry", file=sys.stderr)
            _show(req)
        elif args.access_command == "list":
            reqs = [r for r in register.requests().values() if args.status is None or r.status == args.status]
            if args.json:
                print(json.dumps([r.as_dict() for r in reqs], indent=1, ensure_ascii=False))
            else:
                for r in reqs:
                    _show(r)
                if not reqs:
                    print("no access request" + (f" with status {args.status}" if args.status else ""))
        elif args.access_command == "reconcile":
            done = register.reconcile(grantor_for(settings))
            print(f"granted {len(done['granted'])}, revoked {len(done['revoked'])}, failed {len(done['failed'])}")
            return 1 if done["failed"] else 0
    except AccessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PublicationError as exc:  # the portal's configuration (never shows the key)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `access` and its sub-commands to the main CLI's subparsers."""
    p = subparsers.add_parser("access", help="access requests to restricted products (request, approve, deny, list)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="access_command", required=True)
    r = sub.add_parser("request", help="record a request for restricted products")
    r.add_argument("--product", action="append", required=True, help="a restricted product id (repeat for several)")
    r.add_argument("--name", required=True, help="who asks: first and last name")
    r.add_argument("--email", required=True, help="their e-mail address")
    r.add_argument("--organisation", required=True, help="their organisation")
    r.add_argument("--portal-user", required=True, help="their account on the portal, which receives the access")
    r.add_argument("--purpose", required=True, help="what the data will be used for")
    r.add_argument("--days", type=int, required=True, help="how many days of access (at most access.yaml's maximum)")
    for name, help_text in (("approve", "record an approval"), ("deny", "record a refusal (closes the request)")):
        a = sub.add_parser(name, help=help_text)
        a.add_argument("request", help="the request id, e.g. DA-20251026-1a2b3c")
        a.add_argument("--as", dest="approver", required=True, help="the approver's id in access.yaml")
        if name == "approve":
            a.add_argument("--note", help="an optional note kept in the audit log")
        else:
            a.add_argument("--reason", required=True, help="why the request is refused (shown to the requester)")
    ls = sub.add_parser("list", help="list the requests and where each stands")
    ls.add_argument("--status", choices=STATUSES, help="only the requests with this status")
    ls.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub.add_parser("reconcile", help="grant approved requests and revoke expired grants now (what the daily "
                                     "schedule does)")
    p.set_defaults(func=_cmd)
    return p
