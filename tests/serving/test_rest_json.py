"""REST answers are valid JSON: a failed record and an empty sub-score read `null`, never
`NaN` (which `json.loads` in strict mode, and every browser, refuses)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipeline.serving.rest import _answer


def test_answer_with_a_rejected_record_and_empty_subscores_is_strict_json():
    ids = pd.Series(["L1", "L2", "L3"], dtype="string")
    out = pd.DataFrame(
        {
            "probability": [0.4, 0.1],
            "score": [80, 20],
            "stage": ["MQL", "lead"],
            "reason_1": ["[+] a demo", None],
            "fit_score": [55.0, np.nan],
            "engagement_score": [np.nan, np.nan],
        },
        index=["L1", "L3"],
    )
    errors = pd.Series([pd.NA, "created_at: not a date 'x'", pd.NA], dtype="string")
    for explain in (True, False):
        res = _answer(ids, out, errors, "3", explain)
        text = json.dumps(res.to_dict(orient="records"), allow_nan=False)  # raises on NaN
        rows = json.loads(text)
        assert rows[1]["probability"] is None and rows[1]["error"].startswith("record 1")
        assert rows[0]["probability"] == 0.4 and rows[0]["error"] is None
        if explain:
            assert rows[0]["engagement_score"] is None and rows[2]["fit_score"] is None
            assert rows[1]["score"] is None and rows[0]["score"] == 80
