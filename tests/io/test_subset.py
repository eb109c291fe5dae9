"""The leads of a few ids read in small batches (`io.subset.chosen_leads`, what the gate reads of a
champion's export) are the whole-file reader's rows for those ids, labels included, on the sample
and on hostile ways of writing it; the leads-wide rules (a repeated or empty id anywhere, a
column's decimal convention, the label rules over every lead, which error comes first) give the
whole-file reader's answer. The events of those ids by the block reader are `load_events`'."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.errors import DataError
from pipeline.io import fastcsv
from pipeline.io.canonical import TEXT, load_events, load_leads
from pipeline.io.subset import chosen_leads
from pipeline.synthetic.sample import generate, write_sample
from tests.conftest import write_config
from tests.io.gate_exports import VARIANTS, variant_id, write_variant

BATCH = 400  # rows per batch: the 3,000-lead sample is read in 8 batches


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sample")
    write_sample(generate(3000, seed=5), d)
    return d


def read_chosen(cfg, chosen: list[str], decimals: dict | None = None) -> pd.DataFrame:
    path = Path(cfg.data.leads)
    ids = fastcsv.read_columns(path, cfg, [cfg.schema.lead_id]).column(0).to_pandas()
    return chosen_leads(
        cfg,
        path,
        lambda: fastcsv.iter_lead_batches(path, cfg, BATCH),
        ids,
        pd.Index(chosen, dtype=TEXT),
        decimals,
    )


def as_objects(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells as Python objects, missing as None: the readers' text dtypes differ by path,
    never their values."""
    out = df.copy()
    for c in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_datetime64_dtype(out[c])):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    out.index = pd.Index(out.index.astype(object), name="lead_id")
    return out


@pytest.mark.parametrize("kind", VARIANTS)
def test_the_chosen_leads_and_their_events_are_the_whole_file_readers(sample, tmp_path, kind):
    cfg = load_config(write_variant(sample, tmp_path / kind, kind))
    whole = load_leads(cfg)
    ids = [variant_id(f"L{int(i):07d}", kind) for i in range(3, 3000, 11)]
    ids = [i for i in ids if i in whole.index][::-1]  # asked in any order: read in file order
    got = read_chosen(cfg, ids)
    want = whole[whole.index.isin(ids)]
    assert len(got) == len(ids) == len(want)
    pd.testing.assert_frame_equal(as_objects(got), as_objects(want), check_dtype=False)
    assert got["_label"].notna().sum() > 20  # labelled leads among them
    if kind == "decimal":  # decided over the column by its last value, not per batch
        assert whole.attrs["decimals"]["annual_ad_budget"] == ","
        assert got["annual_ad_budget"].max() >= 1000
    fast = fastcsv.training_events(cfg, pd.Index(ids, dtype=TEXT))
    slow = load_events(cfg, lead_ids=pd.Index(ids))
    assert len(fast) > 100
    pd.testing.assert_frame_equal(as_objects(fast), as_objects(slow), check_dtype=False)


def _write_leads(src: Path, out: Path, edit) -> object:
    leads = pd.read_csv(src / "leads.csv", dtype=str, keep_default_na=False)
    edit(leads)
    out.mkdir(parents=True, exist_ok=True)
    leads.to_csv(out / "leads.csv", index=False)
    cfg = load_config(write_config(out / "config.yaml", src))
    return cfg.model_copy(
        update={"data": cfg.data.model_copy(update={"leads": str(out / "leads.csv")})}
    )


def _first_line(fn) -> str:
    with pytest.raises(DataError) as e:
        fn()
    return str(e.value).splitlines()[0]


def _set(col: str, row: int, value: str):
    def edit(leads: pd.DataFrame) -> None:
        leads.loc[row, col] = value

    return edit


def _both(*edits):
    def edit(leads: pd.DataFrame) -> None:
        for e in edits:
            e(leads)

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        _set("lead_id", 2950, " L0000004\u00a0"),  # repeats a lead of the first batch
        _set("lead_id", 2950, ""),  # an empty id far from the chosen leads
        # a bad number in the first batch, a bad creation date in the last: the date is said
        _both(_set("employees", 5, "lots"), _set("created_at", 2900, "yesterday")),
        _both(_set("closed_at", 7, "soon"), _set("annual_ad_budget", 2990, "1.2.3,4,5")),
        _set("outcome", slice(None), "unknown"),  # no outcome matches won or lost
    ],
    ids=["duplicate", "empty_id", "date_before_number", "number_before_close", "no_outcome"],
)
def test_the_file_wide_errors_are_the_whole_file_readers(sample, tmp_path, edit):
    cfg = _write_leads(sample, tmp_path, edit)
    chosen = ["L0000100", "L0000200"]  # none of them is a bad row
    assert _first_line(lambda: read_chosen(cfg, chosen)) == _first_line(lambda: load_leads(cfg))


def test_labels_are_decided_over_every_lead(sample, tmp_path, caplog):
    """Only the chosen leads hold an outcome neither won nor lost: they are open, not an error,
    and the warning counts them as the whole-file reader does."""
    chosen = [f"L{i:07d}" for i in range(100, 130)]

    def edit(leads: pd.DataFrame) -> None:
        leads.loc[leads["lead_id"].isin(chosen), "outcome"] = "Maybe"

    cfg = _write_leads(sample, tmp_path, edit)
    with caplog.at_level(logging.WARNING):
        want = load_leads(cfg)
    whole_warning = [r.getMessage() for r in caplog.records if "match neither" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        got = read_chosen(cfg, chosen)
    warning = [r.getMessage() for r in caplog.records if "match neither" in r.getMessage()]
    assert warning == whole_warning and len(warning) == 1
    assert got["_label"].isna().all()
    assert np.isnan(want.loc[chosen, "_label"].to_numpy()).all()


def test_the_models_conventions_are_used_without_a_second_pass(sample, tmp_path, monkeypatch):
    """A model keeps the conventions it was trained with: the gate reads its numbers so, and
    reads the file once; without them each column is decided over the file (a second pass)."""
    cfg = load_config(write_variant(sample, tmp_path / "decimal", "decimal"))
    passes: list[int] = []
    real = fastcsv.iter_lead_batches

    def counted(*a, **k):
        passes.append(1)
        return real(*a, **k)

    monkeypatch.setattr(fastcsv, "iter_lead_batches", counted)
    ids = [str(i) for i in range(1, 400)]
    got = read_chosen(cfg, ids, {"annual_ad_budget": ",", "employees": "."})
    assert len(passes) == 1
    comma = cfg.data.model_copy(update={"decimal": ","})
    whole = load_leads(cfg.model_copy(update={"data": comma}))
    a, b = got["annual_ad_budget"], whole.loc[got.index, "annual_ad_budget"]
    assert a.max() >= 1000 and np.allclose(a.fillna(-1), b.fillna(-1))
    read_chosen(cfg, ids)
    assert len(passes) == 3
