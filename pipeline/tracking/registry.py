"""The registered model's aliases and their history: who moved `champion`, when and why.

Whoever moves the alias, the gate or a person, leaves a record: tags on the version and a history
on the registered model, so `leadscore rollback` knows where to go back to. The record is written
before the alias moves, so a kill at any moment leaves at worst a history entry that did not
happen (marked on the next start), never a move without a record.

The gate's thresholds live here too, as tags of the registered model (`leadscore gate set`): the
registry's policy, which a challenger's config cannot loosen. Moves of `champion` happen under a
lock that holds across processes (`champion_lock`).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import ValidationError

from pipeline.config import GateConfig
from pipeline.errors import RegistryError
from pipeline.tracking.store import CHAMPION, MODEL_NAME, tracking_uri

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


NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
UNSET_ALIAS = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # what stores answer for it


def read_failed(what: str, err: MlflowException) -> RegistryError:
    """A registry read that failed for another reason than "not there": one line, and nothing
    that depends on the read may go on (a guess would rewrite the record from nothing)."""
    text = str(err).strip()
    cause = text.splitlines()[0][:300] if text else err.error_code
    return RegistryError(f"{MODEL_NAME}: cannot read {what} from the registry ({cause}); try again")


def champion_history(client: MlflowClient, model_name: str) -> list[dict]:
    """Every recorded move of `champion`, oldest first; empty only when no model is registered
    yet or none was ever recorded. A read that fails, or a record that does not parse, raises a
    RegistryError: `move_champion` rewrites the history from this list, so guessing "empty"
    would erase the rollback record."""
    try:
        tags = client.get_registered_model(model_name).tags or {}
    except MlflowException as e:
        if e.error_code == NOT_FOUND:
            return []
        raise read_failed("the champion history", e) from None
    try:
        hist = json.loads(tags.get(HISTORY_TAG, "[]"))
    except json.JSONDecodeError:
        hist = None
    if not isinstance(hist, list):
        raise RegistryError(
            f"{model_name}: the registered model's tag {HISTORY_TAG} does not parse; restore or "
            "delete it in the MLflow UI ('make ui'), then try again"
        )
    return hist


def move_champion(
    client: object,
    model_name: str,
    version: str,
    reason: str,
    by: str | None = None,
    rollback: bool = False,
) -> str | None:
    """Point `champion` at `version`, remember the previous one, and record who and when.

    Order matters for a kill at any moment: the history entry and the version's tags first, then
    the alias, then `previous-champion`. Returns the previous champion version (None if none).
    """
    by = by or actor()
    prev = get_alias_version(client, CHAMPION, model_name)
    at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    hist = champion_history(client, model_name)
    entry = {"at": at, "by": by, "from": prev, "to": version, "reason": reason[:300]}
    hist.append(entry | ({"rollback": True} if rollback else {}))
    client.set_registered_model_tag(model_name, HISTORY_TAG, json.dumps(hist[-HISTORY_KEEP:]))
    for k, v in {"champion_since": at, "promoted_by": by, "promotion_reason": reason}.items():
        client.set_model_version_tag(model_name, version, k, v[:4000])
    client.set_registered_model_alias(model_name, CHAMPION, version)
    if prev and prev != version:
        client.set_registered_model_alias(model_name, PREVIOUS, prev)
        client.set_model_version_tag(model_name, prev, "champion_until", at)
    return prev


def rollback_target(client: MlflowClient) -> tuple[str | None, str | None]:
    """(current champion, the version before it on the champion stack), never the same two.

    The history is the record; `previous-champion` is its shortcut and may be stale after a kill
    between the two writes, so it is only the fallback when the history does not end at the
    current champion anywhere (an alias moved by hand in the MLflow UI)."""
    cur = get_alias_version(client, CHAMPION)
    stack = champion_stack(champion_history(client, MODEL_NAME))
    if cur in stack:  # normally the top; lower down when the alias was moved without a record
        at = len(stack) - 1 - stack[::-1].index(cur)
        return cur, (stack[at - 1] if at > 0 else None)
    prev = get_alias_version(client, PREVIOUS)
    return cur, (prev if prev != cur else None)


ROLLBACK_REASON = "leadscore rollback"


def champion_stack(history: list[dict]) -> list[str]:
    """The champions still to go back to, oldest first, the current one last.

    A promotion puts its version on top; a rollback takes the top off. So rolling back walks back
    along the promotions (3 -> 2 -> 1) and never returns to the version just rolled back from,
    which the previous entry's `from` alone would (3 -> 2 -> 3)."""
    stack: list[str] = []
    for h in history:
        to, was = h.get("to"), h.get("from")
        if to is None or h.get("interrupted"):  # a move a kill stopped never happened
            continue
        if h.get("rollback") or str(h.get("reason", "")).startswith(ROLLBACK_REASON):
            while stack and stack[-1] != str(to):
                stack.pop()  # the version rolled back from (and anything moved by hand)
            stack = stack or [str(to)]
            continue
        if not stack and was:
            stack.append(str(was))
        if not stack or stack[-1] != str(to):
            stack.append(str(to))
    return stack


