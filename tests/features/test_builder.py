import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from pipeline.features.builder import PERSONAL_DOMAINS as PERSONAL
from pipeline.features.builder import FeatureBuilder, personal_email
from pipeline.features.snapshots import snapshot_times


def leads_frame(**extra) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "_created_at": pd.to_datetime(["2026-01-01", "2026-01-10"]),
            "_closed_at": pd.to_datetime(["2026-03-01", pd.NaT]),
            "_label": [1.0, np.nan],
            "_email": ["a@acme.io", "b@gmail.com"],
            "industry": ["Software", "Retail"],
            "employees": [120.0, np.nan],
        },
        index=pd.Index(["A", "B"], name="lead_id"),
    )
    return df.assign(**extra)


def events_frame() -> pd.DataFrame:
    rows = [
        ("A", "2026-01-02", "web_visit"),
        ("A", "2026-01-20", "web_visit"),
        ("A", "2026-01-28", "demo_request"),
        ("A", "2026-01-31", "pricing_page_visit"),
        ("B", "2026-01-30", "web_visit"),
        ("B", "2026-01-30", "mystery_type"),
        ("Z", "2026-01-15", "demo_request"),  # a lead not in the frame
    ]
    ev = pd.DataFrame(rows, columns=["lead_id", "ts", "type"])
    ev["ts"] = pd.to_datetime(ev["ts"])
    return ev


def builder() -> FeatureBuilder:
    """Fitted on lead A's events: web visits, a demo request and a pricing page visit."""
    b = FeatureBuilder(["industry"], ["employees"], use_email=True)
    return b.fit(leads_frame().loc[["A"]], events_frame())


def test_counts_windows_and_recency_by_hand():
    X = builder().transform(
        leads_frame(), events_frame(), pd.to_datetime(["2026-02-01", "2026-02-01"]).to_numpy()
    )
    a, b = X.loc["A"], X.loc["B"]
    assert (
        a["web_visit_count"] == 2 and a["web_visit_count_7d"] == 0 and a["web_visit_count_30d"] == 1
    )
    assert a["demo_request_count_7d"] == 1
    assert a["demo_request_days_since_last"] == pytest.approx(4.0)
    assert a["pricing_page_visit_days_since_last"] == pytest.approx(1.0)
    assert a["activity_count"] == 4 and a["activity_days_since_last"] == pytest.approx(1.0)
    assert a["lead_age_days"] == pytest.approx(31.0)
    assert np.isnan(b["demo_request_days_since_last"]) and b["demo_request_count"] == 0
    assert b["activity_count"] == 2  # an unknown type still counts as activity
    assert a["personal_email"] == 0 and b["personal_email"] == 1
    assert "_email" not in X.columns and not any("@" in str(v) for v in X.to_numpy().ravel())


def test_events_at_or_after_as_of_change_nothing():
    """The leakage test: adding any events at or after the as-of time leaves every feature as is."""
    leads, ev = leads_frame(), events_frame()
    as_of = pd.to_datetime(["2026-01-25", "2026-01-29"]).to_numpy()
    before = builder().transform(leads, ev, as_of)
    rng = np.random.default_rng(0)
    future = pd.DataFrame(
        {
            "lead_id": rng.choice(["A", "B"], 200),
            "ts": np.repeat(as_of.max(), 200)
            + rng.integers(0, 10**6, 200).astype("timedelta64[s]"),
            "type": rng.choice(["demo_request", "web_visit", "pricing_page_visit", "other"], 200),
        }
    )
    # also events exactly at each lead's own as-of time
    at = pd.DataFrame(
        {"lead_id": ["A", "B"], "ts": as_of, "type": ["demo_request", "demo_request"]}
    )
    after = builder().transform(leads, pd.concat([ev, future, at], ignore_index=True), as_of)
    pd.testing.assert_frame_equal(before, after)


def test_row_order_of_events_does_not_matter():
    ev = events_frame()
    as_of = pd.to_datetime(["2026-02-01", "2026-02-01"]).to_numpy()
    a = builder().transform(leads_frame(), ev, as_of)
    b = builder().transform(leads_frame(), ev.sample(frac=1, random_state=1), as_of)
    pd.testing.assert_frame_equal(a, b)


