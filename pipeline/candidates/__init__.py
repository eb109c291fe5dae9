"""Candidate models fit on the same training rows, and the choice among them on validation.

Owns: fitting each candidate of `training.candidates` (the LightGBM recipe and the regularised
logistic regression of `pipeline.linear`), their AUCs on the validation leads (one row per lead,
its last snapshot; the test leads are never read here) and the winner. May import:
pipeline.modeling.booster and .params (the booster recipe, one layer down), pipeline.linear,
pipeline.evaluation and the foundation. Training (pipeline.training.train) calls it.
"""
