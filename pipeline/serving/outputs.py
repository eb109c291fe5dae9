"""The scores file's columns and cells: the contract's order, sub-scores after it, and no text cell
that a spreadsheet would read as a formula."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.io.rules import ECHO_CAP, clean_text, neutralise

SUBSCORES = ("fit_score", "engagement_score")  # beside the contract columns, after them
GRADE = "grade"  # A-D from the registered model's probability floors (modeling.grades)
SEGMENT = "model_segment"  # with segment models: the segment whose model scored the lead, or pooled
# since the lead's earlier scoring (serving.changes), and the packed parts the next run compares
CHANGES = ("score_change", "change_reason", "score_parts")


REASON_CAP = 2 * ECHO_CAP


@dataclass
class ScoreSummary:
    output: Path | str  # a file, or a database URL (password hidden)
    rejected_path: Path | None
    n_scored: int
    n_rejected: int
    model_version: str
    stages: dict[str, int]
    drift: pd.DataFrame | None = None  # PSI per feature vs the training reference
    rejected_activities: Path | None = None  # activity rows without a usable time
    run_id: str | None = None  # the run_id column of a database output
    grades: dict[str, tuple[int, float]] = field(default_factory=dict)  # leads, mean probability
    cutoffs: object | None = None  # the model's Cutoffs: the scoring report explains empty stages
    match_lines: tuple[str, ...] = ()  # the activities' match share (and a warning far below)

    @property
    def drift_checked(self) -> bool:
        """Enough scored leads for the drift table to be judged (see monitoring.drift)."""
        from pipeline.monitoring.drift import enough_rows

        return enough_rows(self.n_scored)


def _cleaned(out: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """The text cells that echo input (ids, reasons), without control characters and capped: an
    id at `ECHO_CAP` characters, a reason at `REASON_CAP` (its words plus one echoed value), each
    with an ellipsis when cut, so no cell breaks a spreadsheet (32,767 characters) or a CSV row.
    As pandas strings (missing: NA)."""
    ids = [("lead_id", clean_text(out["lead_id"]))] if "lead_id" in out.columns else []
    reasons = [c for c in out.columns if c.startswith("reason_")]
    return ids + [(c, _clean_repeated(out[c], REASON_CAP)) for c in reasons]


def _clean_repeated(s: pd.Series, cap: int) -> pd.Series:
    """`clean_text` of a column that repeats its values (a reason's words and value): each
    distinct value is cleaned once (~6k distinct reasons per 200k leads)."""
    codes, uniques = pd.factorize(s.astype("string"))
    values = pd.Series(uniques, dtype="string")
    cleaned = clean_text(values, cap)
    if cleaned.equals(values):  # clean already: the column as `clean_text` returns it
        return s.astype("string")
    return pd.Series(cleaned.array.take(codes, allow_fill=True), index=s.index)


def output_columns(n_reasons: int) -> list[str]:
    reasons = [f"reason_{i + 1}" for i in range(n_reasons)]
    contract = ["lead_id", "probability", "score", "stage", *reasons, "model_version", "scored_at"]
    return contract + (list(SUBSCORES) if n_reasons > 0 else []) + [GRADE]


def format_scores(out: pd.DataFrame, model_version: str, scored_at: str) -> pd.DataFrame:
    """The scores file's frame: cells as `_cleaned` makes them (kept as pandas strings, which
    `write_csv` reads without a conversion), ids neutralised, probability to 6 decimals."""
    out = out.reset_index().rename(columns={"index": "lead_id"})
    for c, cleaned in _cleaned(out):
        out[c] = cleaned
    out["lead_id"] = neutralise(out["lead_id"])
    out["probability"] = out["probability"].round(6)
    out["model_version"] = model_version
    out["scored_at"] = scored_at
    extra = [c for c in (*SUBSCORES, GRADE, SEGMENT, *CHANGES) if c in out.columns]
    return out[[c for c in out.columns if c not in extra] + extra]  # after the contract columns
