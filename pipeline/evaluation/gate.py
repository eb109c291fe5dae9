"""The promotion gate and the champion alias's history.

A new version may replace the champion only if it is at least as good on the evidence that
matters: the same recent leads. So the current champion is re-scored on the new run's out-of-time
test leads, each at the as-of time of its test snapshot (read through the champion's own data
config and schema, by `pipeline.tracking.gate`). Before comparing, the two must agree on what
the outcome is: each labels the shared test leads through its own outcome mapping, and more than
5% labelled apart refuses (a swapped won/lost otherwise reads as a great challenger against a
champion judged on inverted labels). The comparisons are paired tests on the same rows (DeLong,
`pipeline.evaluation.paired`): the challenger fails when significantly worse (two-sided p < 0.05)
or worse by more than the allowed drop, so noise neither blocks nor passes it. The new version
must also be calibrated (ECE under a maximum), not be worse than its baselines (logistic
regression always, the points rule when one is configured), rank the right way round (AUC and,
on sample data, the oracle's AUC at least 0.5) and rest on enough won and lost test leads.

The thresholds are the registry's policy, not the challenger's wish: a config may tighten them
for its own run, never loosen them (`effective_gate`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.config import GateConfig
from pipeline.evaluation.paired import PairedAuc, delong, worse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateResult:
    """The gate's decision as a value: whether it passed, every failing criterion, the paired
    comparisons that passed (`notes`), the figures it measured (`checks`, logged as metrics)."""

    passed: bool
    failures: tuple[str, ...] = ()
    checks: Mapping[str, float] = field(default_factory=dict)
    champion_version: str | None = None
    notes: tuple[str, ...] = ()  # the paired comparisons that passed

    @property
    def reason(self) -> str:
        """One line: every failure, or (passed) each comparison with difference, 95% CI and p."""
        if self.passed:
            first = [] if self.champion_version else ["no champion yet"]
            return f"gate passed ({'; '.join([*first, *self.notes])})"
        return "gate failed: " + "; ".join(self.failures)

    def metrics(self) -> dict[str, float]:
        return {"gate_passed": float(self.passed), **self.checks}


def _longer_age(a: int | None, b: int | None) -> int | None:
    """The stricter champion age limit: the longer one, and off (None) is the strictest of all,
    because an age limit only ever waives `max_auc_drop` for the challenger's benefit."""
    return None if a is None or b is None else max(a, b)


