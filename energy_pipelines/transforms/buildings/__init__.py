"""UC4: energy of the Region's lycées and buildings, from bills and meters to baselines and savings.

Pure functions only (no Dagster). The order of the flow:
`calendar` (occupancy and degree days) -> `bills` (clean bill lines) -> `allocation` (calendar
months) and `curves` (daily load, reconciliation) -> `baseline` (IPMVP option C change-point models,
ASHRAE Guideline 14) -> `anomalies` (what a building manager can act on) -> `savings` (avoided
consumption, décret tertiaire trajectory) -> `products` (the functions the catalogue's `derive:`
blocks name).
"""