def test_snapshots_never_reach_the_outcome():
    leads = leads_frame()
    snaps = snapshot_times(leads, [1, 7, 30, 58, 59, 90])
    assert set(snaps["lead_id"]) == {"A"}  # the open lead B is not trained on
    assert (snaps["as_of"] < leads.loc["A", "_closed_at"]).all()
    assert sorted(snaps["age"]) == [1, 7, 30, 58]  # day 59 is the close time itself


def test_lead_closed_before_first_age_keeps_one_snapshot_at_close():
    leads = leads_frame()
    leads.loc["A", "_closed_at"] = pd.Timestamp("2026-01-01 12:00")
    snaps = snapshot_times(leads, [1, 7])
    assert len(snaps) == 1 and snaps["as_of"].iloc[0] == pd.Timestamp("2026-01-01 12:00")


def test_fit_learns_vocabulary_from_training_leads_only():
    b = FeatureBuilder(["industry"], ["employees"]).fit(leads_frame().loc[["A"]], events_frame())
    assert b.activity_types_ == ["demo_request", "pricing_page_visit", "web_visit"]


def test_parameters_stay_as_given_and_learned_state_comes_from_fit():
    b = FeatureBuilder(["industry"], ["employees"], use_email=True, max_activity_types=2)
    params = b.get_params()
    assert params == {
        "categorical": ["industry"],
        "numeric": ["employees"],
        "use_email": True,
        "max_activity_types": 2,
        "decay_half_life_days": (),
    }
    b.fit(leads_frame().loc[["A"]], events_frame())
    assert b.get_params() == params
    assert b.activity_types_ == ["demo_request", "web_visit"]  # the 2 most frequent, sorted
    assert b.has_time_ and b.use_age_
    undated = leads_frame(_created_at=pd.NaT)
    assert not FeatureBuilder(["industry"], ["employees"]).fit(undated, events_frame()).use_age_


def test_transform_before_fit_says_so():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        FeatureBuilder(["industry"], ["employees"]).transform(
            leads_frame(), events_frame(), pd.to_datetime(["2026-02-01"] * 2).to_numpy()
        )


def test_personal_email_flags():
    s = pd.Series(["x@gmail.com", "y@Acme.COM", None, "not-an-email", "z@HOTMAIL.com"])
    out = personal_email(s)
    assert out[0] == 1 and out[1] == 0 and np.isnan(out[2]) and np.isnan(out[3]) and out[4] == 1


def test_personal_email_domain_is_after_the_last_at_trimmed_and_lower_cased():
    # the domain rule is Python's rsplit/strip/lower: several @, spaces and newlines around the
    # domain, an empty domain, a blank cell; repeated domains are looked up once, not once a row
    s = pd.Series(
        ["a@b@GMAIL.COM ", "x@", "@", "", "q@\u00a0yahoo.com", "a@b\n@hotmail.com", "z@busi.ness"]
        + ["r@outlook.com\t"] * 3
    )
    expected = [1, 0, 0, np.nan, 1, 1, 0, 1, 1, 1]
    np.testing.assert_array_equal(personal_email(s), np.array(expected, dtype=float))


def test_events_matched_by_file_row_give_the_features_of_the_events_frame():
    """The batch scorer hands `transform` its compact events (matched to leads by file row,
    `CompactEvents.of_rows` + `event_codes`) instead of a frame of ids: the same features. Events
    at or after as-of (the leakage rule) and before creation change nothing on either path."""
    import pyarrow as pa

    from pipeline.io.canonical import drop_before_created
    from pipeline.io.fastcsv import compact_from_frame

    leads = leads_frame(_created_at=pd.to_datetime(["2026-01-01 00:00", "2026-01-30 12:00"]))
    as_of = np.datetime64("2026-02-01", "ns")
    ev = events_frame()
    noise = pd.DataFrame(
        {
            "lead_id": ["A", "B", "B", "B"],
            "ts": pd.to_datetime(
                ["2026-02-01 00:00", "2027-01-01 00:00", "2025-12-31 00:00", "2026-01-30 12:00"]
            ),
        }
    ).assign(type=["demo_request", "web_visit", "web_visit", "demo_request"])
    b, when = builder(), np.full(2, as_of)
    at_creation = noise.iloc[3:]  # at the very time B was created: kept
    want = b.transform(leads, drop_before_created(leads, pd.concat([ev, at_creation]))[0], when)
    ids = pa.array(leads.index.tolist(), pa.string())
    compact = compact_from_frame(pd.concat([ev, noise]), ids, np.array([5, 9]), as_of)
    *codes, n_before = compact.of_rows(np.array([5, 9]), leads["_created_at"].to_numpy())
    got = b.transform(leads, b.event_codes(*codes, compact.types), when)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert n_before == 3  # B's two events of 30 Jan 00:00 and the one of 31 Dec: before B
    assert compact.after_as_of == 2


