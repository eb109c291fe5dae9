"""Scale features: fast exact SHAP, the streamed chunked scorer, drift warnings, monitor, generator knob.

Small data only; speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.explain import fastshap
from pipeline.monitoring.drift import MIN_ROWS, DriftCounter, DriftReference, psi, warning_lines
from pipeline.serving.batch import score_files
from pipeline.serving.request import ScoreRequest
from pipeline.synthetic.sample import generate
from tests.serving.conftest import printed_table

runner = CliRunner()
AS_OF = pd.Timestamp("2026-11-01")


@pytest.mark.slow
def test_fast_shap_equals_lightgbm_pred_contrib(trained, sample_config, training_rows):
    from pipeline.modeling.candidates import fit_lightgbm_candidate

    result, leads, events = trained
    scorer = result.scorer
    sub = leads.iloc[:800].copy()
    sub.iloc[::5, sub.columns.get_loc("industry")] = None  # missing categories
    sub.iloc[::7, sub.columns.get_loc("employees")] = np.nan  # missing numbers
    X = scorer.features(sub, events, np.full(len(sub), AS_OF.to_datetime64()))
    # the booster that served, or the one the logistic candidate beat on validation
    model = (
        scorer.estimator
        if scorer.candidate == "lightgbm"
        else fit_lightgbm_candidate(sample_config, training_rows)
    )
    enc = model.named_steps["encode"].transform(X)
    booster = model.named_steps["lgbm"].booster_
    ref = booster.predict(enc, pred_contrib=True)
    fast = fastshap.FastTreeShap(booster).contributions(lightgbm_matrix(enc))
    assert fast.shape == ref.shape
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9)
    assert np.abs(ref[:, :-1]).sum() > 0


@pytest.mark.slow
def test_fast_shap_declines_deep_trees(trained):
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    deep = lgb.LGBMClassifier(n_estimators=3, num_leaves=64, max_depth=-1, min_child_samples=2)
    deep.fit(X, y)
    assert fastshap.for_booster(deep.booster_) is None  # the scorer then uses pred_contrib


def _scores(cfg, scorer, leads: Path, acts: Path, out: Path) -> pd.DataFrame:
    request = ScoreRequest.for_files(cfg, leads, acts, out, as_of=AS_OF)
    score_files(request, scorer, "1")
    return pd.read_csv(out).drop(columns="scored_at")


@pytest.mark.slow
def test_chunked_streamed_scoring_equals_one_chunk(trained, sample_config, sample_dir, tmp_path):
    """Chunks of 97 leads give the same file as one chunk; a duplicate id in a later chunk is
    rejected with its file row number, exactly as within one chunk."""
    scorer = trained[0].scorer
    leads = pd.read_csv(sample_dir / "leads.csv", dtype=str).head(400)
    dup = leads.iloc[[3]]
    path = tmp_path / "leads.csv"
    pd.concat([leads, dup]).to_csv(path, index=False)
    acts = sample_dir / "activities.csv"
    whole = _scores(sample_config, scorer, path, acts, tmp_path / "a.csv")
    small = sample_config.model_copy(deep=True)
    small.scoring.chunk_size = 97
    chunked = _scores(small, scorer, path, acts, tmp_path / "b.csv")
    pd.testing.assert_frame_equal(whole, chunked)
    assert len(whole) == 400
    for name in ("a", "b"):
        rej = pd.read_csv(tmp_path / f"{name}.rejected.csv")
        assert rej["row"].tolist() == [402] and "duplicate" in rej["reason"].iloc[0]


@pytest.mark.slow
def test_pandas_fallback_gives_same_scores(trained, sample_config, sample_dir, tmp_path):
    """Dates pyarrow cannot read (US format) go through the pandas reader: same scores."""
    scorer = trained[0].scorer
    leads = pd.read_csv(sample_dir / "leads.csv", dtype=str).head(300)
    leads.to_csv(tmp_path / "leads.csv", index=False)
    acts = pd.read_csv(sample_dir / "activities.csv", dtype=str)
    acts = acts[acts["lead_id"].isin(leads["lead_id"])]
    acts.to_csv(tmp_path / "iso.csv", index=False)
    us = acts.assign(
        occurred_at=pd.to_datetime(acts["occurred_at"]).dt.strftime("%m/%d/%Y %I:%M:%S %p")
    )
    us.to_csv(tmp_path / "us.csv", index=False)
    a = _scores(
        sample_config, scorer, tmp_path / "leads.csv", tmp_path / "iso.csv", tmp_path / "a.csv"
    )
    b = _scores(
        sample_config, scorer, tmp_path / "leads.csv", tmp_path / "us.csv", tmp_path / "b.csv"
    )
    pd.testing.assert_frame_equal(a, b)


def test_psi_and_drift_counter():
    rng = np.random.default_rng(1)
    ref_X = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)})
    ref = DriftReference.fit(ref_X, ["c"])
    same, moved = DriftCounter(ref), DriftCounter(ref)
    for part in np.array_split(np.arange(5000), 3):  # counts add up over chunks
        same.add(ref_X.iloc[part])
    shifted = pd.DataFrame({"x": rng.normal(2, 1, 3000), "c": ["b"] * 3000})
    moved.add(shifted)
    t_same, t_moved = same.table().set_index("feature"), moved.table().set_index("feature")
    assert t_same["psi"].max() < 0.01
    assert t_moved.loc["x", "psi"] > 0.2 and t_moved.loc["c", "psi"] > 0.2
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    lines = warning_lines(moved.table(), moved.n_rows)
    assert len(lines) == 2 and any("'x'" in ln for ln in lines)
    few = DriftCounter(ref)
    few.add(shifted.head(MIN_ROWS - 1))  # as drifted, but too few leads to judge
    assert few.table()["drifted"].any()
    assert len(warning_lines(few.table(), few.n_rows)) == 1
    assert warning_lines(few.table(), few.n_rows)[0].startswith("note: drift not checked")


def _old_count(ref: DriftReference, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The bin counts as they were made before pyarrow looked the text up (the reference)."""
    out = {}
    for c, edges in ref.edges.items():
        v = X[c].to_numpy(dtype=float)
        nan = np.isnan(v)
        n = np.bincount(np.searchsorted(edges, v[~nan], side="right"), minlength=len(edges) + 1)
        out[c] = np.append(n.astype(float), nan.sum())
    for c, cats in ref.categories.items():
        s = X[c].astype("string")
        code = pd.Index(cats, dtype=object).get_indexer(s.astype(object))
        n = np.bincount(code[code >= 0], minlength=len(cats)).astype(float)
        out[c] = np.append(n, [float(((code < 0) & s.notna().to_numpy()).sum()), s.isna().sum()])
    return out


