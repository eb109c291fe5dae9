"""Some leads of a leads file, read in batches by the whole-file reader's rules: the champion's
test leads for the gate, in memory bounded by those leads and one batch, not by the file.

`canonical.load_leads` holds the whole file as text (every column of every lead) to keep a few
rows; at 1M leads that alone breaks the training's memory target, and the gate only needs the
test leads. Here each batch goes through `blocks.read_lead_block` (`canonical_leads` itself, its
first problem ranked in the whole-file reader's order, so the file's first error is raised with
the same line) and only the chosen leads' rows are kept.

Some rules look at every lead, and give the whole-file answer here by reading only the columns
they need:
- an empty or repeated id anywhere is the file's error (`canonical.lead_index` over the id
  column, read first);
- a numeric column's decimal convention, when the caller does not know it (a model trained
  before the conventions were kept): the batches' votes summed, as `rules.number_convention`
  decides over the whole column;
- the labels: the outcome cells kept as categories (a byte a lead) and labelled over every lead
  (`canonical.attach_read_outcome`), so the no-match error and the other-values warning are the
  whole file's; an outcomes table (`data.outcomes`) is read whole, as `load_leads` reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.blocks import OUTCOME, Problem, lead_votes, read_lead_block
from pipeline.io.canonical import attach_read_outcome, lead_index
from pipeline.io.rules import convention_of, nonfinite_warning

log = logging.getLogger(__name__)

Batches = Callable[[], Iterable[pd.DataFrame]]  # the file's raw batches, from the start


def chosen_leads(
    cfg: Config,
    path: str | Path,
    batches: Batches,
    ids: pd.Series,
    chosen: pd.Index,
    decimals: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The canonical leads (as `load_leads` gives them, `_label` and `_closed_at` set) of the
    `chosen` lead ids (canonical ids) found in the file, in the file's order.

    `batches()`: the file's raw cells batch by batch (index: the data row in the file), as
    `fastcsv.iter_lead_batches` or slices of `read_table` give them; called a second time only to
    decide a decimal convention. `ids`: the raw id column of every row (the one column read
    whole). `decimals`: the conventions already known per numeric column (the model's)."""
    sc, shown = cfg.schema, str(path)
    everyone = pd.DataFrame(index=lead_index(ids.reset_index(drop=True), shown, sc.lead_id))
    decimals = conventions(cfg, batches, decimals or {})
    kept, problems, cells, counts = [], [], [], {}
    for raw in batches():
        start = int(raw.index[0]) if len(raw) else 0
        read = read_lead_block(raw.reset_index(drop=True), shown, cfg, start, decimals)
        problems.append(read.problem)
        for c, n in (read.nonfinite or {}).items():
            counts[c] = counts.get(c, 0) + n
        if "_outcome" in read.leads.columns:
            cells.append(read.leads["_outcome"].array)
        mine = read.leads[read.leads.index.isin(chosen)]
        kept.append(mine.drop(columns="_outcome", errors="ignore"))
    raise_first(problems, OUTCOME, below=True)
    return _labelled(cfg, shown, everyone, cells, kept, problems, counts)


def _labelled(
    cfg: Config,
    shown: str,
    everyone: pd.DataFrame,
    cells: list,
    kept: list[pd.DataFrame],
    problems: list[Problem | None],
    counts: dict[str, int],
) -> pd.DataFrame:
    """The chosen leads with the labels decided over every lead; then the errors the whole-file
    reader raises after its label rules (close dates) and the non-finite numbers' warning."""
    if cells:
        everyone["_outcome"] = union_categoricals(cells, ignore_order=True)
    everyone["_label"], everyone["_closed_at"] = np.nan, pd.NaT
    attach_read_outcome(everyone, cfg, shown)
    raise_first(problems, OUTCOME, below=False)
    for c in cfg.schema.numeric:
        if counts.get(c):
            log.warning(nonfinite_warning(shown, {c: counts[c]}))
    out = pd.concat(kept) if kept else pd.DataFrame()
    rows = out.pop("_row").to_numpy(np.int64)
    out = out.drop(columns="_id_written")
    out["_label"] = everyone["_label"].to_numpy(float)[rows]
    if cfg.data.outcomes:  # their close dates are the outcomes table's
        out["_closed_at"] = everyone["_closed_at"].to_numpy("datetime64[ns]")[rows]
    return out


def conventions(cfg: Config, batches: Batches, known: dict[str, str]) -> dict[str, str]:
    """Each numeric column's decimal convention: `known`, else `data.decimal`, else decided over
    the whole column (each batch's votes summed, `blocks.lead_votes`): a batch must never decide
    its own, or `1.234` would be a thousand in one batch and one point two in the next."""
    out = {c: known.get(c) or cfg.data.decimal for c in cfg.schema.numeric}
    undecided = [c for c, d in out.items() if not d]
    if not undecided:
        return out
    votes = {c: np.zeros(2, int) for c in undecided}
    for raw in batches():
        for c, v in lead_votes(raw, cfg)[1].items():
            if c in votes:
                votes[c] += v
    return {**out, **{c: convention_of(*v) for c, v in votes.items()}}


def raise_first(problems: list[Problem | None], rank: int, below: bool) -> None:
    """The whole-file reader's error at the first problem (the smallest (rank, row)) among
    those ranked up to `rank` (`below`), or after it."""
    found = [p for p in problems if p is not None and (p.rank <= rank if below else p.rank > rank)]
    if found:
        raise DataError(min(found).message)
