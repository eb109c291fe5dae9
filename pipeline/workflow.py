"""The two jobs as functions with I/O: train-and-register and score. The CLI only parses options."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from pipeline import registry
from pipeline.card import log_quality
from pipeline.config import Config
from pipeline.data import load_events, load_leads, read_table
from pipeline.explain_plots import field_figures
from pipeline.gate import actor, check_against_champion, move_champion
from pipeline.plots import importance_bar, reliability, shap_beeswarm
from pipeline.train import TrainResult, train
from pipeline.validate import check_training_data

log = logging.getLogger(__name__)


def load_training_data(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    leads = load_leads(cfg)
    events = load_events(cfg, lead_ids=leads.index)
    return leads, events


def load_oracle(cfg: Config) -> pd.DataFrame | None:
    """The sample generator's true probabilities, if configured: evaluation only, never fitting."""
    if not cfg.data.oracle or not Path(cfg.data.oracle).exists():
        return None
    return read_table(cfg.data.oracle, cfg, "oracle file").astype({"true_probability": float})


def train_and_register(cfg: Config, config_path: str | Path) -> tuple[TrainResult, str, dict]:
    """Train, log the run, register the model; it becomes champion only if it passes the gate.

    Returns the result, the new version and which aliases it received.
    """
    leads, events = load_training_data(cfg)
    check_training_data(cfg, leads, events).log_and_raise()  # refuse before any MLflow output
    result = train(cfg, leads, events, load_oracle(cfg))
    client = registry.setup()
    info = result.info
    gate = check_against_champion(cfg.gate, client, result, leads, events, cfg)
    with registry.mlflow.start_run(run_name="train") as run:
        mlflow = registry.mlflow
        mlflow.set_tags(
            {
                "git_commit": registry.git_commit(),
                "data_fingerprint": registry.fingerprint(
                    [cfg.data.leads, cfg.data.activities, cfg.data.outcomes]
                ),
                "split": info["split"],
                "calibration": info["calibration"],
            }
        )
        mlflow.log_params(
            {
                "config_path": str(config_path),
                "seed": cfg.training.seed,
                "snapshot_days": ",".join(map(str, cfg.training.snapshot_days)),
                "calibration": info["calibration"],
                "n_features": info["n_features"],
                "leads_won": info["leads_won"],
                "leads_lost": info["leads_lost"],
                "leads_open": info["leads_open"],
                "snapshots": info["snapshots"],
                "rows_fit": info["rows_fit"],
                "rows_val": info["rows_val"],
                "rows_test_leads": info["rows_test_leads"],
                **{f"lgbm_{k}": v for k, v in cfg.training.lightgbm.model_dump().items()},
                "sql_rule": result.scorer.cutoffs.sql_rule,
                "mql_rule": result.scorer.cutoffs.mql_rule,
            }
        )
        mlflow.log_params({"rows_leads": info["rows_leads"], "rows_events": info["rows_events"]})
        mlflow.log_metrics({k: v for k, v in result.metrics.items() if pd.notna(v)})
        registry.log_dict_artifact(cfg.to_dict(), "config.json")
        registry.log_dict_artifact(info, "training_info.json")
        mlflow.log_table(result.importance, "explain/importance_by_field.json")
        mlflow.log_text(result.importance.to_csv(index=False), "explain/importance_by_field.csv")
        figs = {
            "explain/importance_by_field.png": importance_bar(result.importance),
            "evaluation/reliability.png": reliability(
                result.test_predictions["label"].to_numpy(),
                result.test_predictions["probability"].to_numpy(),
            ),
        }
        if result.shap_sample is not None:
            figs["explain/shap_beeswarm.png"] = shap_beeswarm(*result.shap_sample)
            figs.update(field_figures(*result.shap_sample, result.scorer.builder.feature_fields))
        figs.update(log_quality(cfg, result, gate))
        for name, fig in figs.items():
            mlflow.log_figure(fig, name)
            plt.close(fig)
        version, _ = registry.log_model_version(result.scorer, {"run_id": run.info.run_id})
    aliases = [registry.CHALLENGER]
    registry.set_alias(client, registry.CHALLENGER, version)
    client.set_model_version_tag(registry.MODEL_NAME, version, "gate_reason", gate.reason[:4000])
    if gate.passed:
        move_champion(client, registry.MODEL_NAME, version, gate.reason, f"{actor()} (train gate)")
        aliases.append(registry.CHAMPION)
    return result, version, {"aliases": aliases, "run_id": run.info.run_id, "gate": gate}
