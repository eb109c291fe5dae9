"""Reasons in business words, fit/engagement sub-scores and field-level explanation figures."""

import numpy as np
import pandas as pd
import pytest

from pipeline.explain.reasons import reason_table
from pipeline.explain.subscores import group_logodds
from pipeline.features.builder import FeatureBuilder
from tests.features.fitted import fitted_builder

TYPES = ["demo_request", "pricing_page_visit", "unsubscribe"]


@pytest.fixture()
def builder() -> FeatureBuilder:
    return fitted_builder(
        TYPES,
        has_time=True,
        categorical=["seniority", "company_size", "industry"],
        numeric=["annual_ad_budget"],
        use_email=True,
    )


def _frame(builder: FeatureBuilder, **values) -> pd.DataFrame:
    """One lead with no activity, a business email and the given feature values."""
    row = {f: 0.0 for f in builder.feature_names if f.endswith(("_count", "_7d", "_30d"))}
    row |= {f: np.nan for f in builder.feature_names if f.endswith("_days_since_last")}
    row |= {"lead_age_days": 10.0, "personal_email": 0.0, "seniority": "Manager"}
    row |= {"company_size": "11-50", "industry": "Retail", "annual_ad_budget": 5000.0}
    row |= values
    return pd.DataFrame([row], index=pd.Index(["L1"], name="lead_id"))[builder.feature_names]


def _reason(builder, X, shap: dict[str, float]) -> str:
    """The first reason when only the named features carry SHAP value."""
    c = np.zeros((1, len(builder.feature_names)))
    for name, v in shap.items():
        c[0, builder.feature_names.index(name)] = v
    return reason_table(c, builder.feature_fields, X, 3, True).iloc[0, 0]


def test_activity_phrasing_follows_the_dominant_feature(builder):
    X = _frame(
        builder,
        demo_request_count=1.0,
        demo_request_count_7d=1.0,
        demo_request_count_30d=1.0,
        demo_request_days_since_last=2.0,
        pricing_page_visit_count=7.0,
        pricing_page_visit_count_7d=5.0,
        pricing_page_visit_count_30d=7.0,
        pricing_page_visit_days_since_last=1.2,
        activity_count=8.0,
        activity_count_7d=6.0,
        activity_count_30d=8.0,
        activity_days_since_last=1.2,
    )
    assert _reason(builder, X, {"demo_request_count": 0.9}) == "[+] requested a demo 2 days ago"
    assert (
        _reason(builder, X, {"pricing_page_visit_count_7d": 0.8, "pricing_page_visit_count": 0.1})
        == "[+] 5 pricing-page visits in the last 7 days"
    )
    assert (
        _reason(builder, X, {"pricing_page_visit_count_30d": 0.6})
        == "[+] 7 pricing-page visits in the last 30 days"
    )
    assert (
        _reason(builder, X, {"pricing_page_visit_days_since_last": 0.6})
        == "[+] 7 pricing-page visits, last one 1 day ago"
    )


def test_long_silence_and_absence_read_naturally(builder):
    X = _frame(
        builder,
        activity_count=4.0,
        activity_days_since_last=60.0,
        unsubscribe_count=1.0,
        unsubscribe_days_since_last=20.0,
    )
    assert _reason(builder, X, {"activity_days_since_last": -0.7}) == "[-] no activity for 60 days"
    assert _reason(builder, X, {"demo_request_count": -0.3}) == "[-] no demo request yet"
    assert _reason(builder, X, {"activity_count_7d": -0.3}) == "[-] no activity in the last 7 days"
    # an unsubscribe is bad news in itself: never "no unsubscribe for 20 days"
    assert (
        _reason(builder, X, {"unsubscribe_days_since_last": -0.9})
        == "[-] unsubscribed from emails 20 days ago"
    )


def test_who_the_lead_is_reads_as_words(builder):
    X = _frame(
        builder,
        seniority="Director",
        company_size="201-1000",
        annual_ad_budget=180000.0,
        personal_email=1.0,
    )
    assert _reason(builder, X, {"seniority": 0.4}) == "[+] Director-level role"
    assert _reason(builder, X, {"company_size": 0.4}) == "[+] company size 201-1000"
    assert _reason(builder, X, {"annual_ad_budget": 0.4}) == "[+] annual ad budget 180,000"
    assert _reason(builder, X, {"personal_email": -0.5}) == "[-] personal email domain"
    assert _reason(builder, X, {"industry": -0.2}) == "[-] Retail industry"
    X.loc["L1", "industry"] = np.nan
    assert _reason(builder, X, {"industry": -0.2}) == "[-] industry not given"


