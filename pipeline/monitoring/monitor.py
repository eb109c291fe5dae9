"""Monitoring after training: drift of each scoring run, and promises kept once outcomes arrive.

A scoring run is logged as an MLflow run (experiment `lead-scoring-scoring`, run name `score`)
with its row counts and the PSI of every feature against the training reference. `leadscore
monitor` joins the scores (a scores file, or the latest score of each lead in a database the
scoring runs append to) with outcomes that arrived later and compares, per stage, the conversion
the model promised (mean calibrated probability) with the conversion that happened, per stage and
per grade (A-D, the `grade` column; scores written before grades existed have none and are
monitored per stage only). Outcomes are read by the rule training reads them by
(`pipeline.io.canonical.outcome_labels`), so a lead counts as won here exactly when it would be
labelled won in training.

Grades are fixed probability floors, so a higher grade should convert more. When it significantly
does not, the floors no longer rank leads and the run says so (`grade_order_warnings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.canonical import outcome_labels
from pipeline.io.compressed import named_as, plain_file
from pipeline.io.keys import MatchCount, index_positions
from pipeline.io.readers import file_kind, require_columns
from pipeline.io.rules import normalize_ids

log = logging.getLogger(__name__)


GRADE_ALPHA = 0.05  # family-wise: split over the adjacent pairs of grades tested (Bonferroni)
STAGE_ORDER = ("SQL", "MQL", "lead")


@dataclass
class Monitored:
    """What `leadscore monitor` reports: the stage table, the grade table (None for scores
    without grades) and the lines to say about them (a grade order broken, grades left out)."""

    stages: pd.DataFrame
    grades: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


def with_outcomes(scores: pd.DataFrame, labels: pd.Series, absent_lost: bool) -> pd.DataFrame:
    """The scores indexed by lead id (the one id rule), with `won`: 1, 0, or NaN (no outcome
    yet; 0 when the outcomes list only the won leads)."""
    given = scores["lead_id"].astype("string").str.removeprefix("'")
    s = scores.assign(lead_id=normalize_ids(given))
    s = s.set_index("lead_id")
    y = labels.reindex(s.index)
    if absent_lost:
        y = y.fillna(0.0)
    s["won"] = y
    return s


def realised_per(s: pd.DataFrame, column: str, order: tuple[str, ...]) -> pd.DataFrame:
    """Per value of `column` (in `order`, then any other value sorted), of `with_outcomes` rows:
    leads scored, leads with an outcome, won, realised rate, promised (mean probability of the
    leads with an outcome, the ones the realised rate is over) and the gap."""
    rows = []
    present = set(s[column].dropna())
    for value in [*order, *sorted(present - set(order))]:
        g = s[(s[column] == value).to_numpy(dtype=bool, na_value=False)]
        if not len(g):
            continue
        known = g[g["won"].notna()]
        rows.append(
            {
                column: value,
                "scored": len(g),
                "with_outcome": len(known),
                "won": int(known["won"].sum()),
                "realised_conversion": float(known["won"].mean()) if len(known) else np.nan,
                "promised_conversion": float(known["probability"].mean()) if len(known) else np.nan,
            }
        )
    out = pd.DataFrame(rows)
    if len(out):
        out["gap"] = out["realised_conversion"] - out["promised_conversion"]
    return out


def has_grades(scores: pd.DataFrame) -> bool:
    """Whether the scores carry grades: a `grade` column with at least one grade in it (scores
    written before grades existed have no column; a model without floors leaves it empty)."""
    return "grade" in scores.columns and scores["grade"].notna().any()


def realised_by_grade(s: pd.DataFrame) -> pd.DataFrame:
    """Per grade, A to D, of `with_outcomes` rows: the stage table's columns, the mean calibrated
    probability of the grade's leads with an outcome as `expected_conversion`."""
    table = realised_per(s, "grade", ("A", "B", "C", "D"))
    return table.rename(columns={"promised_conversion": "expected_conversion"})


def grade_order_warnings(table: pd.DataFrame, alpha: float = GRADE_ALPHA) -> list[str]:
    """One line when a grade converts significantly below the grade under it.

    Each adjacent pair of grades with outcomes (A-B, B-C, C-D; a grade without outcomes is
    skipped, so A is compared with C when B has none) gets a one-sided Fisher's exact test of the
    2x2 table won/lost by grade, alternative: the higher grade converts less. Exact, so a grade of
    a few leads cannot reach significance on its own: "enough leads to say so" is the test's, not
    a fixed count. The pairs are tested at `alpha` divided by their number (Bonferroni), so a
    run with grades in order raises the line in at most `alpha` of runs."""
    known = table[table["with_outcome"] > 0].reset_index(drop=True)
    pairs = list(zip(known.iloc[:-1].itertuples(), known.iloc[1:].itertuples(), strict=True))
    said = []
    for hi, lo in pairs:
        counts = [[hi.won, hi.with_outcome - hi.won], [lo.won, lo.with_outcome - lo.won]]
        p = float(fisher_exact(counts, alternative="less").pvalue)
        if p < alpha / len(pairs):
            said.append(
                f"{hi.grade} converted {hi.realised_conversion:.1%} ({hi.won:,} of "
                f"{hi.with_outcome:,}) below {lo.grade} {lo.realised_conversion:.1%} "
                f"({lo.won:,} of {lo.with_outcome:,}), one-sided Fisher p={p:.2g}"
            )
    if not said:
        return []
    return [
        f"warning: grades out of order: {'; '.join(said)}; the grade floors no longer rank "
        "these leads: check them ('leadscore grades show') and retrain"
    ]


def read_scores_file(path: Path, columns: list[str]) -> pd.DataFrame:
    """A scores file written by `leadscore score`, with the columns monitoring needs."""
    if not path.exists():
        raise DataError(f"{path}: scores file not found; pass --scores or run 'leadscore score'")
    with named_as(path):  # a compressed scores file (.csv.gz, .zip, ...) is read as its twin
        src = plain_file(path)
        if file_kind(src) == "parquet":
            scores = pd.read_parquet(src)
        else:
            scores = pd.read_csv(src, dtype={"lead_id": str})
    require_columns(scores, columns, path, "scores file")
    return scores


def monitor(cfg: Config, outcomes: Path, scores: pd.DataFrame, source: str) -> Monitored:
    """Promised against realised conversion of the scored leads, per stage and per grade
    (`source` names them in errors: a scores file, or the database view the scoring runs fill)."""
    labels = outcome_labels(cfg, outcomes)
    ids = pd.Series(labels.index, dtype="string")
    scored = normalize_ids(scores["lead_id"].astype("string").str.removeprefix("'"))
    scored = pd.Index(scored.drop_duplicates())
    match = MatchCount("outcomes", n_leads=len(scored))
    match.add(ids, index_positions(scored, ids))
    log.info(match.line(outcomes, source) + " (won or lost)")
    s = with_outcomes(scores, labels, cfg.schema.outcome.column is None)
    table = realised_per(s, "stage", STAGE_ORDER)
    if table.empty or table["with_outcome"].sum() == 0:
        raise DataError(
            f"{outcomes}: none of its lead ids has a won/lost outcome among the {len(scores):,} "
            f"scored leads in {source}; check schema.lead_id and schema.outcome"
        )
    if not has_grades(scores):
        log.info(
            "%s: no grades (scores written before grades existed, or by a model without grade "
            "floors): conversion per grade left out",
            source,
        )
        return Monitored(table)
    grades = realised_by_grade(s)
    return Monitored(table, grades, grade_order_warnings(grades))
