"""How good a model is, in numbers people plan with: metrics, baselines, funnel, slices, gate.

Owns: classification metrics (AUC, ECE, lift...), the points-rule baseline, paired tests, the
funnel and slice tables, the quality tables of a run, the pure promotion-gate decision and the
evaluation plots. May import: pipeline.features, pipeline.explain and the foundation. It never
fits a model: the logistic baseline is the logistic candidate of pipeline.modeling, and backtests,
which refit the recipe, are in pipeline.training.
"""