def test_reasons_are_ordered_by_size_and_sum_their_features(builder):
    X = _frame(builder, demo_request_count=1.0, demo_request_days_since_last=3.0)
    c = np.zeros((1, len(builder.feature_names)))
    names = builder.feature_names
    # demo: 0.3 + 0.3 = 0.6 beats the email's 0.5 although each demo feature alone does not
    c[0, names.index("demo_request_count")] = 0.3
    c[0, names.index("demo_request_days_since_last")] = 0.3
    c[0, names.index("personal_email")] = -0.5
    c[0, names.index("industry")] = 0.1
    r = reason_table(c, builder.feature_fields, X, 4, True).iloc[0].tolist()
    assert r[0] == "[+] requested a demo 3 days ago"
    # the email field pulls down (-0.5): its sign is "-" whatever the domain, and the words say
    # the domain the lead has (business), not the one the model would have preferred
    assert r[1] == "[-] business email domain"
    assert r[2] == "[+] Retail industry"
    # past the fields that moved the lead the slot stays empty: a field with no contribution
    # (one the model does not use) is no reason, nor is a repeat of one already given
    assert r[3] is None


def _score(trained, n=300, k=3):
    result, leads, events = trained
    sub = leads.iloc[:n]
    as_of = (sub["_created_at"] + pd.Timedelta(days=12)).to_numpy()
    return result.scorer, sub, events, as_of, result.scorer.score(sub, events, as_of, k)


@pytest.mark.slow
def test_every_scored_lead_has_signed_plain_reasons_and_subscores(trained):
    _, _, _, _, out = _score(trained)
    reasons = out[["reason_1", "reason_2", "reason_3"]]
    assert reasons.notna().all().all()
    assert reasons.apply(lambda s: s.str.match(r"^\[[+-]\] [a-zA-Z0-9]")).all().all()
    assert not reasons.apply(lambda s: s.str.contains(r"_|\bnan\b|<NA>", regex=True)).any().any()
    for c in ("fit_score", "engagement_score"):
        assert out[c].between(0, 100).all()
    # the two sub-scores measure different things
    assert out["fit_score"].corr(out["engagement_score"]) < 0.9


def test_fit_is_who_the_lead_is_and_engagement_what_it_did_by_name(builder):
    """Each feature on its side, named: activity of every type, overall activity and lead age are
    engagement; firmographics, the email domain and a behaviour-free number are fit."""
    from pipeline.modeling.scorer import engagement_fields

    names = builder.feature_names
    c = np.eye(len(names))  # one lead per feature, holding only that feature's part
    g = group_logodds(c, builder.feature_fields, engagement_fields(builder, ()))
    fit = {n for n, (f, e) in zip(names, g, strict=True) if (f, e) == (1.0, 0.0)}
    eng = {n for n, (f, e) in zip(names, g, strict=True) if (f, e) == (0.0, 1.0)}
    assert fit == {"seniority", "company_size", "industry", "annual_ad_budget", "personal_email"}
    windows = ("count", "count_7d", "count_30d", "days_since_last")
    activity = [*TYPES, "activity"]
    assert eng == {f"{t}_{w}" for t in activity for w in windows} | {"lead_age_days"}
    # a behaviour column of the export (schema.engagement) moves to the engagement side
    g = group_logodds(c, builder.feature_fields, engagement_fields(builder, ("annual_ad_budget",)))
    assert g[names.index("annual_ad_budget")].tolist() == [0.0, 1.0]


@pytest.mark.slow
def test_fit_and_engagement_parts_add_up_to_the_raw_log_odds(trained):
    """The scorer's own split: engagement is the sum over the activity and age features by name,
    fit the rest, and the two plus the base value are the booster's raw log-odds."""
    scorer, sub, events, as_of, _ = _score(trained)
    X = scorer.features(sub, events, as_of)
    c, base = scorer.contributions(X)
    g = group_logodds(c, scorer.builder.feature_fields, scorer.engagement_fields)
    eng = _engagement_features(scorer.builder.feature_names, scorer.builder.activity_types_)
    assert np.allclose(g[:, 1], c[:, eng].sum(1), atol=1e-8)
    assert np.allclose(g[:, 0], c[:, ~eng].sum(1), atol=1e-8)
    raw = scorer.estimator.predict_proba(X)[:, 1]
    assert np.allclose(g.sum(1) + base, np.log(raw / (1 - raw)), atol=1e-6)
    assert np.allclose(c.sum(1) + base, scorer.raw_scores(X), atol=1e-6)  # the protocol's log-odds


