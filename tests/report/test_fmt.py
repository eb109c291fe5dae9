"""Numbers and field names as people read them."""

from __future__ import annotations

from types import SimpleNamespace

from pipeline.report.fmt import count, field_label, num, pct, points, rule_words, tidy, times


def test_percentages_keep_only_meaningful_digits():
    assert pct(0.1398) == "14%"
    assert pct(0.0354) == "3.5%"
    assert pct(0.0004) == "<0.1%"
    assert pct(0) == "0%"
    assert pct(float("nan")) == "–"


def test_points_counts_and_ratios():
    assert points(0.031) == "+3.1 pts"
    assert points(-0.2) == "-20 pts"
    assert count(1234.4) == "1,234"
    assert count(3.25) == "3.2"
    assert num(0.88477) == "0.88"
    assert times(4.7978) == "4.8×"


def test_fields_in_business_words():
    assert field_label("demo_request") == "Demo requests"
    assert field_label("pricing_page_visit") == "Pricing-page visits"
    assert field_label("job_role") == "Job role"
    assert "_" not in field_label("email_domain") + field_label("lead_age")


def test_free_text_loses_its_long_decimals():
    assert tidy("AUC 0.88477 vs 0.87901 (gate.max_auc_drop 0.01)") == (
        "AUC 0.885 vs 0.879 (gate.max_auc_drop 0.01)"
    )


def test_cutoff_rules_in_words():
    assert rule_words("precision >= 0.5") == "chosen so that at least 50% of SQLs convert"
    assert "80% of the wins" in rule_words("recall >= 0.8")
    assert rule_words("capacity 1200/month") == "chosen to send sales about 1,200 leads a month"


def test_fields_and_values_read_in_the_words_of_the_labels():
    import pandas as pd

    from pipeline.explain.fields import CONTEXT_FIELD
    from pipeline.report.card import slices_in_words
    from pipeline.report.fmt import value_label

    labels = {"nr.employed": "employed nationally", "page": {"name": "landing page", "values": {}}}
    assert field_label("nr.employed", labels) == "Employed nationally"
    assert field_label("Euribor3m") == "3-month Euribor rate"  # no label: the readable guess
    assert field_label(CONTEXT_FIELD, labels, ["nr.employed", "euribor3m"]) == (
        "Market conditions at the time (employed nationally, 3-month Euribor rate)"
    )
    hexid = "dfc3b656bac13de62e4efca322b3f2c1"
    assert value_label(hexid, "page", labels) == "landing page (an id not in schema.labels)"
    assert value_label("basic.6y", "education") == "basic 6 years"
    scorer = SimpleNamespace(meta={"schema": {"labels": labels}})
    t = slices_in_words(
        pd.DataFrame({"column": ["nr.employed", "page"], "value": [5099.1, hexid]}), scorer
    )
    assert t["column"].tolist() == ["Employed nationally", "Landing page"]
    assert t["value"].tolist() == ["5099.1", "landing page (an id not in schema.labels)"]
