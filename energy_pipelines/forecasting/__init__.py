"""Forecasting for the whole platform: one definition of the scores (`scores`), the regressors
(`features`), the models (`models`), the rolling-origin backtest (`backtest`) and its command (`cli`)."""
