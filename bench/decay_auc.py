"""Test AUC with and without `features.decay_half_life_days: [7, 30]` on the sample, the
event-log shape of the shape matrix and a drifted sample (docs/configuration.md, "Engagement
that decays"). Trains in-process (no MLflow), backtests off (they do not change the test AUC).

    .venv/bin/python bench/decay_auc.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline.config import load_config
from pipeline.jobs import load_oracle, load_training_data
from pipeline.synthetic.sample import generate, write_sample
from pipeline.training.train import train

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {  # name -> generate() arguments
    "sample (make all: 20,000 leads, seed 42)": {"n_leads": 20_000, "seed": 42},
    "shape matrix event-log (3,000 leads, seed 7)": {"n_leads": 3_000, "seed": 7},
    "drifted (20,000 leads, seed 3, 40% less activity)": {
        "n_leads": 20_000,
        "seed": 3,
        "activity_scale": 0.6,
    },
}


def auc(folder: Path, decay: list[float]) -> tuple[float, float, float]:
    raw = yaml.safe_load((ROOT / "config/default.yaml").read_text())
    raw["data"].update(
        leads=str(folder / "leads.csv"),
        activities=str(folder / "activities.csv"),
        oracle=str(folder / "oracle.csv"),
    )
    raw.setdefault("training", {})["backtest_months"] = 0
    raw.setdefault("features", {})["decay_half_life_days"] = decay
    path = folder / f"config-{len(decay)}.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    leads, events = load_training_data(cfg)
    t = time.perf_counter()
    m = train(cfg, leads, events, load_oracle(cfg)).metrics
    return m["test_roc_auc"], m.get("oracle_roc_auc", float("nan")), time.perf_counter() - t


def main() -> None:
    names = sys.argv[1:] or list(DATASETS)
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            write_sample(generate(**DATASETS[name]), tmp)
            base, oracle, s0 = auc(Path(tmp), [])
            dec, _, s1 = auc(Path(tmp), [7, 30])
            print(
                f"{name}: AUC {base:.4f} -> {dec:.4f} with [7, 30] ({dec - base:+.4f}); "
                f"oracle {oracle:.4f}; fit {s0:.0f} s -> {s1:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
