"""energy_pipelines"""
