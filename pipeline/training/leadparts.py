"""The leads file read by the Dask engine's workers, partitioned by lead id: never whole here.

Each worker reads blocks of the leads file (`pipeline.io.blocks`, the local reader's rules) in
two steps: a block's rows and decimal-convention votes first, summed here into each block's
first row and each numeric column's convention (as `rules.number_convention` decides over a
whole column); then the block's canonical leads, cut by `partition_of` and sent to the worker
that holds the partition, where the activities meet them (`pipeline.training.partitions`).

What needs every lead is decided here, with the local engine's answers and messages:

- the file's first problem: each block returns its first (ranked in the local reader's order,
  `blocks.Problem`); a repeated id is found on the partition where both rows meet, with their
  rows in the file; the smallest (rank, row) is raised;
- the narrow frame gathered here, in the file's order (`NARROW`): the lead id, creation and
  close dates, the label (set here by `canonical.attach_read_outcome` from the outcome cells as
  text, so the no-match error and the other-values warning see every lead) and the feature
  columns. Those last are a true whole-table dependency: the checks `train` and `validate` run
  first read every lead's feature columns (`checks._columns`: missing shares, distinct counts,
  a constant column's value; `leakage.leakage_suspects`: each column's single-column AUC over
  every labelled lead with seeded random folds, and a probe model on a seeded sample of them),
  and exact answers need the same cells in the same order. So do the MLflow dataset profile and
  the report's slices of the test leads. The e-mail (a feature only through "personal domain"),
  the outcome cells and the raw text of every cell stay on the workers;
- the split: decided here on the narrow frame (`distributed.split_partitions`) and sent back to
  the partitions with the labels, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
from distributed import Client, Future

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.blocks import (
    DUPLICATE,
    OUTCOME,
    Block,
    LeadBlock,
    Problem,
    file_blocks,
    lead_votes,
    read_lead_block,
    read_raw_block,
)
from pipeline.io.canonical import (
    TEXT,
    attach_read_outcome,
    duplicate_line,
    first_duplicate,
    text_cells,
)
from pipeline.io.rules import convention_of, nonfinite_warning

log = logging.getLogger(__name__)

# the lead columns this process holds (with the feature columns): what the checks, the split,
# the known-outcome rule and the run's facts read for every lead
NARROW = ["_created_at", "_closed_at", "_label"]


def partition_of(ids: np.ndarray, n_parts: int) -> np.ndarray:
    """The partition of each lead id: a hash of its text, so a lead and its events meet."""
    text = pd.Series(ids).astype("string").fillna("")
    return (pd.util.hash_pandas_object(text, index=False).to_numpy() % n_parts).astype(int)


def read_leads_on_cluster(
    client: Client, cfg: Config, host: Callable[[int], str], n_parts: int
) -> tuple[pd.DataFrame, list[Future], int]:
    """(the narrow leads frame here, partition k's canonical leads on worker `host(k)`, blocks
    read): the leads file read by the workers, its errors in the local reader's line."""
    path = cfg.data.leads
    block_bytes = int(cfg.training.dask.block_mb * 2**20)
    blocks, raws, metas = decoded_blocks(
        client, cfg, path, block_bytes, "leads file", lambda bs: _raw_blocks(client, cfg, bs)
    )
    starts = np.cumsum([0] + [m[0] for m in metas])
    if not starts[-1]:
        raise DataError(f"{path}: header only, no rows; export the leads with their data")
    decimals = {
        c: cfg.data.decimal
        or convention_of(*np.sum([m[1][c] for m in metas if c in m[1]], axis=0, dtype=int))
        for c in cfg.schema.numeric
        if any(c in m[1] for m in metas)
    }
    shown = blocks[0].shown
    reads = [
        client.submit(_read_and_cut, r, shown, cfg, int(s), decimals, n_parts)
        for r, s in zip(raws, starts, strict=False)
    ]
    del raws  # each raw block is freed on its worker once read
    block_notes = client.gather([client.submit(_first, r) for r in reads])
    parts = [
        client.submit(_lead_part, [client.submit(_piece, r, k) for r in reads], workers=[host(k)])
        for k in range(n_parts)
    ]
    dups = client.gather([client.submit(_second, p) for p in parts])
    raise_first([n[0] for n in block_notes], dups, shown, cfg.schema.lead_id)
    leads = narrow_leads(client, cfg, parts, shown, block_notes)
    leads.attrs["decimals"] = decimals  # training keeps them in the model, as `load_leads` does
    return leads, [client.submit(_first, p) for p in parts], len(blocks)


def raise_first(
    problems: list[Problem | None], dups: list[tuple | None], shown: str, col: str
) -> None:
    """The local reader's error at the file's first problem before the label rules: the
    smallest (rank, row) over the blocks' problems and the partitions' first repeated ids
    (whose line counts the repeats of every partition)."""
    found = [p for p in problems if p is not None and p.rank <= OUTCOME]
    repeats = [d for d in dups if d is not None]
    if repeats:
        row, first, value, same, _ = min(repeats)
        line = duplicate_line(shown, col, row, first, value, same, sum(d[4] for d in repeats))
        found.append(Problem(DUPLICATE, row, line))
    if found:
        raise DataError(min(found).message)


