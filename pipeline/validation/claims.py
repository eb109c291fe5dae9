"""The config's claims about the whole file, checked again against the whole file by `validate`.

`init` drops a column as "constant: one value in every filled row" and records that reason in
`schema.drop_reasons`. A config drafted from a sample, or an export that has grown since, can make
that claim falsely: on a file sorted by time a column that is one value in the first rows varies
further down, and dropping it loses a real feature. Here only the columns the claim names are read
again, chunk by chunk with just those columns, so memory is bounded by the chunk and the capped
value counts (`add_counts`, the one whole-file value counter `init` uses too).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from pipeline.config import CONSTANT_REASON, Config
from pipeline.io.readers import file_encoding, text_chunks
from pipeline.validation.findings import Report

DISTINCT_CAP = 1_000  # past this many distinct values a column stops being counted


def add_counts(part: pd.DataFrame, counts: dict[str, Counter], missing: set[str]) -> None:
    """Add one chunk's filled values (trimmed; the `missing` markers are not values) to the
    running `counts` of each of its columns. A column past `DISTINCT_CAP` distinct values stops
    growing: its counts then say "more than the cap", and memory stays bounded."""
    for c in part.columns:
        counter = counts.setdefault(c, Counter())
        if len(counter) > DISTINCT_CAP:
            continue
        vc = part[c].dropna().astype(str).str.strip().value_counts()
        counter.update(vc[~vc.index.isin(missing)].to_dict())


def claimed_constant(cfg: Config) -> list[str]:
    """The `schema.drop` columns `init` dropped as holding one value (`schema.drop_reasons`)."""
    reasons = cfg.schema.drop_reasons
    return [c for c in cfg.schema.drop if reasons.get(c, "").startswith(CONSTANT_REASON)]


def check_constant_claims(cfg: Config, report: Report) -> None:
    """A warning for each column dropped as constant that varies in the whole file (leads file,
    else the outcomes file), with what to change."""
    claimed = claimed_constant(cfg)
    files = [(cfg.data.leads, "leads file"), (cfg.data.outcomes, "outcomes file")]
    for path, what in files:
        if not path or not claimed:
            continue
        seen = whole_file_values(Path(path), cfg, what, claimed)
        for c, values in seen.items():
            if len(values) > 1:
                report.add("warning", "constant_claim", varies_message(c, path, values), c)
        claimed = [c for c in claimed if c not in seen]


def varies_message(column: str, path: str | Path, values: dict[str, int]) -> str:
    """The one line: what the config claims, what the whole file holds, what to change."""
    n = f"{len(values):,}" if len(values) <= DISTINCT_CAP else f"more than {DISTINCT_CAP:,}"
    top = sorted(values, key=values.get, reverse=True)[:3]
    eg = ", ".join(f"'{v[:25]}' ({values[v]:,} rows)" for v in top)
    return (
        f"column '{column}' is in schema.drop as one value in every filled row, but {path} "
        f"holds {n} distinct values in it ({eg}): remove it from schema.drop and add it to "
        "schema.categorical (or schema.numeric if it holds numbers)"
    )


def whole_file_values(
    path: Path, cfg: Config, what: str, columns: list[str]
) -> dict[str, dict[str, int]]:
    """Filled values and their row counts of those `columns` the file has (placeholders in
    data.missing_values are not values); a column's count stops growing past `DISTINCT_CAP`."""
    missing = {"", *(str(v).strip() for v in cfg.data.missing_values)}
    out: dict[str, Counter] = {}
    if not path.exists():
        return {}
    enc = file_encoding(path, cfg, what)
    for part in text_chunks(path, cfg.data.sep, enc, columns):
        add_counts(part, out, missing)
    return {c: dict(v) for c, v in out.items()}
