"""The estimators: training rows, the candidate models, calibration, cutoffs, segments and the
fitted artifact.

Owns: the time split and training-row preparation (once, for train, tune, backtests and
notebooks); the candidates (`candidates`: the one place a LightGBM booster or a logistic model is
built, fitted and capped, and the choice among them on validation), the LightGBM recipe
(`booster`, `params`), the logistic model (`logistic`), calibration, MQL/SQL cutoffs, segment
models with a pooled fallback (`segments`, `segmented`), and the `LeadScorer` (the one fitted
artifact: features + estimator + calibrator + cutoffs + explainer). May import: io, features,
explain, evaluation, monitoring, validation and the foundation. `LeadScorer` lives here rather
than in serving because training builds it: serving imports it, never the other way round.
"""
