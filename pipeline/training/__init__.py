"""Training as a sequence of steps: the pure `train` pipeline, the backtests and `tune`.

Owns: the order of training (prepare rows, fit the candidates, calibrate, choose cutoffs,
evaluate out of time, explain, backtest), the backtests that refit the recipe period by period,
and hyper-parameter tuning. May import: pipeline.candidates, pipeline.modeling (the estimators and
the fitted `LeadScorer`), the stages below them and the foundation. Kept apart from
pipeline.modeling so that the estimators stay small and the steps read as one story.
"""
