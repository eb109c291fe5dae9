"""Every bad-input case: one stderr line naming file + column/row + the fix, exit 2, no traceback,
no output (no MLflow run or model for train; the previous scores file untouched for score)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.byo_helpers import FIX, example_config, nothing_registered
from tests.conftest import run

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


# A bad export or config makes `train` refuse before it fits anything: each case below writes one,
# and `train` must end in one stderr line holding every needle, exit 2, no MLflow run or model.


def with_flat(name: str, edit=lambda df: df, **to_csv):
    """A case: the flat fixture, edited, written as NAME and configured as the leads file."""

    def write(tmp: Path) -> Path:
        edit(flat_leads()).to_csv(tmp / name, index=False, **to_csv)
        return flat_config(tmp, tmp / name)

    return write


def with_bytes(name: str, data: bytes):
    def write(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return flat_config(tmp, tmp / name)

    return write


def cell(row: int, column: str, value: str):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row, column] = value
        return df

    return edit


def with_mql_date(value: str):
    """A case: the two-table funnel with the 8th lead's first contact date (file row 9) = VALUE."""

    def write(tmp: Path) -> Path:
        mql = pd.read_csv(FIX / "funnel/olist_marketing_qualified_leads_dataset.csv", dtype=str)
        mql.loc[7, "first_contact_date"] = value
        mql.to_csv(tmp / "mql.csv", index=False)
        return example_config("two-table-funnel", tmp, data={"leads": str(tmp / "mql.csv")})

    return write


def with_unmatched_deals(tmp: Path) -> Path:
    deals = pd.read_csv(FIX / "funnel/olist_closed_deals_dataset.csv", dtype=str)
    deals["mql_id"] = "x" + deals["mql_id"]
    deals.to_csv(tmp / "deals.csv", index=False)
    return example_config("two-table-funnel", tmp, data={"outcomes": str(tmp / "deals.csv")})


def with_column_typo(tmp: Path) -> Path:
    cfg = yaml.safe_load(example_config("flat-export", tmp).read_text())
    cfg["schema"]["categorical"][1] = "Lead Sorce"
    (tmp / "typo.yaml").write_text(yaml.safe_dump(cfg))
    return tmp / "typo.yaml"


def few_won(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df[df["Converted"] == "1"].head(60), df[df["Converted"] == "0"]])


HEADER = FLAT.read_text().splitlines()[0] + "\n"
WON_LOST = {"column": "Converted", "won": ["yes"], "lost": ["no"]}
REFUSED = {  # id: (how to write the bad input, what the one error line must say)
    "missing-file": (
        lambda tmp: flat_config(tmp, tmp / "nope.csv"),
        ("nope.csv", "not found", "data."),
    ),
    "empty-file": (with_bytes("e.csv", b""), ("e.csv", "empty", "export")),
    "header-only": (with_bytes("h.csv", HEADER.encode()), ("h.csv", "header only")),
    "wrong-delimiter": (
        with_flat("semi.csv", sep=";"),
        ("semi.csv", "looks semicolon-delimited", "data.sep"),
    ),
    "configured-column-absent": (
        with_column_typo,
        ("Leads.csv", "'Lead Sorce'", "did you mean 'Lead Source'", "columns are: Prospect ID"),
    ),
    "duplicate-lead-ids": (
        with_flat("d.csv", lambda df: pd.concat([df, df.iloc[[5]]])),
        ("d.csv", "'Prospect ID'", "row 702", "duplicate lead id"),  # 700 leads, a header
    ),
    "outcome-values-match-neither": (
        lambda tmp: flat_config(tmp, FLAT, outcome=WON_LOST),
        ("'Converted'", "no value matches", "'1' (394)", "'0' (306)"),
    ),
    "only-one-class": (
        with_flat("one.csv", lambda df: df.assign(Converted="0")),
        ("only one outcome class", "lost"),
    ),
    "too-few-outcomes": (
        with_flat("few.csv", few_won),
        ("found 60 won and 306 lost", "at least 100 won and 100 lost", "validation.min_won"),
    ),
    "unparseable-date": (
        with_mql_date("someday soon"),
        ("mql.csv", "'first_contact_date' row 9", "'someday soon'", "ISO dates"),
    ),
    "number-that-does-not-parse": (
        with_flat("n.csv", cell(3, "TotalVisits", "twelve")),
        ("n.csv", "'TotalVisits' row 5", "'twelve' is not a number", "schema.categorical"),
    ),
    "flag-that-is-not-yes-no": (
        with_flat("f.csv", cell(0, "Do Not Email", "Maybe")),
        ("'Do Not Email' row 2", "'Maybe' is not a yes/no value"),
    ),
    "bytes-neither-utf8-nor-cp1252": (
        with_bytes("x.csv", FLAT.read_bytes().replace(b"Mumbai", b"Mumb\x81i", 1)),
        ("x.csv", "byte 0x81", "set data.encoding"),
    ),
    "outcome-ids-match-no-lead": (
        with_unmatched_deals,
        ("deals.csv", "no value of column 'mql_id' matches a lead id"),
    ),
    **{
        f"date-{value}": (
            with_mql_date(value),
            ("mql.csv", "'first_contact_date' row 9", f"'{value}'", "1970-2200"),
        )
        for value in ("9999-01-01", "0001-01-01", "1850-01-01")
    },
}


