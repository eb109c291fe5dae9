"""The scores file's bytes are those of the pandas writer it replaced: `format_scores` then
`write_csv`, chunk after chunk into `atomic_open`'s file, equals main's `clean_cells` (object
cells, None) + `neutralise` + `.round(6)` + `to_csv` on hostile scorer output: control
characters, overlong reasons, formula starts, quotes, commas, unicode, missing reasons, a
segment column. No model is trained: the frames are built as `score_features` returns them."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipeline.io.atomic import atomic_open, write_atomic
from pipeline.io.csvwrite import csv_lines
from pipeline.io.rules import FORMULA_START, clean_text
from pipeline.serving.batch import ChunkScorer
from pipeline.serving.outputs import (
    GRADE,
    REASON_CAP,
    SEGMENT,
    SUBSCORES,
    format_scores,
    output_columns,
)

VERSION, AT = "3", "2026-11-01T00:00:00+00:00"
IDS = [
    "L1",
    "=cmd()",
    "+1",
    "-2",
    "@x",
    "a,b",
    'q"q',
    "tab\tid",
    "\u202eevil",
    "北京",
    "é🚀",
    "x" * 90,
]
REASONS = [
    "[+] role: Marketing C-level",
    "[-] annual ad budget 5,600",
    '[+] said "yes"',
    "[+] bell\x07 and \u200bzero width",
    "[-] " + "long " * 40,
    "=SUM(A1)",
    "",
    None,
    "café, 中文 🚀",
]


def scorer_output(n: int, seed: int, segments: bool) -> pd.DataFrame:
    """A frame like `score_features`' (index = lead id, reasons as pandas strings)."""
    rng = np.random.default_rng(seed)
    ids = [f"{IDS[i % len(IDS)]}#{i}" for i in range(n)]
    res = pd.DataFrame(index=pd.Index(ids, dtype="str"))
    res["probability"] = rng.random(n)
    res["score"] = rng.integers(0, 101, n)
    res["stage"] = pd.array(rng.choice(["lead", "MQL", "SQL"], n), dtype="str")
    for i in range(3):
        pick = rng.integers(0, len(REASONS), n)
        res[f"reason_{i + 1}"] = pd.array([REASONS[j] for j in pick], dtype="str")
    for c in SUBSCORES:
        res[c] = rng.integers(0, 101, n)
    res[GRADE] = rng.choice(np.array(["A", "B", "C", "D", None], dtype=object), n)
    if segments:
        res[SEGMENT] = pd.array(rng.choice(["EMEA", "pooled"], n), dtype="str")
    return res


def main_cells(out: pd.DataFrame) -> pd.DataFrame:
    """main's (0ef0509) clean_cells, word for word: clean_text on every cell, object cells."""
    out["lead_id"] = clean_text(out["lead_id"]).astype(object).where(out["lead_id"].notna(), None)
    for c in out.columns:
        if c.startswith("reason_"):
            out[c] = clean_text(out[c], REASON_CAP).astype(object).where(out[c].notna(), None)
    return out


def main_bytes(chunks: list[pd.DataFrame]) -> bytes:
    """What main (0ef0509) wrote: format_scores with object cells, then pandas' to_csv."""
    f = io.BytesIO()
    for i, res in enumerate(chunks):
        out = main_cells(res.reset_index().rename(columns={"index": "lead_id"}))
        s = out["lead_id"].astype("string")
        out["lead_id"] = s.where(~s.str.startswith(FORMULA_START).fillna(False), "'" + s)
        out["probability"] = out["probability"].round(6)
        out["model_version"], out["scored_at"] = VERSION, AT
        extra = [c for c in (*SUBSCORES, GRADE, SEGMENT) if c in out.columns]
        out = out[[c for c in out.columns if c not in extra] + extra]
        out.to_csv(f, index=False, header=i == 0, float_format="%.6f")
    return f.getvalue()


@pytest.mark.parametrize("segments", [False, True])
@pytest.mark.parametrize("sizes", [[1], [500], [300, 1, 250]])
def test_chunks_written_into_the_atomic_file_are_mains_bytes(tmp_path, segments, sizes):
    chunks = [scorer_output(n, seed, segments) for seed, n in enumerate(sizes)]
    path = tmp_path / "scores.csv"
    cs = SimpleNamespace(model_version=VERSION, scored_at=AT, n_scored=0, stages={}, grades={})
    with atomic_open(path) as f:
        for res in chunks:
            ChunkScorer.write(cs, f, res)  # type: ignore[arg-type]
    assert path.read_bytes() == main_bytes(chunks)
    assert cs.n_scored == sum(sizes)
    assert sum(cs.stages.values()) == sum(sizes)
    graded = pd.concat(chunks)["grade"].dropna()  # the leads each grade counted, its mean p
    assert {g: n for g, (n, _) in cs.grades.items()} == graded.value_counts().to_dict()
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == output_columns(3) + ([SEGMENT] if segments else [])


def test_format_scores_cells_are_clean_cells_cells():
    """Kept as pandas strings, the cells hold what main's object cells hold, and the
    writer's fast path takes them."""
    res = scorer_output(400, 7, segments=False)
    new = format_scores(res, VERSION, AT)
    old = main_cells(res.reset_index().rename(columns={"index": "lead_id"}))
    for c in ["reason_1", "reason_2", "reason_3"]:
        assert new[c].astype(object).where(new[c].notna(), None).tolist() == old[c].tolist()
    assert new["reason_1"].str.len().max() <= 120  # capped, control characters gone
    assert not new["reason_1"].str.contains("\x07|\u200b", regex=True).any()
    assert csv_lines(new) is not None  # the scores frame takes the fast path


def test_the_spark_csv_and_rejected_files_keep_pandas_bytes(tmp_path):
    """write_atomic (Spark's .csv output, rejected rows) goes through the same writer."""
    out = format_scores(scorer_output(200, 3, segments=True), VERSION, AT)
    write_atomic(out, tmp_path / "s.csv")
    expected = io.BytesIO()
    out.to_csv(expected, index=False, float_format="%.6f")
    assert (tmp_path / "s.csv").read_bytes() == expected.getvalue()
