"""Training with `training.engine: dask`: the booster fit by `lightgbm.dask` on a cluster, every
other step of `train` on rows gathered back, bounded whatever the data size.

The export is read partitioned (`pipeline.training.partitions`: the events by the workers, never
here). The leads are cut into partitions by a hash of the lead id, each with its own events, so a
lead's snapshots and features are built on one worker by the same code as the local engine
(`pipeline.modeling.prepare.lead_snapshots` and `snapshot_rows`, `FeatureBuilder`): a snapshot
depends only on its lead and its events. What must be learned from all fit leads (the activity
types, the categories the booster keeps) is counted per partition and summed here.

`lightgbm.dask` has no early stopping (LightGBM issue #3835), so the number of rounds is chosen
here first: the same booster recipe early-stopped on the gathered fit sample against the gathered
validation rows; the cluster then fits that many rounds on every fit row. The fitted booster is
brought back (`to_local`) into the same pipeline the local engine builds, so the registered
artifact, `score`, REST and Spark do not know which engine trained it.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from distributed import Client, Future, wait
from sklearn.pipeline import Pipeline

from pipeline.config import Config
from pipeline.features.builder import FeatureBuilder, type_counts
from pipeline.modeling.booster import CategoryEncoder
from pipeline.modeling.candidates import (
    LIGHTGBM,
    LGBMConversionClassifier,
    booster_params,
    fit_lightgbm_candidate,
)
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import (
    TrainingRows,
    at_scale,
    feature_builder,
    lead_snapshots,
    snapshot_rows,
    split_for_training,
)
from pipeline.modeling.split import Split
from pipeline.training.cluster import driver_peak_mb, worker_peak_mb
from pipeline.training.leadparts import NARROW
from pipeline.training.partitions import ClusterExport, partition_of
from pipeline.training.train import TrainResult, require_outcomes, train

SLICES = ("fit", "val", "test")


@dataclass
class Partitions:
    """The futures of one training's partitions, each (leads, events, split) on a worker."""

    parts: list[Future]
    builder: FeatureBuilder
    by_time: bool
    split: Split  # its kind and the labelled leads left out, as the local engine records them


def train_dask(
    cfg: Config,
    leads: pd.DataFrame,
    export: ClusterExport,
    oracle: pd.DataFrame | None = None,
    pool: Executor | None = None,
    meta: dict | None = None,
) -> TrainResult:
    """`train` with the booster fit on the Dask cluster the export was read on
    (`partitions.cluster_export`: the events stay on its workers); the result says which
    cluster, how many partitions and rounds, and this process's peak memory."""
    require_outcomes(leads)
    rows, booster, info = fit_on_cluster(export.client, cfg, leads, export)
    prefit = {LIGHTGBM: booster} if booster is not None else None
    result = train(cfg, leads, export.facts, oracle, pool, meta, rows=rows, prefit=prefit)
    info["dask_driver_peak_mb"] = round(driver_peak_mb(), 1)
    result.info.update(info)
    for k in ("dask_rounds", "dask_worker_peak_mb", "dask_driver_peak_mb"):
        result.metrics[k] = float(info[k])
    return result


def fit_on_cluster(
    client: Client, cfg: Config, leads: pd.DataFrame, export: ClusterExport
) -> tuple[TrainingRows, Pipeline | None, dict]:
    """Partitions -> rows per partition -> gathered rows and, when it is a candidate, the
    booster fit on every fit row of the cluster."""
    facts = export.cluster
    plan = split_partitions(client, cfg, leads, export)
    counts = client.gather(
        [client.submit(_snapshot_counts, cfg, plan.builder, p) for p in plan.parts]
    )
    candidates, fit_candidates = sum(c[0] for c in counts), sum(c[1] for c in counts)
    big = at_scale(cfg, candidates)
    parts = [client.submit(_rows, cfg, plan.builder, p, big) for p in plan.parts]
    rows = gather_rows(client, cfg, parts, plan, big)
    rows.candidate_snapshots, rows.fit_candidates = candidates, fit_candidates
    rows.censored_snapshots = sum(c[2] for c in counts)
    booster, rounds, fit_rows = None, 0, int(sum(client.gather(client.map(_fit_count, parts))))
    if LIGHTGBM in cfg.training.candidates:
        booster, rounds = fit_booster_on_cluster(client, cfg, rows, parts)
    info = {
        "engine": "dask",
        "dask_scheduler": facts.scheduler,
        "dask_workers": facts.workers,
        "dask_threads_per_worker": facts.threads_per_worker,
        "dask_memory_limit_mb": round(facts.memory_limit_mb, 1),
        "dask_partitions": len(parts),
        "dask_event_blocks": export.blocks,
        "dask_lead_blocks": export.lead_blocks,
        "dask_rounds": rounds,
        "dask_rounds_from": "early stopping on the gathered fit rows against the validation rows",
        "dask_fit_rows": fit_rows,
        "dask_gathered_rows": len(rows.snaps),
        "dask_worker_peak_mb": round(worker_peak_mb(client), 1),
    }
    return rows, booster, info