GATE_KEYS = (
    ("max_auc_drop", min),
    ("max_ece", min),
    ("min_won", max),
    ("min_lost", max),
    ("max_baseline_drop", min),
    ("max_champion_age_days", _longer_age),
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


LABEL_TOLERANCE = 0.05  # share of shared test leads the two outcome definitions may label apart


@dataclass(frozen=True)
class Findings:
    """What one part of the gate found: failing criteria, passed comparisons, measured figures."""

    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    checks: Mapping[str, float] = field(default_factory=dict)

    def __add__(self, other: Findings) -> Findings:
        return Findings(
            self.failures + other.failures,
            self.notes + other.notes,
            {**self.checks, **other.checks},
        )


@dataclass
class Champion:
    """What the gate knows about the champion, for the challenger's test leads (row-aligned with
    its test predictions): its probabilities, its own labels (NaN: open under its outcome mapping),
    how old it is, or why it could not be scored."""

    version: str
    probabilities: np.ndarray | None = None
    labels: np.ndarray | None = None
    age_days: float | None = None
    error: str | None = None
    target: str | None = None  # what its probabilities mean (`target_definition`); None: unknown


def target_definition(horizon_days: int | None) -> str:
    """What a model's probabilities mean, in the words the gate, the run and the version use:
    'ever won', or 'won within N days' with `targets.horizon_days`."""
    return f"won within {horizon_days} days" if horizon_days else "ever won"


def target_change(champ: Champion, target: str | None) -> Findings:
    """A new target definition is a new question, not a better answer: the gate never promotes
    it by itself (a 1% label disagreement between "ever won" and "won within 90 days" would
    otherwise let it replace the champion unnoticed); promoting it is a person's decision."""
    if target is None or champ.target is None or champ.target == target:
        return Findings()
    why = (
        f"the target changed: champion v{champ.version} predicts '{champ.target}', this version "
        f"'{target}' (targets.horizon_days), so it is never promoted automatically; to serve "
        "the new target, review this version and promote it by hand with 'leadscore promote "
        "VERSION'"
    )
    return Findings((why,))


def evaluate_gate(
    gate: GateConfig,
    metrics: dict[str, float],
    preds: pd.DataFrame,
    points_rule: bool = False,
    champion: Champion | None = None,
    target: str | None = None,
) -> GateResult:
    """Check the new version against the gate's thresholds; every failing criterion is named.

    The baselines count even without a champion: a first model below logistic regression (or
    below the configured points rule) would otherwise start serving unchallenged. A model whose
    ranking is upside down (test or oracle AUC below 0.5) never passes. `champion` is the
    registry's champion, if any; `target` what the new version predicts (`target_definition`):
    a champion that predicts something else is never replaced by the gate (`target_change`).
    """
    y = preds["label"].to_numpy(int)
    won, lost = int(y.sum()), int((1 - y).sum())
    failures = []
    if won < gate.min_won or lost < gate.min_lost:
        failures.append(
            f"too little evidence: {won} won / {lost} lost test leads, need at least "
            f"{gate.min_won} / {gate.min_lost} (gate.min_won / gate.min_lost)"
        )
    ece = float(metrics["test_ece"])
    if ece > gate.max_ece:
        failures.append(f"test ECE {ece:.4f} above gate.max_ece {gate.max_ece}")
    both = 0 < won < len(y)
    new_auc = float(roc_auc_score(y, preds["probability"])) if both else float("nan")
    failures += inverted_failures(new_auc, metrics)
    checks = {"gate_test_won": float(won), "gate_test_lost": float(lost)}
    found = Findings(tuple(failures), (), {**checks, "gate_new_roc_auc": new_auc})
    if both:
        found += baseline_checks(preds, metrics, points_rule, gate)
    else:
        found += Findings(tuple(baseline_failures(metrics, points_rule, gate.max_baseline_drop)))
    if champion is not None:
        champ = target_change(champion, target)
        if not champ.failures:
            champ = champion_checks(gate, preds, champion)
        # the champion's comparison is the first note a reader sees
        found = Findings(found.failures + champ.failures, champ.notes + found.notes, found.checks)
        found += Findings(checks=champ.checks)
    version = champion.version if champion else None
    return GateResult(not found.failures, found.failures, found.checks, version, found.notes)


def inverted_failures(new_auc: float, metrics: dict[str, float]) -> list[str]:
    """A model whose ranking is upside down is never promoted, however it compares with others:
    its own test AUC below 0.5, or (sample data) the true probabilities' AUC below 0.5 on its
    labels, which means its labels are the inverse of what happened."""
    out = []
    if new_auc < 0.5:
        out.append(
            f"test AUC {new_auc:.4f} is below 0.5: the model ranks lost leads above won ones; "
            "check schema.outcome.won/lost (swapped?)"
        )
    oracle = float(metrics.get("oracle_roc_auc", float("nan")))
    if oracle < 0.5:
        out.append(
            f"oracle AUC {oracle:.4f} is below 0.5: the sample's true probabilities rank this "
            "config's won leads last, so its labels are inverted; check schema.outcome.won/lost"
        )
    return out


def baseline_checks(
    preds: pd.DataFrame,
    metrics: dict[str, float],
    points_rule: bool,
    gate: GateConfig,
) -> Findings:
    """Paired tests against each baseline on the same test leads (DeLong): the new version fails
    when it is significantly worse or worse by more than `max_baseline_drop`. A baseline whose
    per-lead scores were not kept falls back to comparing the logged AUCs."""
    y, p = preds["label"].to_numpy(int), preds["probability"].to_numpy(float)
    failures, notes, checks = [], [], {}
    for key, label, col in baselines(metrics, points_rule):
        if col not in preds.columns:
            failures += auc_failure(metrics, key, label, gate.max_baseline_drop)
            continue
        test = delong(y, p, preds[col].to_numpy(float))
        checks |= paired_checks(f"gate_baseline_{key}", test)
        why = worse(test, gate.max_baseline_drop)
        if why:
            failures.append(
                f"test AUC {test.auc_a:.4f} does not beat the {label} baseline ({test.auc_b:.4f}) "
                f"on the same test rows, {why}: {test.text()} (gate.max_baseline_drop "
                f"{gate.max_baseline_drop})"
            )
        else:
            notes.append(
                f"vs {label} baseline: AUC {test.auc_a:.4f} vs {test.auc_b:.4f}, {test.text()}"
            )
    return Findings(tuple(failures), tuple(notes), checks)


BASELINES = (
    ("logreg", "logistic-regression", "baseline_logreg"),
    ("points", "points-rule", "points"),
)


def baselines(metrics: dict[str, float], points_rule: bool) -> list[tuple[str, str, str]]:
    """The baselines a new version must beat: the points rule only when one is configured, and
    not the logistic regression when the logistic candidate is the served model (it would be
    compared with itself)."""
    out = list(BASELINES[: 2 if points_rule else 1])
    if metrics.get("baseline_logreg_is_served") == 1.0:
        out = [b for b in out if b[0] != "logreg"]
    return out


def paired_checks(prefix: str, test: PairedAuc) -> dict[str, float]:
    """A paired test as gate metrics: `{prefix}_auc_diff`, `_auc_p`, `_auc_ci_low`, `_auc_ci_high`."""
    return {
        f"{prefix}_auc_diff": test.diff,
        f"{prefix}_auc_p": test.p,
        f"{prefix}_auc_ci_low": test.low,
        f"{prefix}_auc_ci_high": test.high,
    }


def champion_checks(
    gate: GateConfig,
    preds: pd.DataFrame,
    champ: Champion,
) -> Findings:
    """Champion and challenger must agree on what the outcome is before their AUCs are compared;
    then the challenger fails if significantly worse, or worse by more than `max_auc_drop` unless
    the champion is older than `max_champion_age_days` (then only a significant loss refuses)."""
    v = champ.version
    if champ.error:
        return Findings((f"champion v{v} could not be scored: {champ.error}",))
    y = preds["label"].to_numpy(int)
    if champ.probabilities is None or not 0 < y.sum() < len(y):
        return Findings()
    checks = {}
    if champ.labels is not None:
        labels = label_disagreement(y, champ.labels, v)
        if labels.failures:
            return labels
        checks |= labels.checks
    test = delong(y, preds["probability"].to_numpy(float), champ.probabilities)
    checks |= paired_checks("gate_champion", test)
    # both AUCs from the one paired computation, so equal scores read as equal AUCs to the last bit
    checks["gate_new_roc_auc"], checks["gate_champion_roc_auc"] = test.auc_a, test.auc_b
    checks["gate_auc_drop"] = -test.diff
    old = (
        gate.max_champion_age_days is not None
        and (champ.age_days or 0) > gate.max_champion_age_days
    )
    if champ.age_days is not None:
        checks["gate_champion_age_days"] = champ.age_days
    why = worse(test, 1.0 if old else gate.max_auc_drop)
    aged = (
        f"; champion is {champ.age_days:.0f} days old (gate.max_champion_age_days "
        f"{gate.max_champion_age_days}): only a significant loss keeps it"
        if old
        else ""
    )
    if why:
        return Findings(
            (
                f"test AUC {test.auc_a:.4f} is below champion v{v} ({test.auc_b:.4f}) on the same "
                f"test rows, {why}: {test.text()} (gate.max_auc_drop {gate.max_auc_drop}){aged}",
            ),
            checks=checks,
        )
    note = (
        f"vs champion v{v}: AUC {test.auc_a:.4f} vs {test.auc_b:.4f} on the same test rows, "
        f"{test.text()}{aged}"
    )
    return Findings(notes=(note,), checks=checks)


def label_disagreement(y: np.ndarray, champ: np.ndarray, version: str) -> Findings:
    """Why the champion's outcome definition differs from the challenger's on the shared test
    leads (a failure), with the shares measured (checks). Each side labels the leads through its own config (outcome column, won/lost
    values, outcomes table); more than LABEL_TOLERANCE of them apart, or labels that correlate
    negatively, means the two AUCs answer different questions and must not be compared."""
    champ = np.asarray(champ, float)
    known = ~np.isnan(champ)
    shared = int(known.sum())
    checks = {"gate_label_shared": float(shared)}
    fix = (
        "check schema.outcome (won/lost values, outcome column); if the new definition is "
        "intended, review this version and promote it by hand with 'leadscore promote VERSION'"
    )
    if shared == 0:
        why = (
            f"champion v{version}'s outcome mapping labels none of the {len(y)} test leads won or "
            f"lost, so the two models cannot be compared; {fix}"
        )
        return Findings((why,), checks=checks)
    a, b = y[known].astype(float), champ[known]
    share = float((a != b).mean())
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    checks |= {"gate_label_disagreement": share, "gate_champion_won_share": float(b.mean())}
    if share > LABEL_TOLERANCE or corr < 0:
        why = (
            f"champion v{version} and this version disagree on what 'won' means: "
            f"{share:.1%} of {shared} shared test leads are labelled differently under the "
            f"champion's outcome mapping (won share {b.mean():.1%} vs {a.mean():.1%}), so their "
            f"AUCs are not comparable; {fix}"
        )
        return Findings((why,), checks=checks)
    return Findings(checks=checks)


def baseline_failures(metrics: dict[str, float], points_rule: bool, slack: float) -> list[str]:
    """The baselines the new version does not beat by their logged AUCs (a missing AUC fails too):
    the fallback when the baselines' per-lead scores were not kept for a paired test.

    `slack` (`max_baseline_drop`) is how far below a baseline the registry's policy tolerates.
    """
    out = []
    for key, label, _ in baselines(metrics, points_rule):
        out += auc_failure(metrics, key, label, slack)
    return out


def auc_failure(metrics: dict[str, float], key: str, label: str, slack: float) -> list[str]:
    """The logged-AUC comparison with one baseline: [why it fails] or []."""
    new = float(metrics.get("test_roc_auc", float("nan")))
    base = float(metrics.get(f"baseline_{key}_roc_auc", float("nan")))
    if new - base > -slack:  # NaN on either side fails: no evidence is not a pass
        return []
    allowed = f" (gate.max_baseline_drop {slack})" if slack else ""
    return [
        f"test AUC {new:.4f} does not beat the {label} baseline ({base:.4f}) on the same "
        f"test rows{allowed}"
    ]


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
    return replace(result, passed=False, failures=(*result.failures, why))
