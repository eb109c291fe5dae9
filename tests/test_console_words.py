"""What `train` and `explain` print about segments: which serve their own model, and which model
scored a lead."""

import pandas as pd

from pipeline.console import segment_line, segment_words


def test_train_printout_names_the_segments_that_serve():
    assert segment_line({}) is None  # segments off: no line
    none = segment_line(
        {"segments_column": "region", "segments_own": [], "segments_pooled": ["EU"]}
    )
    assert none == (
        "segments (region): none beat the pooled model; the pooled model scores every lead "
        "(model_segment: pooled)"
    )
    some = segment_line({"segments_column": "region", "segments_own": ["EMEA", "APAC"]})
    assert (
        some
        == "segments (region): own model for EMEA, APAC; the pooled model scores every other lead"
    )


def test_explain_says_which_model_scored_the_lead():
    assert segment_words(pd.Series({"score": 3})) == ""
    assert segment_words(pd.Series({"model_segment": "pooled"})) == ", scored by the pooled model"
    assert segment_words(pd.Series({"model_segment": "EMEA"})) == ", scored by segment EMEA's model"
