"""The notebooks run, top to bottom, on a fresh clone: they cannot rot unnoticed.

They are executed with nbclient in a kernel of this environment, in a private workspace (a small
generated sample and a model trained into a temporary MLflow store), exactly as on a CI machine
with no data and no model. `pytest --nbmake notebooks/` runs them too.
"""

from pathlib import Path

import nbformat
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(WORKDIR_ENV, str(workdir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    out = _text(nb)
    assert "generated sample in" in out
    if path.name.startswith("1.0"):
        assert "buying intent" in out and "won / lost" in out
    if path.name.startswith("2.0"):
        assert "test_roc_auc" in out and "5 dependence plots" in out
    if path.name.startswith("3.0"):
        assert "fit " in out and "engagement " in out
        assert "    + " in out or "    - " in out  # printed reasons carry their sign
        assert "+ requested a demo" in out
