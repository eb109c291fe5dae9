"""What a kill -9 leaves behind, repaired at the next start of `train`, `promote` or `rollback`.

A killed process cannot close its MLflow run or finish its gate, so each run records who runs it
(host and pid, `process_tags`), and the next start looks for:
- runs still RUNNING whose process is gone (same host: the pid no longer exists; another host or
  no pid recorded: older than `STALE_HOURS`) -> FAILED, with the reason as a tag;
- versions whose gate never decided (`gate_reason` missing or still pending) and whose run is no
  longer running -> `gate_reason` says so; such a version is never promoted by the repair;
- a history entry written just before a kill that stopped the alias moving -> marked, and a
  `previous-champion` that disagrees with the history (equal to `champion`, or stale after a kill
  between the two alias writes) -> pointed where the history says.
A live concurrent training is left alone: its pid exists, and its version's run is RUNNING.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.tracking import registry
from pipeline.tracking.store import CHAMPION, EXPERIMENT, MODEL_NAME

log = logging.getLogger(__name__)
STALE_HOURS = 24.0
PID_TAG, HOST_TAG = "leadscore.pid", "leadscore.host"
INTERRUPTED = "interrupted: the training stopped before the gate decided; not promoted"


def process_tags() -> dict[str, str]:
    """Tags that let a later start tell a live run from one whose process was killed."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def repair_interrupted(client: MlflowClient) -> list[str]:
    """Close what killed processes left open; returns one line per repair (also logged)."""
    notes = _fail_dead_runs(client) + _mark_undecided_versions(client) + _repair_aliases(client)
    for n in notes:
        log.warning("%s", n)
    return notes


def _alive(tags: dict[str, str], start_ms: int) -> bool:
    pid, host = tags.get(PID_TAG), tags.get(HOST_TAG)
    if pid and pid.isdigit() and host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return (time.time() - start_ms / 1000) < STALE_HOURS * 3600


def _fail_dead_runs(client: MlflowClient) -> list[str]:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return []
    found = client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
    notes = []
    for r in found:
        if _alive(r.data.tags, r.info.start_time or 0):
            continue
        client.set_tag(r.info.run_id, "failed_reason", "interrupted: its process is gone")
        client.set_terminated(r.info.run_id, "FAILED")
        notes.append(f"run {r.info.run_id} ({r.info.run_name}) was left RUNNING: marked FAILED")
    return notes


def _mark_undecided_versions(client: MlflowClient) -> list[str]:
    try:
        versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    except MlflowException:
        return []
    notes = []
    for v in versions:
        reason = (v.tags or {}).get("gate_reason", "")
        if reason and not reason.startswith("pending"):
            continue
        run_id = v.run_id or (v.tags or {}).get("run_id")
        try:
            if run_id and client.get_run(run_id).info.status == "RUNNING":
                continue  # a live training is deciding right now
        except MlflowException:
            pass
        client.set_model_version_tag(MODEL_NAME, v.version, "gate_reason", INTERRUPTED)
        notes.append(f"version {v.version} had no gate decision: marked '{INTERRUPTED}'")
    return notes


def _repair_aliases(client: MlflowClient) -> list[str]:
    notes = []
    cur = registry.get_alias_version(client, CHAMPION)
    hist = registry.champion_history(client, MODEL_NAME)
    if hist and hist[-1].get("to") != cur and not hist[-1].get("interrupted"):
        hist[-1]["interrupted"] = True  # recorded, then killed before the alias moved
        client.set_registered_model_tag(MODEL_NAME, registry.HISTORY_TAG, json.dumps(hist))
        notes.append(f"champion history: the move to {hist[-1]['to']} never happened: marked")
    prev = registry.get_alias_version(client, registry.PREVIOUS)
    _, target = registry.rollback_target(client)
    if cur is not None and prev != target and (prev == cur or target is not None):
        if target:
            client.set_registered_model_alias(MODEL_NAME, registry.PREVIOUS, target)
        else:
            client.delete_registered_model_alias(MODEL_NAME, registry.PREVIOUS)
        notes.append(f"previous-champion was {prev}, the history says {target or 'none'}: fixed")
    return notes
