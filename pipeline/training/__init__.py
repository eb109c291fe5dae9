"""Training as a sequence of steps: the pure `train` pipeline, the backtests and `tune`.

Owns: the order of training (prepare rows, fit the candidates, calibrate, choose cutoffs,
evaluate out of time, explain, backtest), the backtests that refit the serving candidate period by
period, and hyper-parameter tuning. May import: pipeline.modeling (the candidates, the estimators
and the fitted `LeadScorer`), the stages below them and the foundation. Kept apart from
pipeline.modeling so that the estimators stay small and the steps read as one story.
"""
