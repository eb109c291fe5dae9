"""Explanations in business words: SHAP values summed per business field, reasons, sub-scores.

Owns: the feature -> field map, the exact fast TreeSHAP for shallow LightGBM trees (with the
booster's own `pred_contrib` as fallback), the phrasing of reasons, fit/engagement sub-scores and
the explanation plots. May import: pipeline.features (field names) and the foundation
(config, errors). It takes models duck-typed, so it does not import modeling.
"""
