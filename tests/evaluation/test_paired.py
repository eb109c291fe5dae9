"""DeLong's paired AUC test: against a hand-derived example, the O(m*n) definition, a paired
bootstrap, and the gate rules it drives (a 0.001 gap on ~1,000 leads is noise, 0.05 is not)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from pipeline.config import GateConfig
from pipeline.evaluation.gate import Champion, effective_gate, evaluate_gate, target_definition
from pipeline.evaluation.paired import Z95, delong, worse


def test_hand_derived_example():
    # won leads: A = 0.9, 0.5; B = 0.8, 0.7. lost leads: A = 0.6, 0.1; B = 0.2, 0.3.
    # AUC A = 3/4 (0.5 < 0.6), AUC B = 1. Placements (share of the other class beaten):
    # won: A [1, .5], B [1, 1]; lost: A [.5, 1], B [1, 1]. Sample variances of A's: .125 each,
    # B's and the covariances 0. var(diff) = .125/2 + .125/2 = .125, z = -.25/sqrt(.125).
    y = np.array([1, 1, 0, 0])
    t = delong(y, np.array([0.9, 0.5, 0.6, 0.1]), np.array([0.8, 0.7, 0.2, 0.3]))
    se = np.sqrt(0.125)
    assert (t.auc_a, t.auc_b, t.diff) == pytest.approx((0.75, 1.0, -0.25))
    assert t.p == pytest.approx(2 * norm.sf(0.25 / se)) and t.p == pytest.approx(0.4795, abs=1e-4)
    assert (t.low, t.high) == pytest.approx((-0.25 - 1.959964 * se, -0.25 + 1.959964 * se))


def _slow_delong_var(y, a, b):
    """DeLong (1988) straight from the definition: placements by comparing every pair."""

    def placements(s):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (va, wa), (vb, wb) = placements(a), placements(b)
    m, n = len(va), len(wa)
    return np.var(va - vb, ddof=1) / m + np.var(wa - wb, ddof=1) / n


def _pair(seed: int, n: int = 1000, rate: float = 0.2):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    z = y * 1.2 + rng.normal(0, 1, n)
    return y, z + rng.normal(0, 0.7, n), z + rng.normal(0, 0.7, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_and_the_pairwise_definition_with_ties(seed):
    y, a, b = _pair(seed, 400)
    a, b = np.round(a, 1), np.round(b, 1)  # many ties: mid-ranks must count them as half
    t = delong(y, a, b)
    assert t.auc_a == pytest.approx(roc_auc_score(y, a)) and t.auc_b == pytest.approx(
        roc_auc_score(y, b)
    )
    se = (t.high - t.low) / (2 * Z95)
    assert se**2 == pytest.approx(_slow_delong_var(y, a, b), rel=1e-9)


def test_standard_error_agrees_with_a_paired_bootstrap():
    y, a, b = _pair(7)
    t = delong(y, a, b)
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(400):
        i = rng.integers(0, len(y), len(y))
        diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    se = (t.high - t.low) / (2 * Z95)
    assert np.std(diffs, ddof=1) == pytest.approx(se, rel=0.15)
    assert np.mean(diffs) == pytest.approx(t.diff, abs=se / 2)


def test_identical_scores_are_no_evidence():
    y, a, _ = _pair(3, 300)
    t = delong(y, a, a)
    assert (t.diff, t.p, t.low, t.high) == (0.0, 1.0, 0.0, 0.0)
    assert worse(t, 0.0) is None
    with pytest.raises(ValueError):
        delong(np.zeros(5), a[:5], a[:5])


def _constructed(target):
    y, b, c = _pair(11)
    m, n = int(y.sum()), int((1 - y).sum())
    pairs = round((roc_auc_score(y, c) - roc_auc_score(y, b) - target) * m * n)
    mover = c if pairs > 0 else b
    moved = mover.copy()
    left, neg = abs(pairs), np.sort(mover[y == 0])
    for i in np.flatnonzero(y == 1)[np.argsort(-mover[y == 1])]:
        r = int(np.searchsorted(neg, moved[i]))
        j = min(left, r)
        moved[i] = (neg[r - j - 1] + neg[r - j]) / 2 if r - j > 0 else neg[0] - 1
        left -= j
        if not left:
            break
    c, b = (moved, b) if pairs > 0 else (c, moved)
    assert roc_auc_score(y, c) - roc_auc_score(y, b) == pytest.approx(target, abs=1 / (m * n))
    preds = pd.DataFrame({"label": y, "probability": c, "baseline_logreg": b, "points": 0.0})
    metrics = {"test_ece": 0.01, "test_roc_auc": roc_auc_score(y, c)}
    return preds, metrics | {"baseline_logreg_roc_auc": roc_auc_score(y, b)}


def test_gate_passes_a_challenger_0001_below_its_baseline_and_fails_one_005_below():
    preds, metrics = _constructed(-0.001)
    ok = evaluate_gate(GateConfig(), metrics, preds)
    assert ok.passed, ok.reason
    assert ok.checks["gate_baseline_logreg_auc_diff"] == pytest.approx(-0.001, abs=1e-5)
    p = ok.checks["gate_baseline_logreg_auc_p"]
    assert 0.05 < p < 1
    assert "vs logistic-regression baseline" in ok.reason and f"p={p:.2f}" in ok.reason
    assert "95% CI" in ok.reason

    preds, metrics = _constructed(-0.05)
    bad = evaluate_gate(GateConfig(), metrics, preds)
    assert not bad.passed and "logistic-regression baseline" in bad.reason
    assert bad.checks["gate_baseline_logreg_auc_p"] < 0.05
    assert "significantly worse" in bad.reason
    # not significant, but beyond a strict policy's allowed drop: refused for the drop
    preds, metrics = _constructed(-0.001)
    strict = evaluate_gate(GateConfig(max_baseline_drop=0.0), metrics, preds)
    assert not strict.passed and "by more than the allowed drop" in strict.reason


def test_champion_comparison_is_paired_and_age_waives_only_the_drop():
    preds, _ = _constructed(-0.03)
    y, c, b = preds["label"].to_numpy(), preds["probability"], preds["baseline_logreg"]
    metrics = {"test_ece": 0.01, "test_roc_auc": roc_auc_score(y, c), "oracle_roc_auc": 0.8}
    metrics["baseline_logreg_roc_auc"] = 0.5
    mine = preds.assign(baseline_logreg=0.5 + 0 * y)  # beats the baseline: only the champion counts
    champ = Champion("4", b.to_numpy(), labels=y.astype(float), age_days=10.0)
    t = delong(y, c, b)
    gate = GateConfig(max_auc_drop=0.05)
    r = evaluate_gate(gate, metrics, mine, champion=champ)
    assert r.passed == (t.p >= 0.05), r.reason
    assert r.checks["gate_champion_auc_p"] == pytest.approx(t.p)
    assert r.checks["gate_champion_auc_ci_low"] == pytest.approx(t.low)
    # a drop within max_auc_drop but not significant passes; beyond it fails unless the
    # champion is older than the age limit, and then only a significant loss fails
    small, _ = _constructed(-0.002)
    champ2 = Champion("4", small["baseline_logreg"].to_numpy(), y.astype(float), 400.0)
    near = small.assign(baseline_logreg=0.5 + 0 * y)
    tight = GateConfig(max_auc_drop=0.001)
    assert not evaluate_gate(tight, metrics, near, champion=champ2).passed
    aged = GateConfig(max_auc_drop=0.001, max_champion_age_days=365)
    r = evaluate_gate(aged, metrics, near, champion=champ2)
    assert r.passed and "400 days old" in r.reason and r.checks["gate_champion_age_days"] == 400
    young = Champion("4", champ2.probabilities, champ2.labels, age_days=30.0)
    assert not evaluate_gate(aged, metrics, near, champion=young).passed


def test_label_disagreement_refuses_before_comparing():
    preds, metrics = _constructed(0.0)
    y = preds["label"].to_numpy()
    metrics["baseline_logreg_roc_auc"] = metrics["test_roc_auc"]
    swapped = Champion("1", 1 - preds["probability"].to_numpy(), labels=1.0 - y)
    r = evaluate_gate(GateConfig(), metrics, preds, champion=swapped)
    assert not r.passed and "gate_champion_auc_diff" not in r.checks
    assert "disagree on what 'won' means" in r.reason and "100.0% of 1000" in r.reason
    assert "leadscore promote" in r.reason and r.checks["gate_label_disagreement"] == 1.0
    few = y.astype(float)
    few[np.flatnonzero(y == 1)[:20]] = 0  # 2% relabelled: within tolerance, compared as usual
    few[np.flatnonzero(y == 0)[:5]] = np.nan  # open under the champion's mapping: not shared
    r = evaluate_gate(
        GateConfig(), metrics, preds, champion=Champion("1", preds["probability"].to_numpy(), few)
    )
    assert r.checks["gate_label_shared"] == 995 and "disagree" not in r.reason
    assert "gate_champion_auc_diff" in r.checks
    none = Champion("1", preds["probability"].to_numpy(), np.full(len(y), np.nan))
    assert (
        "labels none of the 1000 test leads"
        in evaluate_gate(GateConfig(), metrics, preds, champion=none).reason
    )


def test_inverted_model_never_passes():
    preds, metrics = _constructed(0.0)
    flipped = preds.assign(probability=1 - preds["probability"], baseline_logreg=0.5)
    r = evaluate_gate(GateConfig(max_baseline_drop=1), metrics, flipped)
    assert not r.passed and "below 0.5: the model ranks lost leads above won ones" in r.reason
    r = evaluate_gate(GateConfig(max_baseline_drop=1), {**metrics, "oracle_roc_auc": 0.087}, preds)
    assert not r.passed and "oracle AUC 0.0870 is below 0.5" in r.reason


def test_age_limit_tightens_only_by_growing_longer():
    policy = GateConfig(max_champion_age_days=90)
    for asked, applies, loosened in [
        ({"max_champion_age_days": 30}, 90, True),  # shorter would wave challengers through
        ({"max_champion_age_days": 180}, 180, False),
        ({"max_champion_age_days": None}, None, False),  # off: the strictest
        ({}, 90, False),
    ]:
        got, notes = effective_gate(policy, GateConfig(**asked))
        assert got.max_champion_age_days == applies and bool(notes) == loosened, asked
    got, notes = effective_gate(GateConfig(), GateConfig(max_champion_age_days=30))
    assert got.max_champion_age_days is None and notes
    assert (
        GateConfig.model_validate({"max_champion_age_days": "None"}).max_champion_age_days is None
    )


def test_a_new_target_definition_is_never_promoted_by_the_gate():
    """A horizon model against an ever-won champion (or another N) fails the gate however well it
    scores and however few labels differ; the failure names both definitions and the command that
    promotes it by hand. The same definition is compared as usual."""
    preds, metrics = _constructed(0.05)  # a clearly better challenger
    y = preds["label"].to_numpy()
    champ = Champion("3", preds["baseline_logreg"].to_numpy(), labels=y.astype(float))
    champ.target = target_definition(None)
    same = evaluate_gate(GateConfig(), metrics, preds, champion=champ, target="ever won")
    assert same.passed, same.reason
    for mine, theirs in ((90, None), (90, 30), (None, 90)):
        champ.target = target_definition(theirs)
        r = evaluate_gate(
            GateConfig(), metrics, preds, champion=champ, target=target_definition(mine)
        )
        assert not r.passed
        assert f"champion v3 predicts '{target_definition(theirs)}'" in r.reason
        assert f"this version '{target_definition(mine)}'" in r.reason
        assert "promote it by hand with 'leadscore promote VERSION'" in r.reason
    assert target_definition(90) == "won within 90 days" and target_definition(None) == "ever won"
