"""What moves a lead's probability, by business field, on the probability scale people read.

SHAP values live in the booster's log-odds, where "+0.4" means nothing to a marketing manager.
For each lead of the explained test sample and each business field we compute

    change = calibrated(log-odds of the lead) - calibrated(log-odds minus the field's SHAP value)

that is: how many percentage points the field, as it is for this lead, adds to or takes from the
calibrated probability, compared with the field at its average effect (the SHAP baseline), every
other field of the lead held as it is. A field's driver row averages these changes over the
sample. The calibrated scale is used on purpose: it is the probability the scores file shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.explain.fields import field_matrix, with_context
from pipeline.modeling.scorer import Scorer

DEFINITION = (
    "For every lead in a sample of recent test leads, the model's probability is computed twice: "
    "once as it is, and once with this field's contribution taken out (the field set to its "
    "average effect over the training leads, SHAP's baseline), everything else unchanged. The "
    "difference, in percentage points of the calibrated probability, is the field's effect on "
    "that lead. 'Average move' is the mean size of that effect over the sample; 'raises' and "
    "'lowers' average it over the leads it helps and the leads it hurts."
)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def calibrate_logodds(calibrator: object, logit: np.ndarray) -> np.ndarray:
    """Calibrated probabilities from booster log-odds, with the fitted calibrator's own maps
    (averaged over its folds, as `CalibratedClassifierCV.predict_proba` does). scikit-learn feeds
    its maps the decision function (log-odds) when the model has one, else the probability."""
    maps = []
    for cc in calibrator.calibrated_classifiers_:
        x = logit if hasattr(cc.estimator, "decision_function") else _sigmoid(logit)
        maps.append(cc.calibrators[0].predict(x))
    return np.clip(np.mean(maps, axis=0), 0.0, 1.0)


def probability_changes(
    scorer: Scorer, X: pd.DataFrame
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(fields, each row's calibrated probability, per row and field that probability minus the
    one without the field's log-odds part), each row on the scale of the model that serves it
    (its own base value and calibrator: a segment's rows never go through the pooled model's)."""
    context = (scorer.meta.get("schema") or {}).get("context")  # one field, as in the reasons
    fields, m = field_matrix(with_context(scorer.builder.feature_fields, context))
    out, served = np.zeros((len(X), len(fields))), np.zeros(len(X))
    for model, rows in scorer.served_by(X):
        contrib, base = model.contributions(X.iloc[rows])
        by_field = contrib @ m
        logit = contrib.sum(axis=1) + base
        served[rows] = now = calibrate_logodds(model.calibrator, logit)
        for j in range(len(fields)):
            out[rows, j] = now - calibrate_logodds(model.calibrator, logit - by_field[:, j])
    return fields, served, out


def probability_drivers(scorer: Scorer, X: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """One row per business field, biggest average move first (see the module docstring).

    Columns: field, average_move, share_raised, raises, lowers (changes as probability shares).
    """
    fields, _, changes = probability_changes(scorer, X)
    rows = []
    for j, f in enumerate(fields):
        change = changes[:, j]
        up, down = change[change > 0], change[change < 0]
        rows.append(
            {
                "field": f,
                "average_move": float(np.abs(change).mean()),
                "share_raised": float((change > 0).mean()),
                "raises": float(up.mean()) if len(up) else float("nan"),
                "lowers": float(down.mean()) if len(down) else float("nan"),
            }
        )
    out = pd.DataFrame(rows).sort_values("average_move", ascending=False, ignore_index=True)
    return out.head(top)
