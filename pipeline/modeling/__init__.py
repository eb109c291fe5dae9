"""Fitting: training rows, the booster, calibration, cutoffs, the fitted artifact, train and tune.

Owns: the time split, training-row preparation (once, for train, tune, backtests and notebooks),
the category encoder + LightGBM, calibration, size-aware parameters, MQL/SQL cutoffs, the
`LeadScorer` (the one fitted artifact: features + booster + calibrator + cutoffs + explainer),
the pure `train` pipeline, backtests and `tune`. May import: io, features, explain, evaluation,
linear, candidates (same layer), monitoring and the foundation. `LeadScorer` lives here rather
than in serving because training builds it: serving imports it, never the other way round.
"""
