"""A-D grades: fixed probability floors (pipeline.modeling.grades), and the draft a first model
makes from its cutoffs and base rate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import GradeFloors
from pipeline.modeling.cutoffs import Cutoffs
from pipeline.modeling.grades import GRADES, draft_floors, grade_of

FLOORS = GradeFloors(A=0.40, B=0.20, C=0.08)


def test_grade_of_hand_written_values():
    p = np.array([0.9, 0.40, 0.399, 0.20, 0.19, 0.08, 0.079, 0.0, np.nan])
    got = grade_of(p, FLOORS).tolist()
    assert got == ["A", "A", "B", "B", "C", "C", "D", "D", None]


def test_no_floors_no_grade():
    assert grade_of(np.array([0.5, 0.1]), None).tolist() == [None, None]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_grades_fall_with_probability(ps):
    """A higher probability never gets a worse grade, and each grade's floor holds."""
    p = np.sort(np.array(ps))[::-1]
    g = grade_of(p, FLOORS.model_dump())
    rank = [GRADES.index(x) for x in g]
    assert rank == sorted(rank)
    floor = {"A": FLOORS.A, "B": FLOORS.B, "C": FLOORS.C, "D": 0.0}
    assert all(pi >= floor[gi] for pi, gi in zip(p, g, strict=True))


@given(st.floats(0.001, 0.99), st.floats(0.001, 0.99), st.floats(0.0005, 0.9), st.booleans())
def test_draft_is_always_ordered(sql, mql, base, swap):
    """Whatever cutoffs and base rate a model has, the draft is a valid set of floors."""
    if swap:
        sql, mql = mql, sql
    f = draft_floors(Cutoffs(mql=mql, sql=sql, sql_rule="", mql_rule=""), base)
    assert 1 > f.A > f.B > f.C > 0


@given(st.floats(0.001, 0.99), st.floats(0.001, 0.99), st.floats(0.0005, 0.9), st.booleans())
def test_draft_never_grades_an_average_lead_d(sql, mql, base, swap):
    """A lead as likely to convert as the average lead is never D, and while the SQL cutoff lies
    above the base rate, B's floor is the base rate: a B means "at least as likely as the average
    lead" whatever the MQL cutoff. (A model that separates well has its MQL cutoff above the base
    rate; the draft then squeezed B and C between the cutoffs and put the leads from the base
    rate up to the MQL cutoff in D.)"""
    if swap:
        sql, mql = mql, sql
    f = draft_floors(Cutoffs(mql=mql, sql=sql, sql_rule="", mql_rule=""), base)
    assert grade_of(np.array([base]), f)[0] != "D"
    b = float(f"{base:.2g}")
    if 1 > float(f"{sql:.2g}") > b:
        assert b == f.B


def test_draft_reads_cutoffs_and_base_rate():
    f = draft_floors(Cutoffs(mql=0.04, sql=0.31, sql_rule="", mql_rule=""), 0.1)
    assert (f.A, f.B, f.C) == (0.31, 0.1, 0.04)
    # an MQL cutoff above the base rate (the sample's model: 0.146 against 0.092) is no C
    # floor: C at half the base rate
    f = draft_floors(Cutoffs(mql=0.1462, sql=0.2007, sql_rule="", mql_rule=""), 0.0921)
    assert (f.A, f.B, f.C) == (0.2, 0.092, 0.046)


@pytest.mark.parametrize("bad", [{"A": 0.2, "B": 0.4, "C": 0.1}, {"A": 1.2, "B": 0.4, "C": 0.1}])
def test_floors_must_fall_from_a_to_c(bad):
    with pytest.raises(ValueError):
        GradeFloors.model_validate(bad)


def test_grade_table_hand_written():
    from pipeline.modeling.grades import grade_table

    y = np.array([1, 0, 0, 1, 0])
    t = grade_table(y, np.array([0.5, 0.3, 0.1, 0.05, 0.02]), FLOORS).set_index("grade")
    assert t["leads"].tolist() == [1, 1, 1, 2, 5]
    assert t.loc["D", "expected_conversion"] == pytest.approx(0.035)
    assert t.loc["D", "realised_conversion"] == 0.5 and t.loc["all", "realised_conversion"] == 0.4
    assert grade_table(y, np.full(5, 0.5), None).empty
