"""Training as a sequence of steps: the pure `train` pipeline, the backtests and `tune`.

Owns: the order of training (prepare rows, fit the candidates, calibrate, choose cutoffs,
evaluate out of time, explain, backtest), the backtests that refit the serving candidate period by
period, hyper-parameter tuning, and the Dask engine (`partitions`: the export read partitioned
by lead id on the workers; `distributed`: rows per partition and `lightgbm.dask`). May import: pipeline.modeling (the candidates, the estimators
and the fitted `LeadScorer`), the stages below them and the foundation. Kept apart from
pipeline.modeling so that the estimators stay small and the steps read as one story.
"""
