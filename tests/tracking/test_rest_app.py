"""The REST guard's reading of a request body and of MLflow's error answers, without a server
(tests/serving/test_serving.py runs `leadscore serve` for real)."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import DataError
from pipeline.tracking.rest_app import MAX_DEPTH, error_line, read_request

MARKER = "zq-marker-7731"
TYPES = {"as_of": "string", "explain": "boolean", "n_reasons": "long", "on_error": "string"}
GOOD = {"dataframe_split": {"columns": ["lead_id"], "data": [[MARKER]]}, "params": {}}


def refused(body: bytes) -> str:
    with pytest.raises(DataError) as e:
        read_request(body, TYPES)
    message = str(e.value)
    assert "\n" not in message and MARKER not in message
    return message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (json.dumps(GOOD).encode()[:-4], "request body: not valid JSON (Expecting"),
        (b"\xff" + json.dumps(GOOD).encode(), "request body: not UTF-8 text"),
        (("[" * 10_000 + json.dumps(MARKER) + "]" * 10_000).encode(), "nested deeper than 32"),
        (("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode(), "nested deeper than 32"),
        (json.dumps([GOOD]).encode(), "a JSON object is expected, not a list"),
        (json.dumps({"dataframe_records": [], **GOOD}).encode(), "exactly one of"),
        (json.dumps({**GOOD, "params": [MARKER]}).encode(), "params: a JSON object is expected"),
        (json.dumps({**GOOD, "params": {"n_reasons": MARKER}}).encode(), "params.n_reasons: an"),
        (json.dumps({**GOOD, "params": {"n_reasons": True}}).encode(), "an integer is expected"),
        (json.dumps({**GOOD, "params": {"explain": MARKER}}).encode(), "true or false"),
        (json.dumps({**GOOD, "params": {"as_of": [MARKER]}}).encode(), "a string is expected"),
        (json.dumps({**GOOD, "params": {"as_off": "x"}}).encode(), "params.as_off: unknown para"),
    ],
)
def test_a_bad_body_is_one_line_naming_the_problem_never_the_values(body, words):
    assert words in refused(body)


def test_a_good_body_passes_with_its_params():
    body = {**GOOD, "params": {"as_of": "2026-11-01", "explain": True, "n_reasons": 2}}
    assert read_request(json.dumps(body).encode(), TYPES) == body
    deep_enough = {
        "dataframe_records": [{"activities": [{"type": "x"}]}],
        "params": {"n_reasons": 1},
    }
    assert read_request(json.dumps(deep_enough).encode(), TYPES) == deep_enough


def test_mlflows_error_answer_loses_the_frame_the_trace_and_the_values_sent():
    sent = {"dataframe_records": [{"lead_id": MARKER, "employees": "many-" + MARKER}]}
    prefixed = {
        "error_code": "BAD_REQUEST",
        "message": f"Failed to predict data '   lead_id\n0  {MARKER}'. \nError: Failed to enforce "
        f"schema of data '{MARKER}' with schema 'x'. Error: Incompatible input types for column "
        "employees. Can not safely convert str to float64.",
        "stack_trace": "Traceback (most recent call last): ...",
    }
    line = error_line(json.dumps(prefixed).encode(), sent)
    assert (
        line
        == "Incompatible input types for column employees. Can not safely convert str to float64."
    )
    echo = {"message": f"Invalid input. could not convert string to float: 'many-{MARKER}'"}
    assert error_line(json.dumps(echo).encode(), sent) == (
        "Invalid input. could not convert string to float: '...'"
    )
    assert error_line(b"Internal Server Error\n", None) == "Internal Server Error"


def test_the_models_own_error_keeps_its_words():
    own = {"message": "record 1 (0-based): created_at: date outside 1970-2200 '9999-01-01'"}
    sent = {"dataframe_records": [{"created_at": "9999-01-01"}]}
    assert error_line(json.dumps({**own, "source": "model"}).encode(), sent) == own["message"]
    assert "9999-01-01" not in error_line(json.dumps(own).encode(), sent)  # not the model's
