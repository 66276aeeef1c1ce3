"""Moved: statistical secrecy is the `energy_pipelines.secrecy` package, one module for the whole
platform (rules, system of tables, suppression, LP audit, product layouts). Re-exported here so
`transforms.secrecy` keeps working for callers not yet updated."""

from energy_pipelines.secrecy import *  # noqa: F403
from energy_pipelines.secrecy import __all__  # noqa: F401
