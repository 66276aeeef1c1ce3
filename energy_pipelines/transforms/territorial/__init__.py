"""UC1 territorial energy indicators: referential, additive cells, ratios, clustering (pure functions)."""