def test_drift_bins_are_counted_as_before_on_hostile_values():
    """Missing, infinite and edge values, unseen and missing categories, text as pyarrow strings
    or Python objects: every bin count is the one the object path gave."""
    rng = np.random.default_rng(2)
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    cats = rng.choice(["a", "b", "c\u200b", "Ä", None], 3000).tolist()
    ref_X = pd.DataFrame({"x": rng.integers(0, 12, 3000).astype(float), "c": cats})
    ref = DriftReference.fit(ref_X, ["c"])
    x = rng.choice([np.nan, np.inf, -np.inf, -0.0, *ref.edges["x"], 100.0], 2000)
    new = rng.choice(["a", "Ä", "unseen", "", None], 2000).tolist()
    for dtype in (text, object):
        X = pd.DataFrame({"x": x, "c": pd.array(new, dtype=dtype)})
        got, want = ref.count(X), _old_count(ref, X)
        assert got.keys() == want.keys()
        for c in want:
            np.testing.assert_array_equal(got[c], want[c])
    assert got["x"][-1] == np.isnan(x).sum() > 0 and got["c"][-1] == new.count(None) > 0


def _score_cli(tmp: Path, cfg: Path, leads: Path, out: Path):
    args = ["score", "--config", str(cfg), "--leads", str(leads), "--activities"]
    args += [str(tmp / "raw" / "activities.csv"), "--output", str(out), "--as-of", "2026-11-01"]
    return runner.invoke(app, args)


