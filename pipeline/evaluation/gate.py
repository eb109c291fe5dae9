"""The promotion gate and the champion alias's history.

A new version may replace the champion only if it is at least as good on the evidence that
matters: the same recent leads. So the current champion is re-scored on the new run's out-of-time
test leads, each at the as-of time of its test snapshot (read through the champion's own data
config and schema, by `pipeline.tracking.gate`), and the two AUCs are compared on exactly those
rows. The new version must also be calibrated (ECE under a maximum), beat its baselines (logistic
regression always, the points rule when one is configured) and rest on enough won and lost test
leads for the comparison to mean something.

The thresholds are the registry's policy, not the challenger's wish: a config may tighten them
for its own run, never loosen them (`effective_gate`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.config import GateConfig

log = logging.getLogger(__name__)


@dataclass
class GateResult:
    passed: bool
    failures: list[str] = field(default_factory=list)
    checks: dict[str, float] = field(default_factory=dict)
    champion_version: str | None = None

    @property
    def reason(self) -> str:
        if self.passed:
            vs = (
                f"vs champion v{self.champion_version}: AUC {self.checks['gate_new_roc_auc']:.4f} "
                f"vs {self.checks['gate_champion_roc_auc']:.4f} on the same test rows"
                if self.champion_version
                else "no champion yet"
            )
            return f"gate passed ({vs})"
        return "gate failed: " + "; ".join(self.failures)

    def metrics(self) -> dict[str, float]:
        return {"gate_passed": float(self.passed), **self.checks}


GATE_KEYS = (
    ("max_auc_drop", min),
    ("max_ece", min),
    ("min_won", max),
    ("min_lost", max),
    ("max_baseline_drop", min),
)


def effective_gate(policy: GateConfig, asked: GateConfig) -> tuple[GateConfig, list[str]]:
    """The registry's thresholds, tightened (never loosened) by the keys a config sets.

    Returns the thresholds that apply and one note per key the config tried to loosen; a key the
    config does not set (`model_fields_set`) is neither a tightening nor a complaint.
    """
    out, loosened = policy.model_dump(), []
    for key, stricter in GATE_KEYS:
        if key not in asked.model_fields_set:
            continue
        mine, wish = getattr(policy, key), getattr(asked, key)
        out[key] = stricter(mine, wish)
        if out[key] != wish:
            loosened.append(f"gate.{key} {wish} (registry: {mine})")
    return GateConfig(**out), loosened


def champion_probabilities(
    champion: object, preds: pd.DataFrame, leads: pd.DataFrame, events: pd.DataFrame
) -> np.ndarray:
    """The champion's probabilities for the new run's test leads at their test snapshot times."""
    ids = preds["lead_id"].to_numpy()
    as_of = pd.to_datetime(preds["as_of"]).to_numpy(dtype="datetime64[ns]")
    out = champion.score(leads.loc[ids], events, as_of, n_reasons=0)
    return out["probability"].to_numpy(float)


def evaluate_gate(
    gate: GateConfig,
    metrics: dict[str, float],
    preds: pd.DataFrame,
    champion_p: np.ndarray | None = None,
    champion_version: str | None = None,
    champion_error: str | None = None,
    points_rule: bool = False,
) -> GateResult:
    """Check the new version against the gate's thresholds; every failing criterion is named.

    The baselines count even without a champion: a first model below logistic regression (or
    below the configured points rule) would otherwise start serving unchallenged.
    """
    y = preds["label"].to_numpy(int)
    won, lost = int(y.sum()), int((1 - y).sum())
    failures = []
    checks = {"gate_test_won": float(won), "gate_test_lost": float(lost)}
    if won < gate.min_won or lost < gate.min_lost:
        failures.append(
            f"too little evidence: {won} won / {lost} lost test leads, need at least "
            f"{gate.min_won} / {gate.min_lost} (gate.min_won / gate.min_lost)"
        )
    ece = float(metrics["test_ece"])
    if ece > gate.max_ece:
        failures.append(f"test ECE {ece:.4f} above gate.max_ece {gate.max_ece}")
    new_auc = float(roc_auc_score(y, preds["probability"])) if 0 < won < len(y) else float("nan")
    checks["gate_new_roc_auc"] = new_auc
    failures += baseline_failures(metrics, points_rule, gate.max_baseline_drop)
    if champion_error:
        failures.append(f"champion v{champion_version} could not be scored: {champion_error}")
    elif champion_p is not None and 0 < won < len(y):
        champ_auc = float(roc_auc_score(y, champion_p))
        checks["gate_champion_roc_auc"] = champ_auc
        checks["gate_auc_drop"] = champ_auc - new_auc
        if champ_auc - new_auc > gate.max_auc_drop:
            failures.append(
                f"test AUC {new_auc:.4f} is {champ_auc - new_auc:.4f} below champion "
                f"v{champion_version} ({champ_auc:.4f}) on the same test rows "
                f"(gate.max_auc_drop {gate.max_auc_drop})"
            )
    return GateResult(not failures, failures, checks, champion_version)


def baseline_failures(metrics: dict[str, float], points_rule: bool, slack: float) -> list[str]:
    """The baselines the new version does not beat on its test rows (a missing AUC fails too).

    `slack` (`max_baseline_drop`, 0 by default) is how far below a baseline the registry's policy
    tolerates, for samples so small that the AUCs are within noise of each other.
    """
    names = [("logreg", "logistic-regression")] + (
        [("points", "points-rule")] if points_rule else []
    )
    new = float(metrics.get("test_roc_auc", float("nan")))
    out = []
    for key, label in names:
        base = float(metrics.get(f"baseline_{key}_roc_auc", float("nan")))
        if not new - base > -slack:  # NaN on either side fails: no evidence is not a pass
            allowed = f" (gate.max_baseline_drop {slack})" if slack else ""
            out.append(
                f"test AUC {new:.4f} does not beat the {label} baseline ({base:.4f}) on the same "
                f"test rows{allowed}"
            )
    return out


def leakage_failure(
    suspects: list[dict] | None, accepted: list[str] | tuple[str, ...]
) -> str | None:
    """A model that still uses leakage suspects is not promoted unless the config accepts each of
    them by name (`leakage.accept`): a leaky model looks better than any honest champion."""
    kept = [s["column"] for s in suspects or [] if s.get("column") not in set(accepted)]
    if not kept:
        return None
    return (
        f"leakage suspects still used as features: {', '.join(kept)}; add them to schema.drop "
        "and train again, or, if they are known before the sale, list them under leakage.accept"
    )


def with_leakage_rule(
    result: GateResult, suspects: list[dict] | None, accepted: list[str] | tuple[str, ...]
) -> GateResult:
    """The gate's decision with the leakage rule added as its own failure reason."""
    why = leakage_failure(suspects, accepted)
    if why is None:
        return result
    return GateResult(False, [*result.failures, why], result.checks, result.champion_version)
