"""Partitioned, blocking data-quality checks: rules evaluated per game date, reported with the numbers behind them."""
