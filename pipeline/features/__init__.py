"""Point-in-time features: what a lead looked like at its as-of time, and the training snapshots.

Owns: `FeatureBuilder` (activity counts, windows and recencies, lead age, email domain, the
configured columns), the snapshots that replay historical leads at the ages they are scored at, and
when each outcome was known (`known`: the split and backtests on outcomes as known at the time
never learn an outcome early).
May import: pipeline.config, pipeline.errors. Nothing here knows about models, so the leakage
rule (only events strictly before as-of) is tested on its own.
"""