def narrow_leads(
    client: Client, cfg: Config, parts: list[Future], shown: str, block_notes: list[tuple]
) -> pd.DataFrame:
    """The narrow frame in the file's order, with its labels set here; the close-date errors
    (after the label rules, as in the local reader) and the non-finite numbers' warnings."""
    narrow = [client.submit(_narrow, p, cfg.schema.feature_columns()) for p in parts]
    leads = pd.concat(client.gather(narrow))
    leads = leads.take(np.argsort(leads.pop("_row").to_numpy(), kind="stable"))  # one copy
    for c in cfg.schema.categorical:  # text, or None in every row, as `canonical_leads` gives
        leads[c] = text_cells(leads[c])
    attach_read_outcome(leads, cfg, shown)
    late = [p for p, _ in block_notes if p is not None and p.rank > OUTCOME]
    if late:
        raise DataError(min(late).message)
    counts: dict[str, int] = {}
    for _, nonfinite in block_notes:
        for c, n in (nonfinite or {}).items():
            counts[c] = counts.get(c, 0) + n
    for c in cfg.schema.numeric:
        if counts.get(c):
            log.warning(nonfinite_warning(shown, {c: counts[c]}))
    return leads


def decoded_blocks(
    client: Client,
    cfg: Config,
    path: str,
    block_bytes: int,
    what: str,
    read: Callable[[list[Block]], tuple[list[Future], list[tuple]]],
) -> tuple[list[Block], list[Future], list[tuple]]:
    """The blocks of a file read on the workers by `read` (futures, and metas whose third item
    is a byte the encoding cannot decode), as the local reader decodes: a file that is not in
    its encoding is read again as cp1252 with a warning, or refused in one line."""
    blocks = file_blocks(path, cfg, block_bytes, what=what)
    reads, metas = read(blocks)
    bad = next((m[2] for m in metas if m[2] is not None), None)
    if bad is None:
        return blocks, reads, metas
    enc = blocks[0].encoding
    blocks = file_blocks(path, cfg, block_bytes, "cp1252", what)
    reads, metas = read(blocks)
    if any(m[2] is not None for m in metas):
        raise DataError(
            f"{path}: byte 0x{bad[0]:02x} at offset {bad[1]} is neither {enc} nor cp1252; "
            "set data.encoding to the file's encoding"
        )
    log.warning(
        "warning: %s: not valid %s (byte 0x%02x at offset %d); read it as cp1252 "
        "instead: check accented text, or set data.encoding",
        path,
        enc,
        bad[0],
        bad[1],
    )
    return blocks, reads, metas


def _raw_blocks(
    client: Client, cfg: Config, blocks: list[Block]
) -> tuple[list[Future], list[tuple]]:
    raws = [client.submit(read_raw_block, b, cfg, pure=False) for b in blocks]
    return raws, client.gather([client.submit(_raw_meta, r, cfg) for r in raws])


def _raw_meta(raw: pd.DataFrame | tuple, cfg: Config) -> tuple:
    """On a worker: (rows, decimal votes, undecodable byte or None) of a raw leads block."""
    if isinstance(raw, tuple):
        return 0, {}, raw
    return (*lead_votes(raw, cfg), None)


def _read_and_cut(
    raw: pd.DataFrame, shown: str, cfg: Config, first_row: int, decimals: dict, n_parts: int
) -> tuple[tuple, list[pd.DataFrame]]:
    """On a worker: a block's canonical leads cut by partition, and (problem, non-finite
    counts) for the caller."""
    read: LeadBlock = read_lead_block(raw, shown, cfg, first_row, decimals)
    leads = read.leads
    part = partition_of(leads.index.to_numpy(), n_parts)
    return (read.problem, read.nonfinite), [leads[part == k] for k in range(n_parts)]


def _lead_part(pieces: list[pd.DataFrame]) -> tuple[pd.DataFrame, tuple | None]:
    """On partition k's worker: its leads in the file's order, and its first repeated id
    (`canonical.first_duplicate`: every row of a lead id meets here)."""
    leads = pd.concat(pieces) if len(pieces) > 1 else pieces[0]
    leads = leads.sort_values("_row", kind="stable")
    ids = leads.index.to_series(index=None)
    written = leads["_id_written"].astype("string").fillna(ids.astype("string"))
    first = first_duplicate(ids, written, leads["_row"].to_numpy())
    for c in [c for c, d in leads.dtypes.items() if d is np.dtype(object)]:  # all-empty blocks
        if c not in ("_id_written", "_outcome"):
            leads[c] = leads[c].astype(TEXT)
    return leads.drop(columns="_id_written"), first


def _narrow(part: tuple, features: list[str]) -> pd.DataFrame:
    """On a worker: what this process keeps of a partition's leads (`NARROW`, the features, the
    outcome cells until labelled, the file row for the order)."""
    leads = part[0]
    wanted = {"_row", *NARROW, "_outcome", *features}
    return leads[[c for c in leads.columns if c in wanted]]  # in the canonical order


def _first(pair: tuple) -> object:
    return pair[0]


def _second(pair: tuple) -> object:
    return pair[1]


def _piece(read: tuple, k: int) -> pd.DataFrame:
    return read[1][k]
