"""The Dask cluster the `dask` training engine runs on: joined at an address, or started here.

Every way the cluster can fail (a scheduler that does not answer, a worker killed or past its
memory limit, LightGBM's sockets between workers) ends in one `ClusterError` line, raised inside
the training run, so the run is FAILED and no alias moves (`pipeline.jobs.train_and_register`).
"""

from __future__ import annotations

import logging
import os
import resource
from collections.abc import Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass

import dask
from distributed import Client, KilledWorker, LocalCluster
from distributed.comm.core import CommClosedError
from lightgbm.basic import LightGBMError

from pipeline.config import DaskConfig
from pipeline.errors import ClusterError

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


@dataclass(frozen=True)
class ClusterFacts:
    """What the run records about the cluster it trained on."""

    scheduler: str  # the address joined, or "local" for a LocalCluster started here
    workers: int
    memory_limit_mb: float  # per worker, the smallest (0: no limit set)
    threads_per_worker: int


def scheduler_address(cfg: DaskConfig, scheduler: str | None = None) -> str | None:
    """`--scheduler`, else `training.dask.scheduler`, else `$DASK_SCHEDULER_ADDRESS`; None
    starts a LocalCluster."""
    return scheduler or cfg.scheduler or os.environ.get(SCHEDULER_ENV) or None


@contextmanager
def dask_client(
    cfg: DaskConfig, scheduler: str | None = None
) -> Iterator[tuple[Client, ClusterFacts]]:
    """A client of the cluster and its facts; a LocalCluster started here is closed on exit.
    Cluster faults inside the block become one `ClusterError` line."""
    address = scheduler_address(cfg, scheduler)
    quiet_dask_logs()
    # a task on a lost worker is not retried elsewhere: LightGBM's workers wait for each other,
    # and a retried part would wait for a network that is gone
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = None if address else start_local_cluster(cfg)
        try:
            client = connect(address or cluster.scheduler_address, cfg.connect_timeout_s)
            with client, cluster_faults(cfg, address):
                yield client, cluster_facts(client, address)
        finally:
            if cluster is not None:
                cluster.close()


def quiet_dask_logs() -> None:
    """Dask's client and scheduler log a lost worker as they retry, through handlers set up on
    import (each logger with its own level): the run's one line says what failed. LEADSCORE_DEBUG
    keeps them."""
    if os.environ.get("LEADSCORE_DEBUG"):
        return
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def start_local_cluster(cfg: DaskConfig) -> LocalCluster:
    """One single-threaded worker process per core (or `training.dask.workers`), each held to
    `training.dask.memory_limit` by its nanny."""
    return LocalCluster(
        n_workers=cfg.workers or len(os.sched_getaffinity(0)),
        threads_per_worker=1,
        processes=True,
        memory_limit=cfg.memory_limit,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )


def connect(address: str, timeout_s: float) -> Client:
    """A client of the scheduler at `address`, or one line when it does not answer."""
    try:
        return Client(address, timeout=timeout_s)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"the Dask scheduler at {address} did not answer within {timeout_s:.0f} s "
            f"({type(e).__name__}): start it, or give another --scheduler / {SCHEDULER_ENV}"
        ) from None


def cluster_facts(client: Client, address: str | None) -> ClusterFacts:
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    if not workers:
        raise ClusterError(f"the Dask cluster at {address} has no workers: start some")
    limits = [float(w.get("memory_limit") or 0) for w in workers]
    return ClusterFacts(
        scheduler=address or "local",
        workers=len(limits),
        memory_limit_mb=min(limits) / 2**20,
        threads_per_worker=min(int(w.get("nthreads") or 1) for w in workers),
    )


@contextmanager
def cluster_faults(cfg: DaskConfig, address: str | None) -> Iterator[None]:
    """A lost worker, a closed connection or LightGBM's network failing: one line."""
    where = address or "the LocalCluster"
    try:
        yield
    except (KilledWorker, CancelledError):  # cancelled: the work lost its worker's data
        raise ClusterError(
            f"a Dask worker of {where} died during training (killed, or past its memory "
            f"limit {cfg.memory_limit}: raise training.dask.memory_limit or add workers)"
        ) from None
    except (CommClosedError, LightGBMError, OSError, TimeoutError) as e:
        text = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ClusterError(
            f"training on {where} failed: a worker was lost or could not be reached ({text}); "
            f"check the workers' memory (training.dask.memory_limit {cfg.memory_limit}) and retry"
        ) from None


def worker_peak_mb(client: Client) -> float:
    """The largest peak resident memory of any worker process so far, in MB."""
    peaks = client.run(_peak_rss_mb)
    return max(peaks.values()) if peaks else 0.0


def driver_peak_mb() -> float:
    """This process's peak resident memory so far, in MB: what the client held (the export's
    leads, the gathered rows, the local steps of `train`), beside the workers' peaks."""
    return _peak_rss_mb()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
