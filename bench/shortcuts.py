"""What each shortcut of `training.scale` costs: `make bench-shortcuts`.

On the 100k set of `make bench` (~2M events; generated if missing), trains once exactly (every
shortcut off), once with every shortcut (the default at this size) and once per shortcut with only
that one turned off, each as a whole `leadscore train` in a child process with a fresh store.
A shortcut's cost is the change it brings against the run with every shortcut: on the test AUC
for the shortcuts of the main fit, on the backtests' mean AUC or the logistic baseline's AUC for
the others (which never touch the registered model). Writes bench/shortcuts.json and prints a
Markdown table; the README's "Training at scale" section quotes it.

Timings depend on the machine and on what else runs on it: the table records the load average.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, DATA, LAST_CPU, ROOT, bench_env, generate, machine, run, train_config  # noqa: E402

NEVER = 10**12
# name, training.scale overrides. Snapshot sampling and float32 change the model (test AUC); the
# backtest shortcuts change only the backtest table, the logistic one only the baseline's AUC.
VARIANTS: list[tuple[str, dict]] = [
    ("every shortcut (default)", {}),
    ("exact (no shortcut)", {"min_snapshots": NEVER}),
    ("all snapshots (no sampling)", {"snapshots_per_lead": 0}),
    ("float64 features", {"float32": False}),
    ("backtests on every fit row", {"backtest_fit_rows": NEVER}),
    ("backtests with own params", {"backtest_main_params": False}),
    ("backtests with patience 100", {"backtest_early_stopping_rounds": 100}),
    ("logistic baseline on every row", {"logreg_rows": NEVER}),
]
METRICS = ("test_roc_auc", "backtest_roc_auc_mean", "baseline_logreg_roc_auc")


def variant_config(base: Path, name: str, scale: dict) -> Path:
    raw = yaml.safe_load(base.read_text())
    raw["training"]["scale"] = {**raw["training"].get("scale", {}), **scale}
    path = DATA / f"config-shortcut-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def train_once(cfg_path: Path, env: dict[str, str]) -> dict:
    shutil.rmtree(DATA / "models-shortcuts", ignore_errors=True)
    wall, peak, out = run([str(BIN / "leadscore"), "train", "--config", str(cfg_path)], env)
    row = {"s": round(wall, 1), "cpu_s": round(LAST_CPU.pop("s", float("nan")), 1)}
    row["peak_rss_mb"] = round(peak)
    for m in METRICS:
        hit = re.search(rf"{m}\s+([0-9.]+)", out)
        row[m] = float(hit[1]) if hit else None
    return row


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    env = bench_env("models-shortcuts")
    data_dir, info = generate("100k", env)
    base = train_config(data_dir, "100k")
    results: dict = {"machine": machine(), "data": info, "runs": {}}
    for name, scale in VARIANTS:
        print(f"bench-shortcuts: {name} ...", flush=True)
        results["runs"][name] = train_once(variant_config(base, name, scale), env)
    results["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    (ROOT / "bench" / "shortcuts.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def print_table(results: dict) -> None:
    runs = results["runs"]
    ref = runs["every shortcut (default)"]
    print("| run | test AUC | backtest AUC (mean) | logreg AUC | wall s | CPU s | peak MB |")
    print("|---|---|---|---|---|---|---|")
    for name, _ in VARIANTS:
        r = runs[name]
        cells = []
        for m in METRICS:
            v = r[m]
            delta = "" if v is None or ref[m] is None or r is ref else f" ({v - ref[m]:+.4f})"
            cells.append("n/a" if v is None else f"{v:.4f}{delta}")
        print(f"| {name} | {' | '.join(cells)} | {r['s']} | {r['cpu_s']} | {r['peak_rss_mb']} |")
    print(
        "\nA shortcut's cost is minus the change its own row shows (that row turns it off); "
        f"load average at start / end: {results['machine']['load_avg_1m_at_start']} / "
        f"{results['machine']['load_avg_1m_at_end']}"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print_table(json.loads((ROOT / "bench" / "shortcuts.json").read_text()))
    else:
        main()