# The features of `events_frame()` as of 2026-02-01 00:00, counted by hand from its rows. Windows
# are (as_of - N days, as_of): A's web visit of 2 Jan is exactly 30 days old, so outside 30d. Per
# type and for all activity: count, count_7d, count_30d, days_since_last (NaN: never).
BY_HAND = {
    #                 demo            pricing         web               activity
    "A": [1, 1, 1, 4.0, 1, 1, 1, 1.0, 2, 0, 1, 12.0, 4, 2, 3, 1.0, 31.0, 0.0],
    "B": [0, 0, 0, np.nan, 0, 0, 0, np.nan, 1, 1, 1, 2.0, 2, 2, 2, 2.0, 22.0, 1.0],
}  # then lead_age_days (created 1 Jan / 10 Jan) and personal_email (acme.io / gmail.com)
NUMBER_COLUMNS = [
    f"{kind}_{what}"
    for kind in ("demo_request", "pricing_page_visit", "web_visit", "activity")
    for what in ("count", "count_7d", "count_30d", "days_since_last")
] + ["lead_age_days", "personal_email"]


def test_feature_frame_holds_the_values_counted_by_hand_in_their_order_and_dtypes():
    """Activity features in type order, then age and e-mail, then the configured categorical
    columns as their objects (pandas reads them as text when any is present; a column with none
    stays object), then the numeric ones as floats."""
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    leads = leads_frame(industry=pd.array(["Software", None], dtype=text))
    for lf in (leads, leads.assign(industry=pd.array([None, None], dtype=text))):
        b = builder()
        X = b.transform(lf, events_frame(), np.full(2, np.datetime64("2026-02-01", "ns")))
        want = pd.DataFrame.from_dict(BY_HAND, orient="index", columns=NUMBER_COLUMNS, dtype=float)
        want.index = pd.Index(["A", "B"], name="lead_id")
        want["industry"] = lf["industry"].astype(object).to_numpy()
        want["employees"] = [120.0, np.nan]
        assert X.columns.tolist() == b.feature_names == want.columns.tolist()
        pd.testing.assert_frame_equal(X, want, check_exact=True)


def test_personal_email_is_pythons_strip_and_lower_on_any_text():
    """pyarrow trims and lower-cases ASCII domains, Python the others: together exactly
    `domain.strip().lower()`, also for whitespace only Python knows (\\x1c, \\x85) and a Kelvin
    sign that lower-cases to an ASCII k."""
    rng = np.random.default_rng(5)
    parts = ["gmail.com", "GMAIL.COM", "outloo\u212a.com", "yahoo.co.uk", "gm\u0130il.com", " "]
    parts += ["\t", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "@", "a", "\n", "hotmail.com"]
    cells = ["u" + "".join(rng.choice(parts, rng.integers(1, 5))) for _ in range(5000)]
    cells += [None, "", "x@", "@", "plain"]
    domain = [c.rsplit("@", 1)[1] if c and "@" in c else None for c in cells]
    want = [np.nan if d is None else float(d.strip().lower() in PERSONAL) for d in domain]
    got = personal_email(pd.Series(cells, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))
    np.testing.assert_array_equal(got, np.array(want))
    assert personal_email(pd.Series(["u@outloo\u212a.com", "v@ gmail.com\x1c"])).tolist() == [1, 1]