@pytest.mark.slow
def test_shifted_inputs_warn_by_feature_name_and_log_a_scoring_run(registered):
    import mlflow

    tmp, cfg = registered
    leads = pd.read_csv(tmp / "raw" / "leads.csv", dtype=str)
    r = _score_cli(tmp, cfg, tmp / "raw" / "leads.csv", tmp / "plain.csv")
    assert r.exit_code == 0, r.output
    assert "annual_ad_budget" not in r.output and "'industry'" not in r.output
    shifted = leads.assign(
        annual_ad_budget=(leads["annual_ad_budget"].astype(float) * 1000).astype("Int64"),
        industry="Mining",
    )
    shifted.to_csv(tmp / "shifted.csv", index=False)
    r = _score_cli(tmp, cfg, tmp / "shifted.csv", tmp / "shifted_scores.csv")
    assert r.exit_code == 0, r.output
    warned = [ln for ln in r.output.splitlines() if ln.startswith("warning: drift")]
    assert any("'annual_ad_budget'" in ln for ln in warned), r.output
    assert any("'industry'" in ln for ln in warned), r.output
    runs = mlflow.search_runs(
        experiment_names=["lead-scoring-scoring"], filter_string="run_name = 'score'"
    )
    runs = runs[runs["params.leads_file"].isin(["leads.csv", "shifted.csv"])]
    assert len(runs) >= 2 and runs["tags.drift_checked"].eq("true").all()
    trained = mlflow.search_runs(experiment_names=["lead-scoring"])
    assert set(trained["tags.mlflow.runName"]) == {"train"}  # scoring runs left it alone
    assert runs["metrics.psi_annual_ad_budget"].max() > 0.2
    assert runs["metrics.rows_scored"].eq(len(leads)).all()


@pytest.mark.slow
def test_monitor_reports_realised_vs_promised_per_stage(registered):
    tmp, cfg = registered
    leads = pd.read_csv(tmp / "raw" / "leads.csv", dtype=str)
    r = _score_cli(tmp, cfg, tmp / "raw" / "leads.csv", tmp / "all.csv")
    assert r.exit_code == 0, r.output
    outcomes = leads[["lead_id", "outcome"]]
    outcomes.to_csv(tmp / "outcomes.csv", index=False)
    args = ["monitor", "--config", str(cfg), "--outcomes", str(tmp / "outcomes.csv")]
    r = runner.invoke(app, [*args, "--scores", str(tmp / "all.csv")])
    assert r.exit_code == 0, r.output
    closed = outcomes["outcome"].isin(["won", "lost"]).sum()
    for key, high, low in [("stage", "SQL", "lead"), ("grade", "A", "D")]:
        rows = printed_table(r.stdout, key)
        assert {high, low} <= set(rows), key
        # the top stage and grade promised and realised more conversion than the bottom ones
        assert float(rows[high][4]) > float(rows[low][4]), key
        assert float(rows[high][5]) > float(rows[low][5]), key
        assert sum(int(v[2].replace(",", "")) for v in rows.values()) == closed, key
    assert "grades out of order" not in r.stderr  # the model's own history: grades in order

    r = runner.invoke(
        app,
        [
            "monitor",
            "--config",
            str(cfg),
            "--outcomes",
            str(tmp / "nope.csv"),
            "--scores",
            str(tmp / "all.csv"),
        ],
    )
    assert r.exit_code == 2 and "nope.csv" in r.output


def test_activity_scale_knob():
    base = generate(500, seed=3)
    again = generate(500, seed=3, activity_scale=1.0)
    pd.testing.assert_frame_equal(base.activities, again.activities)
    more = generate(500, seed=3, activity_scale=2.5)
    assert len(more.activities) > 2 * len(base.activities)


def lightgbm_matrix(enc: pd.DataFrame) -> np.ndarray:
    """The float matrix LightGBM predicts on: category codes (missing -> NaN) and numbers."""
    cols = []
    for c in enc.columns:
        s = enc[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            cols.append(codes)
        else:
            cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack(cols) if cols else np.zeros((len(enc), 0))