def split_partitions(
    client: Client, cfg: Config, leads: pd.DataFrame, export: ClusterExport
) -> Partitions:
    """The split decided here, on the narrow leads (the events' facts give the export date), and
    sent to each partition with its leads' labels and dates, beside its leads and events; the
    feature builder's vocabulary decided once for all partitions from counts made on the
    workers."""
    leads, s, when = split_for_training(cfg, leads, export.facts)
    split, by_time = s.assignment, s.kind == "time"
    n_parts = len(export.parts)
    lead_part = partition_of(leads.index.to_numpy(), n_parts)
    parts = []
    for k in range(n_parts):
        lp = leads.loc[lead_part == k, NARROW]
        mine = client.scatter((lp, split[split.index.isin(lp.index)]), workers=[export.host(k)])
        ours = (mine, export.leads[k], export.parts[k], when)
        parts.append(client.submit(_training_part, *ours, workers=[export.host(k)]))
    fit_leads = leads.loc[split.index[split == "fit"]]
    per_part = client.gather([client.submit(_fit_type_counts, p) for p in parts])
    email = any(client.gather([client.submit(_fit_has_email, p) for p in parts]))
    builder = feature_builder(cfg, fit_leads, email).fit_counts(
        pd.concat(per_part).groupby(level=0).sum(),
        bool(fit_leads["_created_at"].notna().any()),
    )
    return Partitions(parts, builder, by_time, s)


def _training_part(
    mine: tuple, part_leads: pd.DataFrame, read: tuple, when: np.datetime64 | None
) -> tuple:
    """(leads, events, split, export date) of one partition: its leads and events were read
    here; the leads training uses, with the labels and dates this process decided."""
    narrow, split = mine
    leads = part_leads.loc[narrow.index].drop(columns=["_row", "_outcome"], errors="ignore")
    leads[NARROW] = narrow[NARROW]
    return leads, read[0], split, when


def _fit_type_counts(part: tuple) -> pd.Series:
    leads, events, split, _ = part
    return type_counts(leads.loc[split.index[split == "fit"]], events)


def _fit_has_email(part: tuple) -> bool:
    leads, _, split, _ = part
    return bool(leads.loc[split.index[split == "fit"], "_email"].notna().any())


def _snapshot_counts(cfg: Config, builder: FeatureBuilder, part: tuple) -> tuple[int, int, int]:
    leads, _, split, export = part
    snaps, censored = lead_snapshots(cfg, builder, leads, split, export)
    return len(snaps), int((snaps["split"] == "fit").sum()), censored


def _rows(cfg: Config, builder: FeatureBuilder, part: tuple, big: bool) -> tuple:
    """(snaps, X, y, one_per_lead) of one partition: the local engine's code, on its leads."""
    leads, events, split, export = part
    snaps, _ = lead_snapshots(cfg, builder, leads, split, export)
    return snapshot_rows(cfg, builder, leads, events, snaps, big)


def _fit_count(part: tuple) -> int:
    return int((part[0]["split"] == "fit").sum())


def gather_rows(
    client: Client, cfg: Config, parts: list[Future], plan: Partitions, big: bool
) -> TrainingRows:
    """Rows of at most `training.dask.gather_rows` snapshots per slice brought here: whole leads
    (every snapshot of a kept lead, so each keeps its one evaluation row), chosen by a hash of
    the lead id, the same leads whatever the partitioning."""
    sizes = client.gather([client.submit(_slice_sizes, p) for p in parts])
    total = {s: sum(z[s] for z in sizes) for s in SLICES}
    cap = cfg.training.dask.gather_rows
    share = {s: min(1.0, cap / total[s]) if total[s] else 1.0 for s in SLICES}
    picked = client.gather([client.submit(_sample, p, share, cfg.training.seed) for p in parts])
    snaps = pd.concat([p[0] for p in picked], ignore_index=True)
    X = pd.concat([p[1] for p in picked], ignore_index=True)
    y = np.concatenate([p[2] for p in picked])
    one = np.concatenate([p[3] for p in picked])
    rows = TrainingRows(plan.builder, snaps, X, y, one, plan.by_time, big)
    rows.split_kind, rows.left_out = plan.split.kind, plan.split.left_out
    return rows


