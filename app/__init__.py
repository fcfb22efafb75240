"""Chargeback Desk: chargeback case handling for marketplaces and their sellers."""

__version__ = "0.1.0"
