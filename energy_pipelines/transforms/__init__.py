"""Pure transforms: DataFrames in, DataFrames out, no Dagster. Each module is one domain step."""
