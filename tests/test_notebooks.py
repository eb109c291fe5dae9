"""The notebooks run, top to bottom, on a fresh clone: they cannot rot unnoticed.

They are executed with nbclient in a kernel of this environment, in a private workspace (a small
generated sample and a model trained into a temporary MLflow store), exactly as on a CI machine
with no data and no model. `pytest --nbmake notebooks/` runs them too.
"""

import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from pipeline.notebook import WORKDIR_ENV

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebook-workspace")


def _text(nb) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", ""))
            parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_the_three_numbered_notebooks_are_committed_without_outputs():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "1.0-explore-leads.ipynb",
        "2.0-model-report.ipynb",
        "3.0-score-and-explain.ipynb",
    ]
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), p.name
        assert "from pipeline" in "".join(c.source for c in code), p.name


# Appended to each notebook before it runs: dumps what the notebook computed and showed, so the
# test can check values, not words. It runs after the last cell and changes nothing above it.
PROBES = {
    "1.0": """
_probe = {
    "funnel": funnel(leads, events)["leads"].to_dict(),
    "won_lost": acts["won / lost"].to_dict(),
    "win_rate": conversion_by(leads, "industry")["win_rate"].tolist(),
}
""",
    "2.0": """
_probe = {"run_id": run_id, "report": report["value"].to_dict()}
""",
    "3.0": """
_probe = {
    "ids": ids,
    "scores": scores.reset_index(names="lead_id").to_dict(orient="records"),
    "before": before.iloc[0][["probability", "score", "engagement_score"]].to_dict(),
    "after": after.iloc[0][["probability", "score", "engagement_score"]].to_dict(),
}
""",
}
PROBE_TAG = "NOTEBOOK-PROBE "
PROBE_PRINT = f"""
import json
print({PROBE_TAG!r} + json.dumps(_probe, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
"""


def _probe(nb) -> dict:
    text = _text(nb)
    line = next(ln for ln in text.splitlines() if ln.startswith(PROBE_TAG))
    return json.loads(line.removeprefix(PROBE_TAG))


def _cell_text(nb, marker: str) -> str:
    """The output of the one cell whose source contains `marker`."""
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    return _text(nbformat.v4.new_notebook(cells=[cell]))


def _store(workdir: Path):
    """The workspace's own MLflow store, read from the test process."""
    import mlflow

    uri = f"sqlite:///{workdir / 'models' / 'mlflow.db'}"
    return mlflow.MlflowClient(uri, uri)


