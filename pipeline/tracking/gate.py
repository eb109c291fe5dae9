"""The promotion gate against the registry's champion: load it, score it on the new run's test
leads through its OWN inputs, and hand both to the pure decision in `pipeline.evaluation.gate`.

The challenger cannot bend the comparison: the champion reads the test leads from the data config
and schema it was trained with (kept in its `meta`), with its own activity table, and the
thresholds are the registry's (`registry.gate_policy`), which a config may tighten but not
loosen. If the champion's inputs cannot be read, the gate fails closed and says why. The decision
is taken again under the champion lock right before the alias moves (`decide_and_move`), so two
trainings that finish together cannot both replace a champion they never saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.config import Config, GateConfig
from pipeline.errors import DataError, ExpectedError
from pipeline.evaluation.gate import (
    Champion,
    GateResult,
    champion_probabilities,
    effective_gate,
    evaluate_gate,
    target_definition,
    with_leakage_rule,
)
from pipeline.io import fastcsv
from pipeline.io.canonical import TEXT
from pipeline.serving.batch import chosen_model_leads
from pipeline.tracking import registry
from pipeline.tracking.pyfunc import load_scorer
from pipeline.tracking.store import CHAMPION, MODEL_NAME
from pipeline.training.train import TrainResult

log = logging.getLogger(__name__)
PENDING = "pending: the gate has not decided yet"


@dataclass
class GateRun:
    """One training's gate: its config's wishes, and the champions already scored (by version)."""

    asked: GateConfig
    points_rule: bool
    scored: dict[str, Champion] = field(default_factory=dict)
    warned: bool = False
    leakage_accept: tuple[str, ...] = ()  # suspects kept on purpose (config leakage.accept)
    now: pd.Timestamp | None = None  # the clock of the champion's age (retrain --now); None: now


def data_meta(cfg: Config) -> dict:
    """The data config a model keeps so a later gate can read its inputs: absolute paths."""
    d = cfg.data.model_dump()
    for k in ("leads", "activities", "outcomes"):
        if d.get(k):
            d[k] = str(Path(d[k]).resolve())
    d["oracle"] = None
    return d


def check_against_champion(client: MlflowClient, result: TrainResult, run: GateRun) -> GateResult:
    """The gate for a trained result against the registry's current champion and policy.

    A config key that tries to loosen the registry's threshold is warned about, once a training.
    """
    gate, loosened = effective_gate(registry.gate_policy(client), run.asked)
    if loosened and not run.warned:
        run.warned = True
        log.warning(
            "config gate ignored where it loosens the registry's: %s (change the policy with "
            "'leadscore gate set')",
            ", ".join(loosened),
        )
    version = registry.get_alias_version(client, CHAMPION)
    champ = None
    if version is not None:
        if version not in run.scored:
            run.scored[version] = champion_scores(version, result.test_predictions)
        champ = run.scored[version]
        champ.age_days = champion_age_days(client, version, run.now)  # the clock moves
    preds = result.test_predictions
    target = target_definition(result.info.get("horizon_days"))
    decided = evaluate_gate(
        gate, result.metrics, preds, points_rule=run.points_rule, champion=champ, target=target
    )
    return with_leakage_rule(decided, result.info.get("leakage_suspects"), run.leakage_accept)


def champion_scores(version: str, preds: pd.DataFrame) -> Champion:
    """The champion's probabilities and its own labels for the test leads, or why it could not be
    scored."""
    try:
        champion, _ = load_scorer(f"models:/{MODEL_NAME}/{version}")
        ids = preds["lead_id"].astype(str)
        leads, events, labels = champion_inputs(champion, ids)
        p = champion_probabilities(champion, preds.assign(lead_id=ids), leads, events)
        target = target_definition(champion.meta.get("horizon_days"))
        return Champion(version, p, labels.reindex(ids.to_numpy()).to_numpy(float), target=target)
    except (ExpectedError, KeyError, ValueError, OSError, MlflowException) as e:
        text = str(e).strip()
        return Champion(version, error=text.splitlines()[0][:300] if text else type(e).__name__)


def champion_age_days(
    client: MlflowClient, version: str, now: pd.Timestamp | None = None
) -> float | None:
    """Days since the champion version was registered, by the clock or `now` (naive UTC), None
    if the registry does not say."""
    try:
        created = client.get_model_version(MODEL_NAME, version).creation_timestamp
    except MlflowException:
        return None
    at = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    return (at.value // 1_000_000 - created) / 86_400_000 if created else None


def champion_inputs(champion, ids: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The test leads, their events and their labels (1 won, 0 lost, NaN open), read as the
    champion was trained to read them: its outcome mapping decides what it calls won.

    Read in memory bounded by the test leads, not by the champion's export: a retrain at scale
    must stay within the memory the first training needs (and with the Dask engine this process
    never held the export). The leads file in batches keeping the test leads' rows
    (`batch.chosen_model_leads`: the whole-file rules, the labels decided over every lead), the
    activities by the block reader training uses, keeping the test leads' events
    (`fastcsv.training_events`: its fast path wants the ids as pyarrow text)."""
    data = champion.meta.get("data")
    if not data:
        raise DataError(
            "it keeps no data config (trained before the gate read the champion's own inputs); "
            "review the challenger and promote it by hand with 'leadscore promote VERSION'"
        )
    cfg = Config.model_validate({"data": data, "schema": champion.meta["schema"]})
    wanted = pd.Index(ids.unique(), dtype=TEXT, name="lead_id")
    leads = chosen_model_leads(Path(cfg.data.leads), cfg, champion, wanted)
    missing = wanted.difference(leads.index)
    if len(missing):
        raise DataError(
            f"{cfg.data.leads}: the champion's leads file lacks {len(missing)} of the "
            f"{len(wanted)} test leads (e.g. {missing[0]}); point the champion's data at "
            "the same export or review and promote by hand"
        )
    labels = leads["_label"]
    leads = leads.assign(_label=np.nan, _closed_at=pd.NaT)  # what the scorer reads: no outcome
    events = fastcsv.training_events(cfg, wanted)
    return leads, events.assign(lead_id=events["lead_id"].astype(str)), labels


def decide_and_move(
    client: MlflowClient, result: TrainResult, run: GateRun, version: str, run_id: str
) -> GateResult:
    """Under the champion lock: re-read the champion and the policy, decide again (champions
    already scored are not re-scored), write the audit tags, then move the alias if it passed."""
    with registry.champion_lock(client):
        gate = check_against_champion(client, result, run)
        reason = gate.reason[:4000]
        client.set_model_version_tag(MODEL_NAME, version, "gate_reason", reason)
        client.set_tag(run_id, "gate_passed", str(gate.passed).lower())
        client.set_tag(run_id, "gate_reason", reason)
        for k, v in gate.metrics().items():
            if pd.notna(v):
                client.log_metric(run_id, k, float(v))
        if gate.passed:
            by = f"{registry.actor()} (train gate)"
            registry.move_champion(client, MODEL_NAME, version, gate.reason, by)
    return gate
