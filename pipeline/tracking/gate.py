"""The promotion gate against the registry's champion: load it, score it on the new run's test
leads, and hand both to the pure decision in `pipeline.evaluation.gate`."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from mlflow import MlflowClient

from pipeline.config import GateConfig
from pipeline.errors import RegistryError
from pipeline.evaluation.gate import GateResult, champion_probabilities, evaluate_gate
from pipeline.modeling.scorer import LeadScorer
from pipeline.modeling.train import TrainResult
from pipeline.tracking.pyfunc import load_scorer
from pipeline.tracking.registry import get_alias_version
from pipeline.tracking.store import CHAMPION, MODEL_NAME


def check_against_champion(
    gate: GateConfig,
    client: MlflowClient,
    result: TrainResult,
    leads: pd.DataFrame,
    events: pd.DataFrame,
    reread: Callable[[LeadScorer], pd.DataFrame] | None = None,
) -> GateResult:
    """Run the gate for a freshly trained result against the registry's current champion.

    When the new config maps fewer columns than the champion needs (a changed schema), `reread`
    gives the leads again through the champion's own schema so it is judged on what it expects.
    """
    version = get_alias_version(client, CHAMPION)
    champ_p, err = None, None
    if version is not None:
        try:
            champion, _ = load_scorer(f"models:/{MODEL_NAME}@{CHAMPION}")
            champ_p = _champion_p(champion, result.test_predictions, leads, events, reread)
        except (KeyError, ValueError, RegistryError) as e:
            err = str(e).splitlines()[0][:200] or type(e).__name__
    return evaluate_gate(gate, result.metrics, result.test_predictions, champ_p, version, err)


def _champion_p(champion, preds, leads, events, reread):
    try:
        return champion_probabilities(champion, preds, leads, events)
    except KeyError:
        if reread is None:
            raise
        own = reread(champion)
        own.index = own.index.astype(str)
        preds = preds.assign(lead_id=preds["lead_id"].astype(str))
        return champion_probabilities(champion, preds, own, events)
