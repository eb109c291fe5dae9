"""The catalogue of issue 27's "Ids" and "Text cells" cases, each with what it now gives: read as
its clean twin, a rejected row with its reason, or one line (exit 2). Fast: no model trains."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline.errors import DataError
from pipeline.io import fastcsv
from pipeline.io.canonical import canonical_leads, load_events, load_leads, outcome_labels
from pipeline.io.keys import MatchCount
from pipeline.monitoring.monitor import STAGE_ORDER, realised_per, with_outcomes
from pipeline.serving import rows
from tests.properties.conftest import config_for
from tests.properties.exports import ACT_ID, LEAD_ID, OUT_ID, sample, write_export


@pytest.fixture()
def export(crm_config, tmp_path):
    """A small CRM export and a function writing it with one table changed."""
    tables = sample(12, 3)

    def write(leads=None, acts=None, deals=None) -> tuple:
        t = (leads if leads is not None else tables[0], acts if acts is not None else tables[1])
        files = write_export(tmp_path, (*t, deals if deals is not None else tables[2]))
        return config_for(crm_config, files), files

    return tables, write


def _events_of(cfg, files, leads_index) -> pd.DataFrame:
    return load_events(cfg, files["activities"], lead_ids=leads_index)


@pytest.mark.parametrize("written", ["{}.0", "{}.00", " {} ", "{}\u200b", "\ufeff{}"])
def test_activity_ids_1000_0_match_lead_1000(export, written):
    """Leads `1000`, activities `1000.0` (a spreadsheet's id column with a gap): before, no
    activity matched and scores fell silently; now they match, on both paths."""
    (leads, acts, _), write = export
    cfg, files = write(acts=acts.assign(**{ACT_ID: acts[ACT_ID].map(written.format)}))
    index = load_leads(cfg).index
    assert len(_events_of(cfg, files, index)) == len(acts)
    fast = fastcsv.compact_events(
        files["activities"],
        cfg,
        pa.array(list(index)),
        np.arange(len(index)),
        np.datetime64("2030"),
    )
    assert len(fast) == len(acts) and fast.match.matched == len(acts)


@pytest.mark.parametrize("dirt", [" ", "\x00", "\n", "\u00a0", "\u200b", "\r\n"])
def test_lead_id_with_a_trailing_space_nul_or_newline_keeps_its_activities(export, dirt):
    (leads, acts, _), write = export
    lid = acts[ACT_ID].iloc[0]
    cfg, files = write(leads=leads.assign(**{LEAD_ID: leads[LEAD_ID].replace(lid, lid + dirt)}))
    canon = load_leads(cfg)
    assert lid in canon.index  # written cleaned: the id as matched, not one that looks the same
    assert (_events_of(cfg, files, canon.index)["lead_id"] == lid).sum() == (
        acts[ACT_ID] == lid
    ).sum()


@pytest.mark.parametrize("twin", ["L1 ", "L1\x00", "L1\n", "L1.0", "\u200bL1"])
def test_an_id_that_differs_only_by_such_characters_is_a_rejected_duplicate(monkeypatch, twin):
    raw = pd.DataFrame({"id": ["L1", twin, "L2"]})
    sc = type("S", (), {"lead_id": "id", "created_at": None, "numeric": [], "flags": []})
    monkeypatch.setattr(rows, "model_schema", lambda scorer: sc)
    scorer = type("M", (), {"builder": type("B", (), {"numeric": []}), "meta": {}})
    good, rejected = rows.reject_bad_rows(raw, scorer)
    if twin == "L1.0":  # '1.0' after a word is no whole number: another id
        assert len(good) == 3 and rejected.empty
        return
    assert good["id"].tolist() == ["L1", "L2"]
    assert rejected["row"].tolist() == [3] and rejected["reason"].tolist() == [
        rows.NORMALIZED_DUPLICATE
    ]


def test_training_refuses_two_leads_that_differ_only_by_padding(export):
    (leads, *_), write = export
    twin = leads.iloc[[0]].assign(**{LEAD_ID: leads[LEAD_ID].iloc[0] + " "})
    cfg, _ = write(leads=pd.concat([leads, twin]))
    with pytest.raises(DataError, match="duplicate lead id .* once spaces"):
        load_leads(cfg)


@pytest.mark.parametrize("value", [" Software", "Software ", "\u00a0Software", "Software\u200b"])
def test_industry_padded_is_the_same_category(crm_config, value):
    raw = pd.DataFrame({LEAD_ID: ["1", "2"], "Industry": [value, "Software"]})
    sc = crm_config.schema.model_copy(
        update={"categorical": ["Industry"], "numeric": [], "created_at": None}
    )
    out = canonical_leads(raw, sc)
    assert out["Industry"].tolist() == ["Software", "Software"]


@pytest.mark.parametrize("value", [" APAC", "APAC ", "APAC\u200b", "\tAPAC"])
def test_segment_value_padded_is_routed_to_its_segment(crm_config, value):
    """' APAC' was routed to the pooled model; the segment column is a category, read cleaned."""
    from pipeline.modeling.segmented import SegmentedScorer

    raw = pd.DataFrame({LEAD_ID: ["1", "2"], "Region": [value, "EMEA"]})
    sc = crm_config.schema.model_copy(
        update={"categorical": ["Region"], "numeric": [], "created_at": None}
    )
    seg = SegmentedScorer.__new__(SegmentedScorer)
    seg.column, seg.models = "Region", {"APAC": object()}
    assert seg.segment_of(canonical_leads(raw, sc)).tolist() == ["APAC", "pooled"]


def test_won_beside_Won_in_monitor(export, caplog):
    """'closedwon', 'ClosedWon', ' CLOSEDWON ' are one outcome in training and monitor alike."""
    (leads, _, deals), write = export
    spelled = ["closedwon", "ClosedWon", " CLOSEDWON ", "closedWon"]
    stage = deals["Deal Stage"].where(deals["Deal Stage"] != "closedwon")
    n_won = int((deals["Deal Stage"] == "closedwon").sum())
    mixed = [spelled[i % 4] if pd.isna(s) else s for i, s in enumerate(stage)]
    cfg, files = write(deals=deals.assign(**{"Deal Stage": mixed}))
    labels = outcome_labels(cfg, files["outcomes"])
    assert int(labels.sum()) == n_won
    assert int(load_leads(cfg)["_label"].sum()) == n_won  # training reads them the same
    scores = pd.DataFrame({"lead_id": labels.index, "stage": "SQL", "probability": 0.5})
    table = realised_per(with_outcomes(scores, labels, False), "stage", STAGE_ORDER)
    assert table["won"].sum() == n_won


def test_values_neither_won_nor_lost_are_named_in_one_line(export, caplog):
    (_, _, deals), write = export
    cfg, files = write(
        deals=deals.assign(**{"Deal Stage": ["closedwon", "on hold", *deals["Deal Stage"][2:]]})
    )
    with caplog.at_level(logging.INFO):
        outcome_labels(cfg, files["outcomes"])
    lines = [r.getMessage() for r in caplog.records if "neither" in r.getMessage()]
    assert len(lines) == 1 and "'on hold'" in lines[0] and lines[0].startswith("warning:")


def test_every_run_says_its_match_share_and_far_below_training_warns():
    m = MatchCount("activities", n_leads=4)
    m.add(pd.Series(["1", "2", "x", None]), np.array([0, 1, -1, -1]))
    assert m.line("a.csv", "l.csv") == (
        "a.csv: 2 of 3 activities rows (66.7%) match a lead of l.csv; 2 of 4 leads (50.0%) "
        "have activities"
    )
    assert m.far_below(0.9) is None  # 50% is not under half of 90%
    low = MatchCount("activities", n_leads=10)
    low.add(pd.Series(["1"]), np.array([0]))
    assert low.far_below(0.9).startswith("warning: leads with activities: 10.0%")


def test_no_activity_row_matching_a_lead_is_one_line_naming_both_columns():
    m = MatchCount("activities", n_leads=3)
    m.add(pd.Series(["C-1", "C-2"]), np.array([-1, -1]))
    with pytest.raises(DataError) as e:
        m.refuse_none(Path("acts.csv"), ACT_ID, Path("leads.csv"), LEAD_ID, "1")
    msg = str(e.value)
    assert "\n" not in msg and f"'{ACT_ID}'" in msg and "'C-1'" in msg and f"'{LEAD_ID}'" in msg


def test_outcome_ids_written_as_floats_match(export):
    (_, _, deals), write = export
    cfg, files = write(deals=deals.assign(**{OUT_ID: deals[OUT_ID] + ".0"}))
    assert (
        load_leads(cfg)["_label"].notna().sum()
        == deals["Deal Stage"].isin(["closedwon", "closedlost"]).sum()
    )
