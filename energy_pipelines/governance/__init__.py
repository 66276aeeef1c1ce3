"""Who owns what: ownership and access propagated along the asset graph, and the publication policy."""

from energy_pipelines.governance.lineage import Effective, compute_lineage

__all__ = ["Effective", "compute_lineage"]
