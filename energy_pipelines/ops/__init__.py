"""Operating the platform: the production stack (`serve`), alerts, backups."""


def add_parsers(subparsers) -> None:
    """Register the operations commands on the CLI's subparsers."""
    from energy_pipelines.ops import serve

    serve.add_parser(subparsers)
