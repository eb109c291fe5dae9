"""The registered model's aliases and their history: who moved `champion`, when and why.

Whoever moves the alias, the gate or a person, leaves a record: tags on the version and a history
on the registered model, so `leadscore rollback` knows where to go back to.
"""

from __future__ import annotations

import getpass
import json
import os

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.errors import RegistryError
from pipeline.tracking.store import MODEL_NAME

PREVIOUS = "previous-champion"
HISTORY_TAG = "champion_history"
HISTORY_KEEP = 25


def actor() -> str:
    """Who moves the alias: $LEADSCORE_USER, $USER, or the login name."""
    for k in ("LEADSCORE_USER", "USER", "USERNAME"):
        if os.environ.get(k):
            return os.environ[k]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def champion_history(client: object, model_name: str) -> list[dict]:
    try:
        tags = client.get_registered_model(model_name).tags
    except Exception:  # noqa: BLE001 - no model yet means no history
        return []
    try:
        return json.loads(tags.get(HISTORY_TAG, "[]"))
    except json.JSONDecodeError:
        return []


def move_champion(
    client: object, model_name: str, version: str, reason: str, by: str | None = None
) -> str | None:
    """Point `champion` at `version`, remember the previous one, and record who and when.

    Returns the previous champion version (None if there was none).
    """
    by = by or actor()
    try:
        prev = str(client.get_model_version_by_alias(model_name, "champion").version)
    except Exception:  # noqa: BLE001 - MlflowException when the alias is unset
        prev = None
    if prev and prev != version:
        client.set_registered_model_alias(model_name, PREVIOUS, prev)
    client.set_registered_model_alias(model_name, "champion", version)
    at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    for k, v in {"champion_since": at, "promoted_by": by, "promotion_reason": reason}.items():
        client.set_model_version_tag(model_name, version, k, v[:4000])
    if prev and prev != version:
        client.set_model_version_tag(model_name, prev, "champion_until", at)
    hist = champion_history(client, model_name)
    hist.append({"at": at, "by": by, "from": prev, "to": version, "reason": reason[:300]})
    client.set_registered_model_tag(model_name, HISTORY_TAG, json.dumps(hist[-HISTORY_KEEP:]))
    return prev


def get_alias_version(client: MlflowClient, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def set_alias(client: MlflowClient, alias: str, version: str) -> None:
    client.set_registered_model_alias(MODEL_NAME, alias, version)


def require_version(client: MlflowClient, version: str) -> None:
    """A registered version that exists, or a RegistryError that says where to look."""
    try:
        client.get_model_version(MODEL_NAME, version)
    except MlflowException:
        raise RegistryError(f"version {version} of {MODEL_NAME} not found; see 'make ui'") from None
