"""The regularised logistic regression: the linear candidate model and the logistic baseline.

Owns: the scikit-learn Pipeline (one-hot categoricals, log-scaled standardized numerics, missing
indicators, L2 logistic regression) fit on the same feature frame as the booster, and its exact
per-feature contributions in log-odds (coefficient x (transformed value - training mean), summed
back onto each input column), which reasons and sub-scores read as they read SHAP values.
May import: the foundation (config, errors) and scikit-learn; it does not import modeling.
"""
