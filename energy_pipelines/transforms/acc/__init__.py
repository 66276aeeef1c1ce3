"""UC5 collective self-consumption (autoconsommation collective, ACC): pure functions, no Dagster."""
