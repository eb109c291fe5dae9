"""The config's claims about the whole file, checked again against the whole file by `validate`.

`init` drops a column as "constant: one value in every filled row" and writes that reason as a
comment beside the `schema.drop` entry. A config drafted from a sample (an older `init`), or an
export that has grown since, can make that claim falsely: on a file sorted by time three varying
columns were dropped that way, and putting them back raised PR-AUC 0.435 -> 0.481. The comment is
the claim's record (`drop_comments` reads it back); here only the columns it names are read again,
chunk by chunk with just those columns, so memory is bounded by the chunk and the capped values.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.config import Config
from pipeline.io.readers import file_encoding, text_chunks
from pipeline.validation.findings import Report

DISTINCT_CAP = 1_000  # past this many distinct values a column stops being counted
# init's comment for a dropped constant: "constant: one value ('No') in every filled row ...";
# an older init wrote the same words without the tag
CONSTANT_RE = re.compile(r"^(constant:\s*)?one value\b")


def drop_comments(config_path: str | Path | None) -> dict[str, str]:
    """The comment `init` wrote beside each `schema.drop` entry ("- Tags  # leakage suspect:
    ..."), read from the config file; empty when there is none."""
    try:
        text = Path(config_path).read_text(encoding="utf-8") if config_path else ""
    except OSError:
        return {}
    out, inside = {}, False
    for line in text.splitlines():
        if re.match(r"^\s*drop:\s*(#.*)?$", line):
            inside = True
            continue
        m = re.match(r"^\s*-\s*(['\"]?)(.*?)\1\s*#\s*(.+)$", line) if inside else None
        if m:
            out[m.group(2)] = m.group(3).strip()
        elif inside and not re.match(r"^\s*(-|#)", line):
            inside = False
    return out


def claimed_constant(cfg: Config, comments: dict[str, str]) -> list[str]:
    """The `schema.drop` columns whose comment says they hold one value."""
    return [c for c in cfg.schema.drop if CONSTANT_RE.match(comments.get(c, ""))]


def check_constant_claims(cfg: Config, config_path: str | Path | None, report: Report) -> None:
    """A warning for each column dropped as constant that varies in the whole file (leads file,
    else the outcomes file), with what to change."""
    claimed = claimed_constant(cfg, drop_comments(config_path))
    if not claimed:
        return
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
    out: dict[str, dict[str, int]] = {}
    if not path.exists():
        return out
    enc = file_encoding(path, cfg, what)
    for part in text_chunks(path, cfg.data.sep, enc, columns):
        for c in part.columns:
            counts = out.setdefault(c, {})
            if len(counts) > DISTINCT_CAP:
                continue
            vc = part[c].dropna().astype(str).str.strip().value_counts()
            for v, k in vc[~vc.index.isin(missing)].items():
                counts[v] = counts.get(v, 0) + int(k)
    return out