def get_alias_version(client: MlflowClient, alias: str, model_name: str = MODEL_NAME) -> str | None:
    """The version `alias` points at; None when it is unset (or no model is registered). Any
    other failure raises: "no champion" read from a failed call would let anything pass."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as e:
        if e.error_code in UNSET_ALIAS:
            return None
        raise read_failed(f"the alias {alias}", e) from None


def set_alias(client: MlflowClient, alias: str, version: str) -> None:
    client.set_registered_model_alias(MODEL_NAME, alias, version)


def require_version(client: MlflowClient, version: str) -> None:
    """A registered version that exists, or a RegistryError that says where to look."""
    try:
        client.get_model_version(MODEL_NAME, version)
    except MlflowException:
        raise RegistryError(f"version {version} of {MODEL_NAME} not found; see 'make ui'") from None


POLICY_TAGS = {k: f"gate_{k}" for k in GateConfig.model_fields}
DEFAULT_POLICY = GateConfig()  # today's thresholds, until `leadscore gate set` stores others


def gate_policy(client: MlflowClient) -> GateConfig:
    """The gate's thresholds as the registered model stores them; today's defaults if unset.

    A tag that does not parse fails closed: a corrupt policy must not turn into a lax one.
    """
    try:
        tags = client.get_registered_model(MODEL_NAME).tags or {}
    except MlflowException as e:
        if e.error_code == NOT_FOUND:
            return DEFAULT_POLICY
        raise read_failed("the gate thresholds", e) from None
    values = {k: tags[t] for k, t in POLICY_TAGS.items() if t in tags}
    try:
        return GateConfig.model_validate({**DEFAULT_POLICY.model_dump(), **values})
    except ValidationError:
        raise RegistryError(
            f"{MODEL_NAME}: the gate thresholds stored in the registry do not parse ({values}); "
            "set them again with 'leadscore gate set'"
        ) from None


def set_gate_policy(client: MlflowClient, changes: dict[str, float | int]) -> GateConfig:
    """Store new thresholds on the registered model (created if needed); returns the policy."""
    merged = {**gate_policy(client).model_dump(), **changes}
    try:
        policy = GateConfig.model_validate(merged)
    except ValidationError as e:
        err = e.errors()[0]
        opt = "--" + str(err["loc"][0]).replace("_", "-")
        raise RegistryError(f"gate set: {opt} {err['input']}: {err['msg']}") from None
    try:
        client.get_registered_model(MODEL_NAME)
    except MlflowException as e:
        if e.error_code != NOT_FOUND:
            raise read_failed("the registered model", e) from None
        client.create_registered_model(MODEL_NAME)
    for k, tag in POLICY_TAGS.items():
        client.set_registered_model_tag(MODEL_NAME, tag, str(getattr(policy, k)))
    at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    client.set_registered_model_tag(MODEL_NAME, "gate_set_by", f"{actor()} at {at}")
    return policy


LEASE_TAG = "champion_lease"
LOCK_WAIT_S = 600.0
LEASE_S = 900.0


@contextlib.contextmanager
def champion_lock(client: MlflowClient, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Only one process compares and moves `champion` at a time.

    A local store (sqlite or a folder) gets an flock on a file beside it, released by the kernel
    when the process dies. A remote tracking server gets a lease: a registered-model tag naming
    the holder and its expiry, read back after writing (best effort; the server has no
    compare-and-set, so two writers within the read-back pause could both believe they won).
    """
    path = _lock_path()
    if path is None:
        with _lease(client, wait_s):
            yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RegistryError(
                        f"{path}: another process has held the champion lock for {wait_s:.0f}s; "
                        "wait for its 'train', 'promote' or 'rollback' to finish"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _lock_path() -> Path | None:
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///") + ".champion.lock")
    if uri.startswith("file:") or "://" not in uri:
        return Path(uri.removeprefix("file://").removeprefix("file:")) / ".champion.lock"
    return None


def _lease_expired(holder: str) -> bool:
    """No holder, a lapsed expiry, or a tag that does not parse (nobody can be holding that)."""
    try:
        return not holder or float(holder.rsplit("|", 1)[-1]) < time.time()
    except ValueError:
        return True


@contextlib.contextmanager
def _lease(client: MlflowClient, wait_s: float) -> Iterator[None]:
    me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait_s
    while True:
        holder = (client.get_registered_model(MODEL_NAME).tags or {}).get(LEASE_TAG, "")
        if _lease_expired(holder):
            client.set_registered_model_tag(MODEL_NAME, LEASE_TAG, f"{me}|{time.time() + LEASE_S}")
            time.sleep(1.0)
            held = client.get_registered_model(MODEL_NAME).tags.get(LEASE_TAG, "")
            if held.startswith(me + "|"):
                break
        if time.monotonic() > deadline:
            raise RegistryError(f"{MODEL_NAME}: champion lease held by {holder}; try again later")
        time.sleep(1.0)
    try:
        yield
    finally:
        with contextlib.suppress(MlflowException):
            client.delete_registered_model_tag(MODEL_NAME, LEASE_TAG)
