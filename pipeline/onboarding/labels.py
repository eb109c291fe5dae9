"""`schema.labels` drafted by `leadscore init`: names and values a salesperson reads.

An export's names are written for databases: `nr.employed`, `TotalVisits`, `education: basic.6y`,
a landing page id `58326e62...`. The draft guesses readable words for each feature column whose
name is not already words (the rule of `pipeline.words`), reads the values of a categorical column
the same way, and turns long machine ids into "landing page #1", "#2", ... ranked by how often
they occur (all of them: a rare id is as unreadable as a frequent one). Every guess is written into the config, where the user can correct it.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from pipeline.words import id_noun, is_hash_like, readable_name, readable_value

MAX_VALUES = 60  # values labelled per column, most frequent first: the rest read as guessed


def value_words(column: str, values: pd.Series) -> dict[str, str]:
    """value -> words for one categorical column: every machine id as "<thing> #k (of n, by
    frequency)", however rare (an id is unreadable however seldom it occurs); the MAX_VALUES most
    frequent dotted or snake values as words; values that already read well are left out."""
    counts = values.dropna().astype(str).value_counts(sort=True)
    ranked = sorted(counts.index, key=lambda k: (-counts[k], k))
    ids = [v for v in ranked if is_hash_like(v)]
    base, out = id_noun(column), {}
    for rank, v in enumerate(ids, start=1):
        out[v] = f"{base} #{rank} (of {len(ids):,}, by frequency)"
    for v in [v for v in ranked if not is_hash_like(v)][:MAX_VALUES]:
        if readable_value(v) != v:
            out[v] = readable_value(v)
    return out


def draft_labels(df: pd.DataFrame, categorical: list[str], features: list[str]) -> dict:
    """`schema.labels` for the feature columns: {column: words} or {column: {name, values}}."""
    out: dict = {}
    for c in features:
        name = readable_name(c)
        values = value_words(c, df[c]) if c in categorical and c in df else {}
        if values:
            out[c] = {"name": name, "values": values}
        elif name != c:
            out[c] = name
    return out


def labels_for(df: pd.DataFrame, draft: Any) -> dict:
    """`schema.labels` for a draft's feature columns (categorical, numeric, flags)."""
    cats = [c.column for c in draft.categorical]
    return draft_labels(
        df, cats, [c.column for c in (*draft.categorical, *draft.numeric, *draft.flags)]
    )


def label_lines(labels: dict) -> list[str]:
    """The YAML lines of `schema.labels`, under `schema:` (two-space indent)."""
    if not labels:
        return []
    q = json.dumps
    lines = ["  labels:  # guess: the words reasons and reports use for columns and values; edit"]
    for c, entry in labels.items():
        if isinstance(entry, str):
            lines.append(f"    {q(c, ensure_ascii=False)}: {q(entry, ensure_ascii=False)}")
            continue
        lines += [
            f"    {q(c, ensure_ascii=False)}:",
            f"      name: {q(entry['name'], ensure_ascii=False)}",
            "      values:",
            *(
                f"        {q(v, ensure_ascii=False)}: {q(w, ensure_ascii=False)}"
                for v, w in entry["values"].items()
            ),
        ]
    return lines
