"""Snapshot replay at scale: sampling keeps every lead and its last snapshot, is seeded and never
reaches an outcome; the one-pass snapshot features are exactly `transform` at each as-of time."""

import numpy as np
import pandas as pd
import pytest

import pipeline.features.builder as fb
from pipeline.features.builder import FeatureBuilder
from pipeline.features.snapshots import (
    build_snapshot_features,
    last_snapshot,
    sample_snapshots,
    snapshot_times,
)
from pipeline.io.keys import index_positions
from tests.features.fitted import fitted_builder

AGES = [1, 3, 7, 14, 21, 30, 45, 60, 90]


def history(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labelled and open leads closing at random ages (some before day 1, some never), with events."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 200 * 86400, n), "s")
    close_after = pd.to_timedelta(rng.uniform(0.2, 120, n), "D")
    label = rng.choice([0.0, 1.0, np.nan], n, p=[0.6, 0.3, 0.1])
    closed = pd.Series(created + close_after).where(~np.isnan(label))
    ids = pd.Index([f"L{i:04d}" for i in range(n)], name="lead_id", dtype="str")
    leads = pd.DataFrame(
        {
            "_created_at": created,
            "_closed_at": closed.to_numpy(),
            "_label": label,
            "_email": rng.choice(["a@acme.io", "b@gmail.com", None], n),
            "industry": rng.choice(["Software", "Retail", "Health", None], n),
            "employees": rng.choice([10.0, 250.0, np.nan], n),
        },
        index=ids,
    )
    m = 6000
    owner = rng.integers(0, n, m)
    ev = pd.DataFrame(
        {
            "lead_id": pd.array(ids[owner], dtype="str"),
            "ts": created[owner] + pd.to_timedelta(rng.uniform(-2, 100, m), "D"),
            "type": rng.choice(["web_visit", "demo_request", "email_open", "other"], m),
        }
    )
    return leads, ev


def builder() -> FeatureBuilder:
    types = ["demo_request", "email_open", "web_visit"]
    return fitted_builder(types, categorical=["industry"], numeric=["employees"], use_email=True)


def by_transform(b: FeatureBuilder, leads, events, snaps) -> pd.DataFrame:
    """The definition: `transform` of each age's leads at their as-of times, put back in order."""
    frames = []
    for _, grp in snaps.groupby("age", dropna=False, sort=True):
        X = b.transform(leads.loc[grp["lead_id"].to_numpy()], events, grp["as_of"].to_numpy())
        X.index = grp.index
        frames.append(X)
    return pd.concat(frames).loc[snaps.index]


def test_snapshot_features_equal_transform_at_each_as_of():
    leads, ev = history()
    snaps = snapshot_times(leads, AGES)
    assert snaps["age"].isna().any()  # leads closed before day 1 are in too
    b = builder()
    pd.testing.assert_frame_equal(
        build_snapshot_features(b, leads, ev, snaps), by_transform(b, leads, ev, snaps)
    )


def test_float32_snapshot_features_are_the_float64_ones_rounded():
    leads, ev = history()
    snaps = snapshot_times(leads, AGES)
    b = builder()
    x64 = build_snapshot_features(b, leads, ev, snaps)
    x32 = build_snapshot_features(b, leads, ev, snaps, np.float32)
    num = [c for c in x64.columns if c not in b.categorical]
    assert (x32[num].dtypes == np.float32).all()
    pd.testing.assert_frame_equal(x32[num], x64[num].astype(np.float32))
    pd.testing.assert_frame_equal(x32[b.categorical], x64[b.categorical])


def test_events_stream_in_blocks_with_the_same_result(monkeypatch):
    leads, ev = history()
    snaps = snapshot_times(leads, AGES)
    whole = build_snapshot_features(builder(), leads, ev, snaps)
    monkeypatch.setattr(fb, "EVENT_BLOCK", 97)  # many blocks, the last one short
    pd.testing.assert_frame_equal(build_snapshot_features(builder(), leads, ev, snaps), whole)


def test_sampling_keeps_every_lead_and_its_last_snapshot():
    leads, _ = history()
    snaps = snapshot_times(leads, AGES)
    kept = sample_snapshots(snaps, 3, seed=42)
    assert set(kept["lead_id"]) == set(snaps["lead_id"])
    assert kept.groupby("lead_id").size().max() == 3
    # each lead keeps min(3, its snapshot count)
    expected = snaps.groupby("lead_id").size().clip(upper=3)
    pd.testing.assert_series_equal(kept.groupby("lead_id").size(), expected)
    last_all = snaps.iloc[last_snapshot(snaps)].set_index("lead_id")["as_of"].sort_index()
    last_kept = kept.iloc[last_snapshot(kept)].set_index("lead_id")["as_of"].sort_index()
    pd.testing.assert_series_equal(last_kept, last_all)


def test_sampling_never_places_a_snapshot_at_or_after_the_outcome():
    leads, _ = history()
    cand = snapshot_times(leads, AGES)
    kept = sample_snapshots(cand, 2, seed=1)
    # every kept row is one of the candidates: sampling adds no time of its own
    key = ["lead_id", "as_of"]
    assert len(kept.merge(cand[key], on=key)) == len(kept)
    closed = leads["_closed_at"].reindex(kept["lead_id"]).to_numpy()
    aged = kept["age"].notna().to_numpy()
    assert (kept["as_of"].to_numpy()[aged] < closed[aged]).all()
    # a lead closed before the first age keeps its one snapshot at the close time, whose features
    # see only events strictly before it (as without sampling)
    assert (kept["as_of"].to_numpy()[~aged] == closed[~aged]).all()


def test_sampling_is_seeded_and_independent_of_row_order():
    leads, _ = history()
    snaps = snapshot_times(leads, AGES)
    a = sample_snapshots(snaps, 3, seed=42)
    b = sample_snapshots(snaps, 3, seed=42)
    pd.testing.assert_frame_equal(a, b)
    shuffled = sample_snapshots(snaps.sample(frac=1, random_state=3), 3, seed=42)
    key = ["lead_id", "age"]
    pair = lambda df: set(map(tuple, df[key].fillna(-1).to_numpy().tolist()))  # noqa: E731
    assert pair(shuffled) == pair(a)
    # a lead's choice does not depend on the other leads in the file
    some = snaps[snaps["lead_id"].isin(snaps["lead_id"].unique()[:50])]
    assert pair(sample_snapshots(some, 3, seed=42)) <= pair(a)
    assert pair(sample_snapshots(snaps, 3, seed=7)) != pair(a)


def test_sampling_keeps_everything_a_lead_has_when_it_has_few():
    leads, _ = history()
    snaps = snapshot_times(leads, AGES)
    pd.testing.assert_frame_equal(sample_snapshots(snaps, len(AGES), seed=0), snaps)
    with pytest.raises(ValueError):
        sample_snapshots(snaps, 0, seed=0)


def test_index_positions_match_get_indexer():
    ids = pd.Index(["a", "b", "c"], dtype="str")
    values = pd.Series(["c", "x", None, "a", "a"], dtype="str")
    assert index_positions(ids, values).tolist() == [2, -1, -1, 0, 0]
    # objects and other dtypes take pandas' own path
    assert index_positions(pd.Index([3, 1]), pd.Series([1, 2, 3])).tolist() == [1, -1, 0]
    obj = pd.Series(np.array(["c", "a"], dtype=object), dtype=object)
    assert index_positions(ids, obj).tolist() == [2, 0]
