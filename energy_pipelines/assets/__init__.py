"""Dagster wiring: assets built from the catalogue and thin wrappers over the pure transforms."""
