"""Predictive lead scoring."""
