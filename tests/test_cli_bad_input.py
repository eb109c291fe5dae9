"""Every bad-input case: one stderr line naming file + column/row + the fix, exit 2, no traceback,
no output (no MLflow run or model for train; the previous scores file untouched for score)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.byo_helpers import FIX, example_config, nothing_registered, run

FLAT = FIX / "flat/Leads.csv"


def flat_leads() -> pd.DataFrame:
    return pd.read_csv(FLAT, dtype=str, keep_default_na=False)


def flat_config(tmp: Path, leads: Path, **schema) -> Path:
    over = {"data": {"leads": str(leads)}}
    if schema:
        over["schema"] = schema
    return example_config("flat-export", tmp, **over)


def one_error_line(r, *needles: str) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------- train / validate ----------


def _train_fails(tmp: Path, cfg: Path, *needles: str) -> str:
    r = run("train", "--config", cfg)
    line = one_error_line(r, *needles)
    assert nothing_registered()
    return line


def test_missing_file(tmp_path, mlflow_uri):
    _train_fails(
        tmp_path, flat_config(tmp_path, tmp_path / "nope.csv"), "nope.csv", "not found", "data."
    )


def test_empty_file(tmp_path, mlflow_uri):
    (tmp_path / "e.csv").write_text("")
    _train_fails(tmp_path, flat_config(tmp_path, tmp_path / "e.csv"), "e.csv", "empty", "export")


def test_header_only(tmp_path, mlflow_uri):
    (tmp_path / "h.csv").write_text(FLAT.read_text().splitlines()[0] + "\n")
    _train_fails(tmp_path, flat_config(tmp_path, tmp_path / "h.csv"), "h.csv", "header only")


def test_wrong_delimiter(tmp_path, mlflow_uri):
    flat_leads().to_csv(tmp_path / "semi.csv", sep=";", index=False)
    _train_fails(
        tmp_path,
        flat_config(tmp_path, tmp_path / "semi.csv"),
        "semi.csv",
        "looks semicolon-delimited",
        "data.sep",
    )


def test_configured_column_absent_lists_columns_and_suggests(tmp_path, mlflow_uri):
    cfg = yaml.safe_load(example_config("flat-export", tmp_path).read_text())
    cfg["schema"]["categorical"][1] = "Lead Sorce"
    p = tmp_path / "typo.yaml"
    p.write_text(yaml.safe_dump(cfg))
    line = _train_fails(tmp_path, p, "Leads.csv", "'Lead Sorce'", "did you mean 'Lead Source'")
    assert "columns are: Prospect ID" in line


def test_duplicate_lead_ids(tmp_path, mlflow_uri):
    df = flat_leads()
    df = pd.concat([df, df.iloc[[5]]])
    df.to_csv(tmp_path / "d.csv", index=False)
    _train_fails(
        tmp_path,
        flat_config(tmp_path, tmp_path / "d.csv"),
        "d.csv",
        "'Prospect ID'",
        f"row {len(df) + 1}",
        "duplicate lead id",
    )


def test_outcome_values_match_neither_won_nor_lost(tmp_path, mlflow_uri):
    cfg = flat_config(
        tmp_path, FLAT, outcome={"column": "Converted", "won": ["yes"], "lost": ["no"]}
    )
    _train_fails(tmp_path, cfg, "'Converted'", "no value matches", "'1' (394)", "'0' (306)")


def test_only_one_class(tmp_path, mlflow_uri):
    df = flat_leads().assign(Converted="0")
    df.to_csv(tmp_path / "one.csv", index=False)
    _train_fails(
        tmp_path, flat_config(tmp_path, tmp_path / "one.csv"), "only one outcome class", "lost"
    )


def test_too_few_outcomes_refused_with_numbers(tmp_path, mlflow_uri):
    df = flat_leads()
    df = pd.concat([df[df["Converted"] == "1"].head(60), df[df["Converted"] == "0"]])
    df.to_csv(tmp_path / "few.csv", index=False)
    _train_fails(
        tmp_path,
        flat_config(tmp_path, tmp_path / "few.csv"),
        "found 60 won and 306 lost",
        "at least 100 won and 100 lost",
        "validation.min_won",
    )


def test_unparseable_date(tmp_path, mlflow_uri):
    mql = pd.read_csv(FIX / "funnel/olist_marketing_qualified_leads_dataset.csv", dtype=str)
    mql.loc[7, "first_contact_date"] = "someday soon"
    mql.to_csv(tmp_path / "mql.csv", index=False)
    cfg = example_config("two-table-funnel", tmp_path, data={"leads": str(tmp_path / "mql.csv")})
    _train_fails(
        tmp_path, cfg, "mql.csv", "'first_contact_date' row 9", "'someday soon'", "ISO dates"
    )


def test_number_that_does_not_parse(tmp_path, mlflow_uri):
    df = flat_leads()
    df.loc[3, "TotalVisits"] = "twelve"
    df.to_csv(tmp_path / "n.csv", index=False)
    _train_fails(
        tmp_path,
        flat_config(tmp_path, tmp_path / "n.csv"),
        "n.csv",
        "'TotalVisits' row 5",
        "'twelve' is not a number",
        "schema.categorical",
    )


def test_flag_that_is_not_yes_no(tmp_path, mlflow_uri):
    df = flat_leads()
    df.loc[0, "Do Not Email"] = "Maybe"
    df.to_csv(tmp_path / "f.csv", index=False)
    _train_fails(
        tmp_path,
        flat_config(tmp_path, tmp_path / "f.csv"),
        "'Do Not Email' row 2",
        "'Maybe' is not a yes/no value",
    )


def test_non_utf8_falls_back_to_cp1252_and_says_so(tmp_path, mlflow_uri):
    df = flat_leads()
    df.loc[0, "City"] = "Thane & Outskirts é"
    (tmp_path / "w.csv").write_bytes(df.to_csv(index=False).encode("cp1252"))
    r = run("validate", "--config", flat_config(tmp_path, tmp_path / "w.csv"))
    assert r.exit_code == 0, r.output
    warn = [ln for ln in r.stderr.splitlines() if "cp1252" in ln]
    assert len(warn) == 1 and "w.csv" in warn[0] and "not valid utf-8" in warn[0]


def test_bytes_neither_utf8_nor_cp1252(tmp_path, mlflow_uri):
    raw = FLAT.read_bytes().replace(b"Mumbai", b"Mumb\x81i", 1)
    (tmp_path / "x.csv").write_bytes(raw)
    _train_fails(
        tmp_path,
        flat_config(tmp_path, tmp_path / "x.csv"),
        "x.csv",
        "byte 0x81",
        "set data.encoding",
    )


# ---------------------------------------------------------------- score ---------------------


@pytest.fixture(scope="module")
def flat_model(tmp_path_factory):
    """One model of the flat shape in a private MLflow store, for every scoring case."""
    tmp = tmp_path_factory.mktemp("flat_model")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'models' / 'mlflow.db'}")
        cfg = example_config("flat-export", tmp)
        r = run("train", "--config", cfg)
        assert r.exit_code == 0, r.output
        yield tmp, cfg


PREVIOUS = "lead_id,probability\nold,0.5\n"


def _score(tmp: Path, cfg: Path, leads: Path, *extra: str):
    out = tmp / "out" / "scores.csv"
    out.parent.mkdir(exist_ok=True)
    out.write_text(PREVIOUS)
    (out.parent / "scores.rejected.csv").unlink(missing_ok=True)
    r = run("score", "--config", cfg, "--leads", leads, "--output", out, *extra)
    return r, out


def _score_fails(flat_model, leads: Path, *needles: str, extra: tuple = ()) -> str:
    tmp, cfg = flat_model
    r, out = _score(tmp, cfg, leads, *extra)
    line = one_error_line(r, *needles)
    assert out.read_text() == PREVIOUS
    assert not (out.parent / "scores.rejected.csv").exists()
    assert [p.name for p in out.parent.iterdir()] == ["scores.csv"]  # no temp file left
    return line


def test_score_missing_file(flat_model):
    _score_fails(flat_model, flat_model[0] / "nope.csv", "nope.csv", "not found", "--leads")


def test_score_empty_file(flat_model):
    p = flat_model[0] / "empty.csv"
    p.write_text("")
    _score_fails(flat_model, p, "empty.csv", "empty")


def test_score_header_only(flat_model):
    p = flat_model[0] / "head.csv"
    p.write_text(FLAT.read_text().splitlines()[0] + "\n")
    _score_fails(flat_model, p, "head.csv", "header only", "nothing to score")


def test_score_wrong_delimiter(flat_model):
    p = flat_model[0] / "semi.csv"
    flat_leads().to_csv(p, sep=";", index=False)
    _score_fails(flat_model, p, "semi.csv", "looks semicolon-delimited", "data.sep")


def test_score_unknown_model_uri(flat_model):
    _score_fails(
        flat_model, FLAT, "lead-scoring@nope", extra=("--model-uri", "models:/lead-scoring@nope")
    )
    _score_fails(flat_model, FLAT, "not found", extra=("--model-uri", "models:/no-such-model/1"))


def test_score_missing_model_columns_are_listed(flat_model):
    p = flat_model[0] / "cols.csv"
    flat_leads().drop(columns=["Lead Origin", "TotalVisits"]).to_csv(p, index=False)
    _score_fails(flat_model, p, "cols.csv", "Lead Origin, TotalVisits", "retrain")


def test_score_extra_columns_are_ignored_with_a_note(flat_model):
    tmp, cfg = flat_model
    p = tmp / "extra.csv"
    flat_leads().assign(**{"Favourite Colour": "blue"}).to_csv(p, index=False)
    r, out = _score(tmp, cfg, p)
    assert r.exit_code == 0, r.output
    assert "ignoring" in r.stderr and "Favourite Colour" in r.stderr
    assert len(pd.read_csv(out)) == 700


def test_score_bad_rows_go_to_rejected_file_rest_scored(flat_model):
    tmp, cfg = flat_model
    df = flat_leads()
    df.loc[1, "TotalVisits"] = "lots"
    df.loc[2, "Do Not Email"] = "Maybe"
    df.loc[3, "Prospect ID"] = ""
    df = pd.concat([df, df.iloc[[10]]])  # duplicate id: first row scored
    p = tmp / "rows.csv"
    df.to_csv(p, index=False)
    r, out = _score(tmp, cfg, p)
    assert r.exit_code == 0, r.output
    rej = pd.read_csv(out.parent / "scores.rejected.csv", dtype=str)
    reasons = dict(zip(rej["row"].astype(int), rej["reason"], strict=True))
    assert reasons == {
        3: "TotalVisits is not a number",
        4: "Do Not Email is not a yes/no value",
        5: "empty lead id",
        702: "duplicate lead id (first row scored)",
    }
    assert len(pd.read_csv(out)) == 700 - 3


def test_no_output_cell_starts_a_formula(flat_model):
    tmp, cfg = flat_model
    df = flat_leads()
    df.loc[:, "Lead Source"] = '=HYPERLINK("http://x")'  # every lead: it will be a reason
    df.loc[:, "Last Activity"] = "@SUM(1+1)"
    df.loc[0, "Prospect ID"] = "=1+2"
    df.loc[1, "Prospect ID"] = "-3+4"
    df.loc[2, "TotalVisits"] = "=5"
    df.loc[2, "Prospect ID"] = "+cmd|' /C calc'!A0"
    p = tmp / "formula.csv"
    df.to_csv(p, index=False)
    r, out = _score(tmp, cfg, p)
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out, dtype=str, keep_default_na=False)
    rej = pd.read_csv(out.parent / "scores.rejected.csv", dtype=str, keep_default_na=False)
    starts = ("=", "+", "-", "@", "\t", "\r")
    reason_cols = [c for c in s.columns if c.startswith("reason_")]
    for frame, skip in ((s, reason_cols), (rej, [])):
        for c in frame.columns:
            if c in skip:
                continue
            bad = frame[c][frame[c].str.startswith(starts)]
            assert bad.empty, (c, bad.tolist())
    assert "'=1+2" in set(s["lead_id"]) and "'-3+4" in set(s["lead_id"])
    assert rej["Prospect ID"].tolist() == ["'+cmd|' /C calc'!A0"]
    # reasons keep the contract's "[+] "/"[-] " start, and no embedded value starts a formula
    text = pd.concat([s[c] for c in reason_cols])
    text = text[text != ""]
    assert text.str.match(r"^\[[+-]\] ").all()
    # a value the model never saw reads as the model treats it ("other Lead Source"), so these
    # formulas are not shown at all; a known value is shown defused (tests/explain/test_reasons.py)
    assert not text.str.contains("HYPERLINK|SUM", regex=True).any()


def test_outcome_ids_that_match_no_lead(tmp_path, mlflow_uri):
    deals = pd.read_csv(FIX / "funnel/olist_closed_deals_dataset.csv", dtype=str)
    deals["mql_id"] = "x" + deals["mql_id"]
    deals.to_csv(tmp_path / "deals.csv", index=False)
    cfg = example_config(
        "two-table-funnel", tmp_path, data={"outcomes": str(tmp_path / "deals.csv")}
    )
    _train_fails(tmp_path, cfg, "deals.csv", "no value of column 'mql_id' matches a lead id")


def test_no_champion_after_a_failed_gate_says_how_to_serve(tmp_path, mlflow_uri):
    """A first version that fails the gate leaves no champion: score says which command fixes it."""
    cfg = example_config("flat-export", tmp_path)
    raw = yaml.safe_load(cfg.read_text())
    raw["gate"] = {"min_won": 10_000}  # the tiny fixture cannot pass this
    cfg.write_text(yaml.safe_dump(raw))
    assert run("train", "--config", cfg).exit_code == 0
    out = tmp_path / "scores.csv"
    r = run("score", "--config", cfg, "--output", out)
    line = one_error_line(r, "no version holds that alias", "leadscore promote 1", "gate.min_won")
    assert line.startswith("error:") and not out.exists()


# ------------------------------------------------ one rule for dates, numbers, cells ----------


@pytest.mark.parametrize("when", ["3026-11-01", "1857-06-01", "next tuesday"])
def test_score_as_of_outside_1970_2200_or_not_a_date_is_refused(flat_model, when):
    line = _score_fails(flat_model, FLAT, "--as-of", f"'{when}'", extra=("--as-of", when))
    assert "outside 1970-2200" in line or "not a date" in line


@pytest.mark.parametrize("value", ["9999-01-01", "0001-01-01", "1850-01-01"])
def test_train_date_out_of_range_is_one_line(tmp_path, mlflow_uri, value):
    mql = pd.read_csv(FIX / "funnel/olist_marketing_qualified_leads_dataset.csv", dtype=str)
    mql.loc[7, "first_contact_date"] = value
    mql.to_csv(tmp_path / "mql.csv", index=False)
    cfg = example_config("two-table-funnel", tmp_path, data={"leads": str(tmp_path / "mql.csv")})
    _train_fails(tmp_path, cfg, "mql.csv", "'first_contact_date' row 9", f"'{value}'", "1970-2200")


def test_score_non_finite_numbers_are_missing_with_one_warning(flat_model):
    tmp, cfg = flat_model
    df = flat_leads()
    df.loc[1:4, "TotalVisits"] = ["inf", "-inf", "1e309", "NaN"]
    p = tmp / "inf.csv"
    df.to_csv(p, index=False)
    r, out = _score(tmp, cfg, p)
    assert r.exit_code == 0, r.output
    warned = [ln for ln in r.stderr.splitlines() if "non-finite" in ln]
    assert len(warned) == 1 and "TotalVisits 4" in warned[0], r.stderr
    s = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(s) == 700 and not (out.parent / "scores.rejected.csv").exists()
    reasons = pd.concat([s[c] for c in s.columns if c.startswith("reason_")])
    assert not reasons.str.contains("inf", case=False).any()


def test_score_ids_lose_control_characters_and_never_merge(flat_model):
    tmp, cfg = flat_model
    df = flat_leads()
    df.loc[1, "Prospect ID"] = "abc\x00def\tghi"
    df.loc[2, "Prospect ID"] = "abcdefghi"  # the same id once cleaned: rejected, not merged
    df.loc[3, "Prospect ID"] = "z" * 200
    df.loc[4, "Lead Source"] = "Google" + "\r\n" * 10 + "x" * 100_000
    p = tmp / "ids.csv"
    df.to_csv(p, index=False)
    r, out = _score(tmp, cfg, p)
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert "abcdefghi" in set(s["lead_id"]) and len(s) == 699
    assert ("z" * 59 + "\u2026") in set(s["lead_id"])
    for c in s.columns:
        assert s[c].str.len().max() <= 120, c
        assert not s[c].str.contains(r"[\x00-\x1f]", regex=True).any(), c
    rej = pd.read_csv(out.parent / "scores.rejected.csv", dtype=str)
    assert rej["row"].tolist() == ["4"] and "control characters" in rej["reason"].iloc[0]
