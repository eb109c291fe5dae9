"""How good a model is, in numbers people plan with: metrics, baselines, funnel, slices, gate.

Owns: classification metrics (AUC, ECE, lift...), the points-rule and logistic baselines, the
funnel and slice tables, the quality tables of a run, the pure promotion-gate decision and the
evaluation plots. May import: pipeline.features, pipeline.explain, pipeline.linear and the foundation. It never
fits the booster (backtests, which refit the recipe, are in pipeline.modeling).
"""
