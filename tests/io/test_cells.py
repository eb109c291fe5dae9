"""Cells display what they are: bidi controls and zero-width characters leave every text cell we
write; an id loses them (`normalize_ids`), and one that then repeats another is rejected with
its reason; the database keeps ids as given (the
`'` spreadsheet guard is for CSV); plot labels are never read as math."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.io.rules import clean_text, clean_value

INVISIBLE = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
]


@pytest.mark.parametrize("ch", INVISIBLE)
def test_invisible_characters_leave_text_cells(ch):
    assert clean_text(pd.Series([f"ab{ch}c", "plain"])).tolist() == ["abc", "plain"]
    assert clean_value(f"x{ch}y") == "xy"


def test_ids_lose_invisible_characters_and_a_resulting_duplicate_is_rejected(monkeypatch):
    from pipeline.serving import rows

    raw = pd.DataFrame({"id": ["L1", "L\u202e1", "L2\u200b", "L3"]})
    sc = type(
        "S",
        (),
        {"lead_id": "id", "created_at": None, "numeric": [], "flags": [], "dayfirst": False},
    )
    monkeypatch.setattr(rows, "model_schema", lambda scorer: sc)
    scorer = type("M", (), {"builder": type("B", (), {"numeric": []}), "meta": {}})
    good, rejected = rows.reject_bad_rows(raw, scorer)
    assert good["id"].tolist() == ["L1", "L2", "L3"]
    assert rejected["row"].tolist() == [3]
    assert rejected["id"].tolist() == ["L\u202e1"]  # as given, so it can be found in the export
    assert (rejected["reason"] == rows.NORMALIZED_DUPLICATE).all()
    assert "invisible characters" in rows.NORMALIZED_DUPLICATE


def test_database_rows_keep_ids_as_given():
    from pipeline.io.rules import neutralise
    from pipeline.serving.database import _records

    given = ["=SUM(A1)", "+1", "-x", "@a", "plain", "'quoted"]
    staged = neutralise(pd.Series(given)).tolist()  # what the staged CSV holds
    assert staged[:4] == ["'=SUM(A1)", "'+1", "'-x", "'@a"]
    out = [r["lead_id"] for r in _records(pd.DataFrame({"lead_id": staged}), "run")]
    assert out == given


def test_plot_labels_are_not_math():
    import matplotlib

    import pipeline.evaluation.plots  # noqa: F401
    import pipeline.explain.plots  # noqa: F401
    import pipeline.report.charts  # noqa: F401

    assert matplotlib.rcParams["text.parse_math"] is False
    assert matplotlib.rcParams["text.usetex"] is False
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.barh(["$1M-$5M", "$5M+"], [1, 2])  # mathtext would fail or render italics
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["$1M-$5M", "$5M+"]
    plt.close(fig)
