"""The code location: `workspace.yaml` and `dg` load `defs` from here."""

from energy_pipelines.build import build_defs
from energy_pipelines.settings import export_dagster_tuning, load_settings

settings = load_settings()
# the code server launches the run workers: they inherit Dagster's bookkeeping settings from here
export_dagster_tuning(settings)
defs = build_defs(settings)
