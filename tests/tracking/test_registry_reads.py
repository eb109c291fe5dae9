"""Registry reads fail closed: "no model yet" is an empty history, a failed read is a one-line
RegistryError and nothing is written (a guessed empty history would erase the rollback record)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2 as codes

from pipeline.errors import RegistryError
from pipeline.tracking import registry
from pipeline.tracking.store import MODEL_NAME

HISTORY = [
    {"at": "2026-01-01T00:00:00+00:00", "by": "a", "from": None, "to": "1", "reason": "r"},
    {"at": "2026-02-01T00:00:00+00:00", "by": "a", "from": "1", "to": "2", "reason": "r"},
]


class FakeClient:
    """The few registry calls `move_champion` and `rollback_target` make, in memory; `fail`
    names a read that raises `error_code` instead of answering."""

    def __init__(self, tags: dict | None, champion: str | None, fail: str = "", code: int = 0):
        self.tags, self.champion, self.fail, self.code = tags, champion, fail, code
        self.writes: list[tuple] = []

    def _maybe_fail(self, call: str) -> None:
        if self.fail == call:
            raise MlflowException("connection reset by peer", error_code=self.code)

    def get_registered_model(self, name: str):
        self._maybe_fail("get_registered_model")
        if self.tags is None:
            raise MlflowException("not found", error_code=codes.RESOURCE_DOES_NOT_EXIST)
        return SimpleNamespace(tags=self.tags)

    def get_model_version_by_alias(self, name: str, alias: str):
        self._maybe_fail("get_model_version_by_alias")
        version = self.champion if alias == registry.CHAMPION else None
        if version is None:
            raise MlflowException("alias not set", error_code=codes.INVALID_PARAMETER_VALUE)
        return SimpleNamespace(version=version)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self.writes.append(("model_tag", key, value))

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.writes.append(("version_tag", version, key))

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.writes.append(("alias", alias, version))


def test_no_registered_model_yet_is_an_empty_history():
    client = FakeClient(tags=None, champion=None)
    assert registry.champion_history(client, MODEL_NAME) == []
    assert registry.move_champion(client, MODEL_NAME, "1", "first", by="t") is None
    written = json.loads(
        next(w[2] for w in client.writes if w[:2] == ("model_tag", "champion_history"))
    )
    assert [(h["from"], h["to"]) for h in written] == [(None, "1")]


@pytest.mark.parametrize("call", ["get_registered_model", "get_model_version_by_alias"])
def test_a_failed_read_raises_one_line_and_writes_nothing(call):
    tags = {registry.HISTORY_TAG: json.dumps(HISTORY)}
    client = FakeClient(tags, champion="2", fail=call, code=codes.TEMPORARILY_UNAVAILABLE)
    with pytest.raises(RegistryError) as e:
        registry.move_champion(client, MODEL_NAME, "3", "promote", by="t")
    assert client.writes == []
    assert "\n" not in str(e.value) and "connection reset by peer" in str(e.value)


def test_a_history_tag_that_does_not_parse_is_not_overwritten():
    client = FakeClient({registry.HISTORY_TAG: "{not json"}, champion="2")
    with pytest.raises(RegistryError, match="does not parse"):
        registry.move_champion(client, MODEL_NAME, "3", "promote", by="t")
    assert client.writes == []


def test_rollback_walks_back_along_the_history():
    hist = [*HISTORY, {**HISTORY[1], "from": "2", "to": "3"}]
    client = FakeClient({registry.HISTORY_TAG: json.dumps(hist)}, champion="3")
    assert registry.rollback_target(client) == ("3", "2")
    client.champion = "2"
    assert registry.rollback_target(client) == ("2", "1")
