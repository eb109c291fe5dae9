"""Change reasons against hand-made parts: the packed cell round-trips, a new model with the same
data reads as the model, moved fields read in reason words, a second field only when it moved."""

import numpy as np
import pandas as pd

from pipeline.explain import changes
from pipeline.features.builder import ACTIVITY_FIELD
from tests.features.test_builder import builder, events_frame, leads_frame

FIELDS = ["demo_request", "web_visit", ACTIVITY_FIELD, "industry"]
T0, T1 = pd.Timestamp("2026-01-25"), pd.Timestamp("2026-02-06")  # 12 days apart


def features(at: pd.Timestamp) -> pd.DataFrame:
    return builder().transform(leads_frame(), events_frame(), np.full(2, at.to_datetime64()))


def ctx(version: str = "2") -> changes.Context:
    return changes.Context(FIELDS, {"demo_request", "web_visit"}, True, version, {})


def packed(X: pd.DataFrame, at: pd.Timestamp, fc: np.ndarray) -> changes.Earlier:
    cells = changes.encode(changes.fields_fingerprint(FIELDS), at, changes.data_hash(X), fc)
    assert all(isinstance(c, str) and c[:1] not in "=+-@\t\r" for c in cells)
    return changes.decode(cells, len(FIELDS))


def test_packed_parts_round_trip():
    X = features(T0)
    fc = np.array([[0.4123, -1.5, 0.0, 2.25], [-0.001, 0.0, 30.0, -0.5]])
    # a fingerprint whose first byte is 0xfb: standard base64 would start the cell with '+'
    assert changes.encode(0xFB, T0, np.zeros(1, np.uint64), fc[:1])[0][0] == "."
    e = packed(X, T0, fc)
    assert e.ok.all() and np.allclose(e.fc, fc, atol=changes.STEP / 2)
    assert (e.as_of_s == T0.value // 10**9).all()
    assert not changes.decode(pd.Series(["garbage", None]), len(FIELDS)).ok.any()


def test_same_data_new_model_reads_as_the_model():
    X = features(T0)
    fc = np.zeros((2, len(FIELDS)))
    old = packed(X, T0, fc + 0.3)
    said = changes.change_reasons(ctx("3"), X, fc, T0, old, np.array(["2", "2"]), np.array([7, 0]))
    assert said.tolist() == ["new model version 3 (was 2)"] * 2


def test_moved_fields_in_reason_words():
    # lead A: a demo request on 01-28 (after T0), so its part rose; 12 days passed for B's visits
    before, now = features(T0), features(T1)
    old = packed(before, T0, np.zeros((2, len(FIELDS))))
    fc = np.array([[0.8, 0.0, 0.1, 0.0], [0.0, -0.3, -0.25, 0.0]])
    said = changes.change_reasons(ctx(), now, fc, T1, old, np.array(["2", "2"]), np.array([9, -6]))
    assert said[0] == "[+] requested a demo since last scored"  # the second moved < half
    assert said[1] == "[-] visited the website since last scored; [-] was active since last scored"
    # from 01-31 on, nobody did anything: 12 days passed without
    t0, t1 = pd.Timestamp("2026-01-31"), pd.Timestamp("2026-02-12")
    old = packed(features(t0), t0, np.zeros((2, len(FIELDS))))
    said = changes.change_reasons(ctx(), features(t1), fc, t1, old, np.array(["2", "2"]), [9, -6])
    assert said[1] == "[-] 12 more days without a website visit; [-] 12 more days without activity"
    quiet = changes.change_reasons(ctx(), now, fc, T1, old, np.array(["2", "2"]), np.zeros(2))
    assert quiet.tolist() == [None, None]  # same model, score unmoved: nothing to explain