def _slice_sizes(part: tuple) -> dict[str, int]:
    counts = part[0]["split"].value_counts()
    return {s: int(counts.get(s, 0)) for s in SLICES}


def _sample(part: tuple, share: dict[str, float], seed: int) -> tuple:
    snaps, X, y, one = part
    ids = snaps["lead_id"].astype("string").fillna("")
    key = pd.util.hash_pandas_object(ids, index=False, hash_key=f"gather{seed:010d}"[-16:])
    u = key.to_numpy() / float(2**64)
    keep = u < snaps["split"].map(share).to_numpy(float)
    return snaps[keep].reset_index(drop=True), X[keep].reset_index(drop=True), y[keep], one[keep]


def fit_booster_on_cluster(
    client: Client, cfg: Config, rows: TrainingRows, parts: list[Future]
) -> tuple[Pipeline, int]:
    """The rounds from early stopping on the gathered rows, then `lightgbm.dask` with that many
    rounds on every fit row; the booster comes back inside the local engine's pipeline."""
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMClassifier

    tc = cfg.training
    quiet_lightgbm()
    client.run(quiet_lightgbm)
    probe = fit_lightgbm_candidate(cfg, rows)
    rounds = int(
        probe.named_steps["lgbm"].best_iteration_ or probe.named_steps["lgbm"].n_estimators
    )
    enc = CategoryEncoder(rows.builder.categorical, tc.min_category_count)
    enc.fit(rows.X[rows.part("fit")])
    counts = client.gather([client.submit(_category_counts, enc, p) for p in parts])
    enc.categories_ = enc.kept_categories(
        {c: pd.concat([k[c] for k in counts]).groupby(level=0).sum() for c in enc.categories_}
    )
    fit_parts = [client.submit(_encoded_fit, enc, p) for p in parts]
    wait(fit_parts)
    fit_parts = [
        f
        for f, n in zip(fit_parts, client.gather(client.map(_length, fit_parts)), strict=True)
        if n
    ]
    meta = enc.transform(rows.X.iloc[:0])
    X = dd.from_delayed([client.submit(_first, f) for f in fit_parts], meta=meta, verify_meta=False)
    y = dd.from_delayed(
        [client.submit(_second, f) for f in fit_parts], meta=pd.Series([], dtype=int, name="y")
    )
    params = size_aware(tc.lightgbm, rows.size_rows)
    kwargs = {**booster_params(params, tc.seed, 1), "n_estimators": rounds}
    kwargs.pop("n_jobs")  # lightgbm.dask takes each worker's own thread count
    model = DaskLGBMClassifier(client=client, time_out=2, **kwargs).fit(X, y)
    return Pipeline([("encode", enc), ("lgbm", local_classifier(model, rounds))]), rounds


def quiet_lightgbm() -> None:
    """LightGBM's messages through a logger that shows errors only: its network set-up prints
    port and rank lines on every worker whatever `verbose` says, and `lightgbm.dask` warns on
    every fit that it ignores `n_jobs` (it takes each worker's threads)."""
    log = logging.getLogger("lightgbm")
    log.setLevel(logging.ERROR)
    lgb.register_logger(log)


def local_classifier(model: object, rounds: int) -> LGBMConversionClassifier:
    """The cluster's booster as the local engine's classifier class (its thread gate), with
    `best_iteration_` saying how many rounds it has, as an early-stopped one would."""
    local = model.to_local()
    clf = LGBMConversionClassifier.__new__(LGBMConversionClassifier)
    clf.__dict__.update(local.__dict__)
    clf._best_iteration = rounds
    return clf


def _category_counts(enc: CategoryEncoder, part: tuple) -> dict[str, pd.Series]:
    snaps, X, _, _ = part
    return enc.value_counts(X[(snaps["split"] == "fit").to_numpy()])


def _encoded_fit(enc: CategoryEncoder, part: tuple) -> tuple[pd.DataFrame, pd.Series]:
    snaps, X, y, _ = part
    m = (snaps["split"] == "fit").to_numpy()
    Xe = enc.transform(X[m]).reset_index(drop=True)
    return Xe, pd.Series(y[m], name="y")


def _length(part: tuple) -> int:
    return len(part[1])


def _first(pair: tuple) -> pd.DataFrame:
    return pair[0]


def _second(pair: tuple) -> pd.Series:
    return pair[1]
