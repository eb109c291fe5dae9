"""`schema.context` columns in the booster: kept unless the validation leads (newer than the fit
ones) rank better without them (`training.context: auto`), and once left out, no tree splits on
them and they never move a score or a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config import Config
from pipeline.console import summary_lines
from pipeline.jobs import load_training_data
from pipeline.modeling.booster import CategoryEncoder
from pipeline.modeling.prepare import prepare_training_rows
from pipeline.training.train import train
from tests.conftest import ROOT

PHASES = (1, 2, 3, 4)  # the period column cycles through these values month by month


def period_export(folder: Path, flips: bool, n: int = 4000, seed: int = 5) -> Config:
    """A flat dated export: a lead trait `x`, noise `job`, and `rate`, the same for every lead
    of a month (a period column) and cycling 1-4. Its effect on conversion is the same all along,
    or (`flips`) reversed in the newest 35% of the months, as when market conditions return to
    earlier values with another meaning."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 720, n)), "D")
    month = (created.year - 2023) * 12 + created.month - 1
    rate = np.array(PHASES)[month % len(PHASES)].astype(float)
    x = rng.normal(size=n)
    sign = np.where(flips & (np.arange(n) >= 0.65 * n), -1.0, 1.0)
    logit = -1.5 + 0.8 * x + sign * 1.2 * (rate - 2.5)
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    leads = pd.DataFrame(
        {
            "lead_id": np.arange(1, n + 1),
            "created_at": created.strftime("%Y-%m-%d"),
            "x": np.round(x, 3),
            "job": rng.choice(["a", "b", "c"], n),
            "rate": rate,
            "y": np.where(won, "yes", "no"),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    leads.to_csv(folder / "leads.csv", index=False)
    raw = yaml.safe_load((ROOT / "config/default.yaml").read_text())
    raw["data"] = {"leads": str(folder / "leads.csv"), "activities": None, "outcomes": None}
    raw["schema"] = {
        "lead_id": "lead_id",
        "created_at": "created_at",
        "outcome": {"column": "y", "won": ["yes"], "lost": ["no"]},
        "categorical": ["job"],
        "numeric": ["x", "rate"],
        "context": ["rate"],
    }
    raw["baseline_points"] = {}
    raw["training"]["backtest_months"] = 0
    raw["scoring"] = {"output": str(folder / "scores.csv")}
    return Config.model_validate(raw)


def test_blanked_columns_reach_lightgbm_as_missing() -> None:
    """A blanked column is missing in both views LightGBM reads; every other column is exactly
    what an encoder without `blank` gives."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "rate": rng.normal(size=200),
            "x": rng.normal(size=200),
            "region": rng.choice(["n", "s"], 200),
            "season": rng.choice(["hi", "lo"], 200),
        }
    )
    cats = ["region", "season"]
    plain = CategoryEncoder(cats, 1).fit(X)
    blank = CategoryEncoder(cats, 1, ("rate", "season")).fit(X)
    m_plain, m_blank = plain.matrix(X), blank.matrix(X)
    t_plain, t_blank = plain.transform(X), blank.transform(X)
    for j, c in enumerate(X.columns):
        if c in ("rate", "season"):
            assert np.isnan(m_blank[:, j]).all() and t_blank.iloc[:, j].isna().all()
        else:
            np.testing.assert_array_equal(m_blank[:, j], m_plain[:, j])
            pd.testing.assert_series_equal(t_blank.iloc[:, j], t_plain.iloc[:, j])
    assert t_blank.dtypes.tolist() == t_plain.dtypes.tolist()


@pytest.mark.slow
def test_auto_leaves_out_a_period_column_whose_meaning_flips(tmp_path: Path) -> None:
    cfg = period_export(tmp_path, flips=True)
    leads, events = load_training_data(cfg)
    r = train(cfg, leads, events)
    m = r.metrics
    assert r.info["context_in_model"] == "leave_out"
    assert m["context_val_roc_auc_without"] > m["context_val_roc_auc_with"]
    assert m["context_val_p"] < 0.05  # on evidence, not on a validation slice's noise
    booster = r.scorer.estimator.named_steps["lgbm"].booster_
    at = r.scorer.builder.feature_names.index("rate")
    assert booster.feature_importance()[at] == 0  # no tree splits on it
    parts, _ = r.scorer.contributions(prepare_training_rows(cfg, leads, events).X)
    assert np.all(parts[:, at] == 0)
    said = " ".join(summary_lines(r, cfg))
    assert "Market conditions (rate) are left out of the model" in said and "DeLong p=" in said


@pytest.mark.slow
def test_auto_keeps_a_period_column_that_helps_and_use_is_not_compared(tmp_path: Path) -> None:
    cfg = period_export(tmp_path, flips=False)
    r = train(cfg, *load_training_data(cfg))
    assert r.info["context_in_model"] == "use"
    m = r.metrics
    assert (
        m["context_val_roc_auc_with"] > m["context_val_roc_auc_without"]
        or m["context_val_p"] >= 0.05
    )
    at = r.scorer.builder.feature_names.index("rate")
    assert r.scorer.estimator.named_steps["lgbm"].booster_.feature_importance()[at] > 0
    cfg.training.context = "use"
    r2 = train(cfg, *load_training_data(cfg))
    assert "context_val_roc_auc_with" not in r2.metrics and r2.info["context_in_model"] == "use"
    assert "(training.context: use)" in " ".join(summary_lines(r2, cfg))


def test_leaving_context_out_needs_evidence() -> None:
    """`auto` leaves the context columns out only when the validation leads rank significantly
    better without them; a small edge within noise keeps them."""
    from pipeline.modeling.candidates import context_choice

    assert context_choice({"use": 0.850, "leave_out": 0.860, "p": 0.40}) == "use"
    assert context_choice({"use": 0.427, "leave_out": 0.633, "p": 1e-9}) == "leave_out"
    assert context_choice({"use": 0.700, "leave_out": 0.650, "p": 1e-9}) == "use"