def _engagement_features(names: list[str], activity_types: list[str]) -> np.ndarray:
    """Which features describe what the lead did (activity of any type, lead age), by name."""
    prefixes = tuple(f"{t}_" for t in [*activity_types, "activity"])
    return np.array([n == "lead_age_days" or n.startswith(prefixes) for n in names])


def _share_at_or_below(reference: np.ndarray, v: np.ndarray) -> np.ndarray:
    """100 x the share of reference values <= each value, by brute force (not rounded)."""
    return 100 * (reference[None, :] <= v[:, None]).mean(axis=1)


@pytest.mark.slow
def test_subscores_are_percentiles_of_the_reference_leads(trained, training_rows):
    """The reference is the validation leads' last snapshots (the leads behind `score`); a lead's
    fit (engagement) score is the share of them whose fit (engagement) log-odds part is lower or
    equal to its own."""
    result, leads, events = trained
    scorer, rows = result.scorer, training_rows
    names = scorer.builder.feature_names
    eng = _engagement_features(names, scorer.builder.activity_types_)
    assert eng.any() and (~eng).any()

    ref_X = rows.X[rows.part("val") & rows.one_per_lead]
    c_ref, _ = scorer.contributions(ref_X)
    fit_ref = np.sort(np.round(c_ref[:, ~eng].sum(axis=1), 9))  # ties kept ties (group_logodds)
    eng_ref = np.sort(np.round(c_ref[:, eng].sum(axis=1), 9))
    assert np.allclose(scorer.fit_reference, fit_ref) and np.allclose(
        scorer.engagement_reference, eng_ref
    )
    assert np.allclose(np.sort(scorer.conversion_probability(ref_X)), scorer.score_reference)

    # test leads at their last snapshot, and the reference leads themselves
    X = pd.concat([rows.X[rows.part("test") & rows.one_per_lead], ref_X])
    c, _ = scorer.contributions(X)
    sub = scorer.subscores(c)
    for col, part, ref in (("fit_score", ~eng, fit_ref), ("engagement_score", eng, eng_ref)):
        expected = _share_at_or_below(ref, np.round(c[:, part].sum(axis=1), 9))
        got = sub[col].to_numpy()
        assert np.abs(got - expected).max() <= 0.5, col  # the same share, rounded to a whole
        assert got.min() <= 10 and got.max() >= 90, col  # and it spreads over the 0-100 range
    # the two are different questions, not one number twice
    assert not np.array_equal(sub["fit_score"], sub["engagement_score"])


@pytest.mark.slow
def test_a_demo_request_gives_a_positive_demo_reason_and_more_engagement(trained):
    result, leads, _ = trained
    lead = leads[leads["_label"] == 0].iloc[[3]].copy()
    lead.index = pd.Index(["X2"], name="lead_id")
    t0 = lead["_created_at"].iloc[0]
    as_of = np.array([(t0 + pd.Timedelta(days=10)).to_datetime64()])
    base = pd.DataFrame(
        {"lead_id": ["X2"], "ts": [t0 + pd.Timedelta(days=1)], "type": ["email_open"]}
    )
    demo = pd.concat(
        [
            base,
            pd.DataFrame(
                {"lead_id": ["X2"], "ts": [t0 + pd.Timedelta(days=8)], "type": ["demo_request"]}
            ),
        ],
        ignore_index=True,
    )
    s = result.scorer
    before = s.score(lead, base, as_of, 3).iloc[0]
    after = s.score(lead, demo, as_of, 3).iloc[0]
    assert "[+] requested a demo 2 days ago" in after.filter(like="reason_").tolist()
    assert after["engagement_score"] > before["engagement_score"]
    assert after["score"] > before["score"]


@pytest.mark.slow
def test_field_figures_and_waterfall(trained):
    import matplotlib.pyplot as plt

    from pipeline.explain.plots import field_figures, lead_waterfall

    result, leads, events = trained
    contrib, X = result.shap_sample
    figs = field_figures(contrib[:500], X.iloc[:500], result.scorer.builder.feature_fields)
    deps = [k for k in figs if k.startswith("explain/dependence/")]
    assert "explain/shap_beeswarm_by_field.png" in figs and len(deps) == 5
    top = result.importance["field"].head(5).tolist()
    assert {k.split("_", 1)[1].removesuffix(".png") for k in deps} <= set(
        result.importance["field"]
    )
    assert any(top[0] in k for k in deps)
    lead = leads.iloc[[0]]
    fig = lead_waterfall(result.scorer, lead, events, lead["_created_at"].to_numpy())
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert any("[" in t and "]" in t for t in labels)
    for f in [*figs.values(), fig]:
        plt.close(f)


