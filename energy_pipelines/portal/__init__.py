"""The public face of the platform: the catalogue site, use-case pages and access requests.

- `site.build_site(source, root, inputs)`: the static French site beside the published products;
- `published`: what was published, read back from the mirror or from CKAN, and its quality;
- `access.AccessRegister`: access requests, approvals, grants and revocations, with an audit log;
- `dagster.portal_definitions(catalog, lineage, deps)`: the site asset and the daily access schedule;
- `cli.add_parser(subparsers)`: `energy-pipelines access request|approve|deny|list|reconcile`.
"""
