"""The estimators: training rows, the booster, calibration, cutoffs and the fitted artifact.

Owns: the time split, training-row preparation (once, for train, tune, backtests and notebooks),
the category encoder + LightGBM, calibration, size-aware parameters, MQL/SQL cutoffs and the
`LeadScorer` (the one fitted artifact: features + estimator + calibrator + cutoffs + explainer).
May import: io, features, explain, evaluation, linear, monitoring, validation and the foundation.
The order of training lives above it in pipeline.training; `LeadScorer` lives here rather than in
serving because training builds it: serving imports it, never the other way round.
"""