@pytest.mark.slow  # runs `leadscore train` (refused before fitting, but through the MLflow store)
@pytest.mark.parametrize(("write", "needles"), REFUSED.values(), ids=REFUSED.keys())
def test_train_refuses_bad_input_in_one_line_and_logs_nothing(tmp_path, mlflow_uri, write, needles):
    r = run("train", "--config", write(tmp_path))
    one_error_line(r, *needles)
    assert nothing_registered()


def test_non_utf8_falls_back_to_cp1252_and_says_so(tmp_path, mlflow_uri):
    df = flat_leads()
    df.loc[0, "City"] = "Thane & Outskirts é"
    (tmp_path / "w.csv").write_bytes(df.to_csv(index=False).encode("cp1252"))
    r = run("validate", "--config", flat_config(tmp_path, tmp_path / "w.csv"))
    assert r.exit_code == 0, r.output
    warn = [ln for ln in r.stderr.splitlines() if "cp1252" in ln]
    assert len(warn) == 1 and "w.csv" in warn[0] and "not valid utf-8" in warn[0]


BOX = set("╭╮╰╯│─")  # Click's boxed usage text, which an expected mistake never prints


def no_box(r) -> None:
    assert not BOX & set(r.output), r.output
    assert "Usage:" not in r.output, r.output


@pytest.mark.parametrize(
    ("write", "needles"),
    [REFUSED["only-one-class"], REFUSED["outcome-values-match-neither"]],
    ids=["only-one-class", "outcome-values-match-neither"],
)
def test_validate_refuses_through_the_one_line_path(tmp_path, write, needles):
    r = run("validate", "--config", write(tmp_path))
    one_error_line(r, "error: ", *needles)
    no_box(r)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--leads", "-5"), ("generate: ", "'--leads'", "greater than or equal to 1")),
        (("--leads", "abc"), ("generate: ", "'--leads'", "valid integer")),
        (("--shape", "nope"), ("--shape 'nope'", "use one of event-log")),
        (("--activity-scale", "0"), ("'--activity-scale'",)),
        (("--no-such-option",), ("No such option: --no-such-option",)),
    ],
)
def test_generate_bad_option_is_one_line_not_a_box(tmp_path, args, needles):
    r = run("generate", "--out", tmp_path / "raw", *args)
    one_error_line(r, "error: ", *needles)
    no_box(r)
    assert not (tmp_path / "raw").exists()


def test_unknown_command_and_gate_option_are_one_line():
    for args, needle in (
        (("bogus",), "No such command 'bogus'"),
        (("gate", "set", "--max-ece", "x"), "'--max-ece'"),
    ):
        r = run(*args)
        one_error_line(r, "error: ", needle)
        no_box(r)


# ---------------------------------------------------------------- score ---------------------


PREVIOUS = "lead_id,probability\nold,0.5\n"


def _score(tmp: Path, cfg: Path, leads: Path, *extra: str):
    out = tmp / "out" / "scores.csv"
    out.parent.mkdir(exist_ok=True)
    out.write_text(PREVIOUS)
    (out.parent / "scores.rejected.csv").unlink(missing_ok=True)
    r = run("score", "--config", cfg, "--leads", leads, "--output", out, *extra)
    return r, out


def _score_fails(flat_model, leads: Path, *needles: str, extra: tuple = ()) -> str:
    tmp, cfg, _ = flat_model
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
    _score_fails(
        flat_model,
        FLAT,
        "no model named 'no-such-model'",
        "registered models: lead-scoring",
        extra=("--model-uri", "models:/no-such-model/1"),
    )


def test_score_missing_model_columns_are_listed(flat_model):
    p = flat_model[0] / "cols.csv"
    flat_leads().drop(columns=["Lead Origin", "TotalVisits"]).to_csv(p, index=False)
    _score_fails(flat_model, p, "cols.csv", "Lead Origin, TotalVisits", "retrain")


def test_score_extra_columns_are_ignored_with_a_note(flat_model):
    tmp, cfg, _ = flat_model
    p = tmp / "extra.csv"
    flat_leads().assign(**{"Favourite Colour": "blue"}).to_csv(p, index=False)
    r, out = _score(tmp, cfg, p)
    assert r.exit_code == 0, r.output
    assert "ignoring" in r.stderr and "Favourite Colour" in r.stderr
    assert len(pd.read_csv(out)) == 700


def test_score_bad_rows_go_to_rejected_file_rest_scored(flat_model):
    tmp, cfg, _ = flat_model
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
        3: "TotalVisits: 'lots' is not a number with decimal point '.'",
        4: "Do Not Email is not a yes/no value",
        5: "empty lead id",
        702: "duplicate lead id (first row scored)",
    }
    assert len(pd.read_csv(out)) == 700 - 3


def test_no_output_cell_starts_a_formula(flat_model):
    tmp, cfg, _ = flat_model
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


@pytest.mark.slow
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


def test_score_non_finite_numbers_are_missing_with_one_warning(flat_model):
    tmp, cfg, _ = flat_model
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
    tmp, cfg, _ = flat_model
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
    assert rej["row"].tolist() == ["4"] and "invisible characters" in rej["reason"].iloc[0]