def test_without_dates_reasons_use_counts_only():
    b = fitted_builder(TYPES, has_time=False, categorical=[], numeric=[])
    X = pd.DataFrame(
        [[2.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 1.0]],
        columns=b.feature_names,
        index=pd.Index(["A", "B"], name="lead_id"),
    )
    c = np.zeros((2, 4))
    c[0, b.feature_names.index("demo_request_count")] = 0.8
    c[1, b.feature_names.index("demo_request_count")] = -0.4
    r = reason_table(c, b.feature_fields, X, 1, False)["reason_1"].tolist()
    assert r == ["[+] 2 demo requests", "[-] no demo request yet"]


def test_a_side_the_model_cannot_see_is_absent_not_fifty():
    from pipeline.explain.subscores import group_logodds, percentile

    assert np.isnan(percentile(np.zeros(100), np.array([0.0, 0.0]))).all()
    assert np.isnan(percentile(np.array([]), np.array([0.3]))).all()
    # a flat export without dates, activities or behaviour columns: no engagement feature, so
    # the engagement part is 0 for every reference lead and the sub-score is empty
    ff = {"industry": "industry", "employees": "employees"}
    g = group_logodds(np.random.default_rng(1).normal(size=(50, 2)), ff, [])
    assert np.isnan(percentile(np.sort(g[:, 1]), g[:5, 1])).all()
    assert not np.isnan(percentile(np.sort(g[:, 0]), g[:5, 0])).any()
    ref = np.sort(np.random.default_rng(0).normal(size=1000))
    p = percentile(ref, np.array([-10.0, 0.0, 10.0]))
    assert p[0] == 0 and 45 <= p[1] <= 55 and p[2] == 100


def test_plain_columns_of_an_export_read_as_words():
    """Reasons of a user's own columns: "Lead Quality: Might be", "Do Not Email: yes", counts
    with their unit, "... not given"; never a raw 0/1, never the encoder's '__other__'."""
    from pipeline.explain.reasons import _value

    def v(field, values, **kw):
        return _value(field, pd.Series(values), **kw).tolist()

    assert v("Lead Quality", ["Might be", None]) == [
        "Lead Quality: Might be",
        "Lead Quality not given",
    ]
    assert v("Do Not Email", [1.0, 0.0, np.nan], flag=True) == [
        "Do Not Email: yes",
        "Do Not Email: no",
        "Do Not Email not given",
    ]
    assert v("TotalVisits", [2.0, 1.0, 0.0]) == ["2 site visits", "1 site visit", "no site visits"]
    assert v("Total Time Spent on Website", [1532.0, 120.0]) == [
        "26 minutes on the website",  # over 120 seconds: minutes
        "120 seconds on the website",
    ]
    assert v("Page Views Per Visit", [2.5]) == ["2.5 page views per visit"]
    assert v("campaign", [3.0, 1.0, 0.0]) == [
        "3 contacts in this campaign",
        "1 contact in this campaign",
        "no contacts in this campaign",
    ]
    assert v("budget", [3.0, 1.0, 0.0]) == ["budget: 3", "budget: one", "budget: none"]
    assert v("Specialization", [None]) == ["Specialization not given"]
    # a value the model lumps into its 'other' level reads that way; a known one is defused
    known = {"Google", "=HYPERLINK(x)", "__other__"}
    assert v("Lead Source", ["Google", "Bing", "=HYPERLINK(x)"], known=known) == [
        "Lead Source: Google",
        "other Lead Source",
        "Lead Source: HYPERLINK(x)",
    ]
    assert v("industry", ["Mining"], known={"Retail", "__other__"}) == ["other industry"]


def test_reason_table_reads_flags_yes_no_and_unseen_as_other():
    X = pd.DataFrame(
        {"Do Not Email": [1.0, 0.0], "Lead Source": ["Google", "Bing"]},
        index=pd.Index(["A", "B"], name="lead_id"),
    )
    ff = {"Do Not Email": "Do Not Email", "Lead Source": "Lead Source"}
    c = np.array([[-0.5, 0.1], [0.1, 0.4]])
    words = {"flags": {"Do Not Email"}, "categories": {"Lead Source": {"Google", "__other__"}}}
    r = reason_table(c, ff, X, 2, False, **words)
    assert r["reason_1"].str[4:].tolist() == ["Do Not Email: yes", "other Lead Source"]
    assert r["reason_2"].str[4:].tolist() == ["Lead Source: Google", "Do Not Email: no"]


