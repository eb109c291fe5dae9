"""The catalogue of issue 27's seams: each case reads as its clean twin, or is one line on stderr
with exit 2 (no traceback, no secret), with the earlier output whole and no FAILED MLflow run.

On the shared tiny flat-export model (`flat_model`). Cases that need more than a CLI call live
beside their code and are listed here so the catalogue is complete:
- database errors against a real PostgreSQL 15: tests/serving/test_database_errors.py
- rollback along the champion history: tests/tracking/test_registry.py
- REST activities without a time, unknown params: tests/serving/test_input_rules.py,
  tests/tracking/test_rest_app.py
- the output guard from any working folder: tests/io/test_output_guard.py
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, run

FIXTURE = ROOT / "tests" / "fixtures" / "flat" / "Leads.csv"
FLAT = FIXTURE  # the open leads to score: set by `clean` to the fixture without outcomes
SECRET = "pa55word"


def one_line(r, *words: str) -> str:
    """Exit 2, one stderr line with `words`, no traceback, no secret."""
    err = r.stderr
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and SECRET not in r.output
    assert len([x for x in err.splitlines() if x.strip()]) == 1, err
    for w in words:
        assert w in err, err
    return err


def score(cfg: Path, leads: Path, out: Path | str, *more: object):
    return run("score", "--config", cfg, "--leads", leads, "--output", out, "-q", *more)


def scores_of(path: Path) -> pd.DataFrame:
    from pipeline.io.sinks import read_table_output

    df = (
        read_table_output(path)
        .drop(columns=["scored_at", "score_parts"], errors="ignore")
        .astype({"model_version": str})
    )
    return df.sort_values("lead_id").reset_index(drop=True)


def failed_runs() -> int:
    from mlflow import MlflowClient

    from pipeline.tracking.store import tracking_uri

    client = MlflowClient(tracking_uri())
    ids = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(ids, "attributes.status = 'FAILED'")) if ids else 0


@pytest.fixture(scope="session")
def open_leads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flat fixture as a file of leads to score (no outcome column)."""
    path = tmp_path_factory.mktemp("open") / "Leads.csv"
    pd.read_csv(FIXTURE, dtype=str, keep_default_na=False).drop(columns="Converted").to_csv(
        path, index=False
    )
    return path


@pytest.fixture()
def clean(flat_model, open_leads, tmp_path: Path) -> tuple[Path, Path]:
    """(config, the clean scores file of the flat fixture)."""
    global FLAT
    FLAT = open_leads
    _, cfg, _ = flat_model
    out = tmp_path / "clean.csv"
    r = score(cfg, FLAT, out)
    assert r.exit_code == 0, r.output
    return cfg, out


def test_a_run_that_scores_no_lead_keeps_the_previous_output(clean, tmp_path):
    cfg, out = clean
    before, failed = out.read_bytes(), failed_runs()  # the shared store may hold others' runs
    bad = tmp_path / "noids.csv"
    frame = pd.read_csv(FLAT, dtype=str, keep_default_na=False)
    frame["Prospect ID"] = ""
    frame.to_csv(bad, index=False)
    one_line(score(cfg, bad, out), "no lead scored", "left as it was", "clean.rejected.csv")
    assert out.read_bytes() == before
    assert (tmp_path / "clean.rejected.csv").exists()
    assert failed_runs() == failed


@pytest.mark.parametrize("name", ["scores.csv.gz", "scores.parquet"])
def test_the_output_name_decides_its_format(clean, tmp_path, name):
    cfg, out = clean
    target = tmp_path / name
    assert score(cfg, FLAT, target).exit_code == 0
    head = target.read_bytes()[:4]
    assert head[:2] == b"\x1f\x8b" if name.endswith(".gz") else head == b"PAR1"
    pd.testing.assert_frame_equal(scores_of(target), scores_of(out), check_dtype=False)


def test_an_output_of_no_known_format_is_refused_before_any_work(clean, tmp_path):
    cfg, _ = clean
    one_line(score(cfg, FLAT, tmp_path / "scores.txt"), "end it in .csv, .csv.gz or .parquet")
    assert not (tmp_path / "scores.txt").exists()


def test_a_second_run_to_the_same_output_is_refused_not_interleaved(clean):
    from pipeline.io.sinks import output_lock

    cfg, out = clean
    before = out.read_bytes()
    with output_lock(out):  # the first run, still writing
        one_line(score(cfg, FLAT, out), "another run", "is writing this scores file")
    assert out.read_bytes() == before
    assert score(cfg, FLAT, out).exit_code == 0  # released: the next run goes ahead
    assert not (out.parent / f".{out.name}.lock").exists()  # removed by the run that held it


