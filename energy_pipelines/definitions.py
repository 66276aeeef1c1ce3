"""The code location: `workspace.yaml` and `dg` load `defs` from here."""

from energy_pipelines.build import build_defs

defs = build_defs()