def test_behaviour_columns_of_a_flat_export_are_the_engagement_side():
    ff = {"TotalVisits": "TotalVisits", "Lead Source": "Lead Source", "Time": "Time"}
    g = group_logodds(np.array([[0.3, 0.5, 0.2]]), ff, ["TotalVisits", "Time"])
    assert g.tolist() == [[0.5, 0.5]]  # fit: Lead Source; engagement: visits and time
    assert group_logodds(np.array([[0.3, 0.5, 0.2]]), ff, []).tolist() == [[1.0, 0.0]]


def test_labels_and_readable_guesses_name_columns_and_values():
    """`schema.labels` wins; without it dotted, camel and snake names read as words, 'basic.6y'
    as 'basic 6 years'; the contact history says its unit; 999 days means never contacted."""
    from pipeline.explain.reasons import _value

    labels = {"education": {"name": "schooling", "values": {"basic.6y": "six years of school"}}}

    def v(field, values, **kw):
        return _value(field, pd.Series(values), **kw).tolist()

    assert v("education", ["basic.6y", "high.school"], labels=labels) == [
        "schooling: six years of school",
        "schooling: high school",
    ]
    assert v("nr.employed", [5099.0]) == ["number employed: 5,099"]
    assert v("TotalVisits", [None]) == ["total visits not given"]
    assert v("origin", ["paid_search"]) == ["origin: paid search"]
    ids = {"landing_page_id": {"values": {"58326e62183c14b0c03085c33b9fdc44": "landing page #1"}}}
    assert v("landing_page_id", ["58326e62183c14b0c03085c33b9fdc44"], labels=ids) == [
        "landing page #1"
    ]
    assert v("previous", [2.0]) == ["2 contacts before this campaign"]
    assert v("calls_this_campaign", [7.0]) == ["7 calls in this campaign"]
    assert v("pdays", [6.0, 999.0]) == ["6 days since the last contact", "not contacted before"]


def test_an_absence_that_raises_the_score_is_left_out():
    """ "[+] no page views" is no reason to call: the slot is left out and the next reason moves
    up; the same absence lowering a score is still said, and so is a good-news absence."""
    X = pd.DataFrame(
        {"Page Views": [0.0, 0.0], "Lead Source": ["Google", "Bing"]},
        index=pd.Index(["A", "B"], name="lead_id"),
    )
    ff = {"Page Views": "Page Views", "Lead Source": "Lead Source"}
    c = np.array([[0.5, 0.1], [-0.5, 0.1]])
    r = reason_table(c, ff, X, 2, False)
    assert r.loc["A", "reason_1"] == "[+] Lead Source: Google" and pd.isna(r.loc["A", "reason_2"])
    assert r.loc["B"].tolist() == ["[-] no page views", "[+] Lead Source: Bing"]


def test_remembered_category_words_are_the_words_phrased_afresh():
    """A scorer's memo of category words gives what phrasing each chunk afresh gives: known,
    unseen ('other'), labelled, formula-like and missing values, over calls that share it."""
    rng = np.random.default_rng(4)
    values = np.array(["Google", "Bing", "=SUM(A1)", "basic.6y", None], dtype=object)
    ff = {"Do Not Email": "Do Not Email", "Lead Source": "Lead Source", "education": "education"}
    words = {
        "flags": {"Do Not Email"},
        "categories": {"Lead Source": {"Google", "=SUM(A1)", "__other__"}},
        "labels": {"education": {"name": "schooling", "values": {"basic.6y": "six years"}}},
    }
    memo: dict = {}
    for n in (200, 1, 37):  # a batch chunk, one lead, another chunk: the memo carries over
        X = pd.DataFrame(
            {
                "Do Not Email": rng.choice([0.0, 1.0, np.nan], n),
                "Lead Source": rng.choice(values, n),
                "education": rng.choice(values, n),
            }
        )
        c = rng.normal(size=(n, 3))
        fresh = reason_table(c, ff, X, 3, False, **words)
        pd.testing.assert_frame_equal(reason_table(c, ff, X, 3, False, **words, memo=memo), fresh)
    assert ("Lead Source", "Bing") in memo and ("education", None) in memo
    assert memo[("Lead Source", "Bing")] == "other Lead Source"