def _compressed(src: Path, folder: Path) -> dict[str, Path]:
    data = src.read_bytes()
    out = {
        "gz": folder / "leads.csv.gz",
        "bz2": folder / "leads.csv.bz2",
        "xz": folder / "leads.csv.xz",
        "zip": folder / "leads.zip",
    }
    out["gz"].write_bytes(gzip.compress(data))
    out["bz2"].write_bytes(bz2.compress(data))
    out["xz"].write_bytes(lzma.compress(data))
    with zipfile.ZipFile(out["zip"], "w") as z:
        z.writestr("Leads.csv", data)
    return out


def test_compressed_leads_score_as_their_plain_twin(clean, tmp_path):
    cfg, out = clean
    for kind, path in _compressed(FLAT, tmp_path).items():
        target = tmp_path / f"from-{kind}.csv"
        r = score(cfg, path, target)
        assert r.exit_code == 0, (kind, r.output)
        pd.testing.assert_frame_equal(scores_of(target), scores_of(out), obj=kind)


def test_broken_archives_are_one_line_naming_the_file(clean, tmp_path):
    cfg, out = clean
    before = out.read_bytes()
    gz = gzip.compress(FLAT.read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(gz[: len(gz) // 2])
    (tmp_path / "junk.csv.xz").write_bytes(b"not an xz stream at all")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("a.csv", FLAT.read_bytes())
        z.writestr("b.csv", FLAT.read_bytes())
    cases = {"cut.csv.gz": "truncated or corrupt", "junk.csv.xz": "truncated or corrupt"}
    cases["two.zip"] = "a zip must hold exactly one file, this one holds 2"
    for name, words in cases.items():
        one_line(score(cfg, tmp_path / name, out), str(tmp_path / name), words)
    assert out.read_bytes() == before


def test_init_reads_a_compressed_export_as_its_twin(tmp_path):
    gz = tmp_path / "Leads.csv.gz"
    gz.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    plain = tmp_path / "Leads.csv"
    shutil.copy(FIXTURE, plain)
    drafts = []
    for leads in (plain, gz):
        out = tmp_path / f"{leads.name}.yaml"
        r = run("init", "--leads", leads, "--out", out)
        assert r.exit_code == 0, r.output
        raw = yaml.safe_load(out.read_text())
        raw["data"]["leads"] = "same"
        drafts.append(raw)
    assert drafts[0] == drafts[1]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"postgresql://bob:p@{SECRET}@127.0.0.1:5432/db", "more than one '@'"),
        (f"postgresql://bob:{SECRET}@127.0.0.1:5543x/db", "port '5543x' is not a number"),
    ],
)
def test_a_database_url_that_would_be_misread_is_refused_unechoed(clean, url, words):
    cfg, _ = clean
    err = one_line(score(cfg, FLAT, url), words)
    assert "bob" not in err and "127.0.0.1" not in err


def test_a_run_id_longer_than_its_column_is_refused_before_any_work(clean, tmp_path):
    cfg, _ = clean
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    one_line(score(cfg, FLAT, url, "--run-id", "r" * 300), "--run-id: 300 characters")
    assert not (tmp_path / "scores.db").exists()


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("models:/no-such-model@champion", "no model named 'no-such-model'"),
        ("s3://bucket/model", "needs the 'boto3' package"),
    ],
)
def test_model_uris_that_cannot_load_are_one_line(clean, tmp_path, uri, words):
    cfg, out = clean
    before = out.read_bytes()
    err = one_line(score(cfg, FLAT, out, "--model-uri", uri), words)
    assert len(err) < 300 and out.read_bytes() == before


def test_explain_plot_of_no_image_format_is_one_line(clean, tmp_path):
    cfg, _ = clean
    lead = pd.read_csv(FLAT, nrows=1, dtype=str)["Prospect ID"].iloc[0]
    r = run("explain", lead, "--config", cfg, "--leads", FLAT, "--plot", tmp_path / "x.txt")
    one_line(r, "end it in .png, .svg or .pdf")


@pytest.mark.slow  # train is refused before fitting, but test_tiers marks every train call slow
@pytest.mark.parametrize("command", ["validate", "train"])
def test_validate_and_train_refuse_the_same_config_before_any_run(clean, tmp_path, command):
    cfg, _ = clean
    raw = yaml.safe_load(cfg.read_text())
    raw["segments"] = {"column": "TotalVisits"}  # numeric: not a categorical feature
    bad = tmp_path / "segments.yaml"
    bad.write_text(yaml.safe_dump(raw))
    failed = failed_runs()  # the shared store may hold other tests' runs
    one_line(run(command, "--config", bad), "segments.column: 'TotalVisits'")
    assert failed_runs() == failed
