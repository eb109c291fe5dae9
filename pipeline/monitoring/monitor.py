"""Monitoring after training: drift of each scoring run, and promises kept once outcomes arrive.

A scoring run is logged as an MLflow run (experiment `lead-scoring-scoring`, run name `score`)
with its row counts and the PSI of every feature against the training reference. `leadscore
monitor` joins the scores (a scores file, or the latest score of each lead in a database the
scoring runs append to) with outcomes that arrived later and compares, per stage, the conversion
the model promised (mean calibrated probability) with the conversion that happened. Outcomes are
read by the rule training reads them by (`pipeline.io.canonical.outcome_labels`), so a lead counts
as won here exactly when it would be labelled won in training.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.canonical import outcome_labels
from pipeline.io.compressed import named_as, plain_file
from pipeline.io.keys import MatchCount, index_positions
from pipeline.io.readers import file_kind, require_columns
from pipeline.io.rules import normalize_ids

log = logging.getLogger(__name__)


def realised_vs_promised(
    scores: pd.DataFrame, labels: pd.Series, absent_lost: bool
) -> pd.DataFrame:
    """Per stage: leads scored, leads with an outcome, won, realised rate, promised (mean p)."""
    given = scores["lead_id"].astype("string").str.removeprefix("'")
    s = scores.assign(lead_id=normalize_ids(given))
    s = s.set_index("lead_id")
    y = labels.reindex(s.index)
    if absent_lost:
        y = y.fillna(0.0)
    s["won"] = y
    rows = []
    order = ["SQL", "MQL", "lead"]
    for stage in [*order, *sorted(set(s["stage"]) - set(order))]:
        g = s[s["stage"] == stage]
        if not len(g):
            continue
        known = g[g["won"].notna()]
        rows.append(
            {
                "stage": stage,
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


def monitor(cfg: Config, outcomes: Path, scores: pd.DataFrame, source: str) -> pd.DataFrame:
    """Promised against realised conversion of the scored leads (`source` names them in errors:
    a scores file, or the database view the scoring runs fill)."""
    labels = outcome_labels(cfg, outcomes)
    ids = pd.Series(labels.index, dtype="string")
    scored = normalize_ids(scores["lead_id"].astype("string").str.removeprefix("'"))
    scored = pd.Index(scored.drop_duplicates())
    match = MatchCount("outcomes", n_leads=len(scored))
    match.add(ids, index_positions(scored, ids))
    log.info(match.line(outcomes, source) + " (won or lost)")
    table = realised_vs_promised(scores, labels, cfg.schema.outcome.column is None)
    if table.empty or table["with_outcome"].sum() == 0:
        raise DataError(
            f"{outcomes}: none of its lead ids has a won/lost outcome among the {len(scores):,} "
            f"scored leads in {source}; check schema.lead_id and schema.outcome"
        )
    return table