def _training_metrics(workdir: Path) -> tuple[str, dict[str, float]]:
    client = _store(workdir)
    exp = client.get_experiment_by_name("lead-scoring")
    found = client.search_runs([exp.experiment_id], "attributes.run_name = 'train'")
    assert len(found) == 1  # the workspace trained once, for every notebook
    return found[0].info.run_id, found[0].data.metrics


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(WORKDIR_ENV, str(workdir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nb = nbformat.read(path, as_version=4)
    probe = PROBES[path.name[:3]] + PROBE_PRINT
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    out = _text(nb)
    assert "generated sample in" in out
    got = _probe(nb)
    {"1.0": _check_explore, "2.0": _check_report, "3.0": _check_scores}[path.name[:3]](
        nb, out, got, workdir
    )


def _check_explore(nb, out: str, got: dict, workdir: Path) -> None:
    raw = pd.read_csv(workdir / "raw" / "leads.csv")
    f = got["funnel"]
    steps = list(f)
    assert f[steps[0]] == len(raw)  # every lead of the export
    assert f["closed (won or lost)"] == raw["outcome"].isin(["won", "lost"]).sum()
    assert f["won"] == (raw["outcome"] == "won").sum() > 0
    assert f["leads"] >= f["any activity"] >= f[steps[2]] > 0  # intent is a kind of activity
    assert f["closed (won or lost)"] >= f["won"]
    assert steps[2].startswith("buying intent") and "buying intent" in out
    # the sample's buyers ask for demos: more demo requests per won lead than per lost one
    ratio = got["won_lost"]
    assert ratio["demo_request"] > 1 and ratio["demo_request"] > ratio.get("unsubscribe", 0)
    assert "won / lost" in _cell_text(nb, "acts = activity_by_outcome")
    rates = got["win_rate"]
    assert rates and all(0 <= r <= 1 for r in rates) and rates == sorted(rates, reverse=True)


def _check_report(nb, out: str, got: dict, workdir: Path) -> None:
    run_id, m = _training_metrics(workdir)
    assert got["run_id"] == run_id  # the report reads the training run, not a scoring run
    report = got["report"]
    keys = ["test_roc_auc", "oracle_roc_auc", "baseline_logreg_roc_auc", "baseline_points_roc_auc"]
    keys += ["test_pr_auc", "test_lift_at_10", "test_brier", "test_log_loss", "test_ece"]
    for k in keys:  # shown, finite, and the logged value to the 4 digits shown
        assert k in report and math.isfinite(report[k]), k
        assert report[k] == round(m[k], 4), k
    assert 0.5 < report["baseline_points_roc_auc"] < report["test_roc_auc"]
    assert report["test_roc_auc"] <= report["oracle_roc_auc"] + 0.02 <= 1.02
    assert report["test AUC / oracle AUC"] == round(m["test_roc_auc"] / m["oracle_roc_auc"], 3)
    assert 0 <= report["test_ece"] <= 0.05 and report["test_lift_at_10"] > 1
    shown = _cell_text(nb, "report = metrics")
    assert f"{report['test_roc_auc']:.4f}".rstrip("0") in shown
    ece = re.search(r"^calibration: (\w+) \| ECE ([0-9.]+)$", out, re.M)
    assert ece and float(ece[2]) == round(m["test_ece"], 4)
    deps = re.search(r"^(\d+) dependence plots$", out, re.M)
    assert deps and int(deps[1]) == 5


def _check_scores(nb, out: str, got: dict, workdir: Path) -> None:
    open_ids = pd.read_csv(workdir / "raw" / "open_leads.csv", dtype=str)["lead_id"]
    assert got["ids"] == open_ids.head(8).tolist()
    s = pd.DataFrame(got["scores"])
    assert sorted(s["lead_id"]) == sorted(got["ids"])
    _, m = _training_metrics(workdir)
    p = s["probability"].to_numpy()
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    sql, mql = m["sql_threshold"], m["mql_threshold"]
    clear = (np.abs(p - sql) > 1e-9) & (np.abs(p - mql) > 1e-9)  # a tie may sit on a cutoff
    expected = np.select([p >= sql, p >= mql], ["SQL", "MQL"], "lead")
    assert clear.sum() >= len(p) // 2
    assert (s["stage"].to_numpy()[clear] == expected[clear]).all()
    order = np.argsort(p)
    assert (np.diff(s["score"].to_numpy()[order]) >= 0).all()
    # what is printed is what was scored, one line per lead, best first, then its signed reasons
    printed = re.findall(r"^(\S+): score (\d+) \((\w+)\), fit (\d+), engagement (\d+)$", out, re.M)
    best_first = s.sort_values("probability", ascending=False)
    assert printed == [
        (r.lead_id, str(r.score), r.stage, str(r.fit_score), str(r.engagement_score))
        for r in best_first.itertuples()
    ]
    reasons = [ln.strip() for ln in out.splitlines() if re.match(r"^    \[[+-]\] \S", ln)]
    assert len(reasons) == 5 * len(s)  # n_reasons=5 for every lead
    for c in ("fit_score", "engagement_score"):
        assert s[c].between(0, 100).all(), c
    # a demo request yesterday makes the least likely lead more likely and more engaged
    b, a = got["before"], got["after"]
    assert a["probability"] > b["probability"] and a["score"] >= b["score"]
    assert a["engagement_score"] > b["engagement_score"]
    assert "[+] requested a demo" in _cell_text(nb, "with a demo request")
