"""The export read by the Dask engine: leads and events by the workers, partitioned by lead id.

Neither file is read here. The workers read the leads file in blocks and send each lead to its
partition by a hash of the lead id (`leadparts.partition_of`); this process gathers only the
narrow frame the checks, the split and the run's facts need (`pipeline.training.leadparts`).
The activities file, ~20 rows per lead, is read the same way: each worker reads blocks of it
(`pipeline.io.blocks`, the local reader's rules), cuts each block by the same hash, and the
pieces of partition k meet on the worker that holds the leads of partition k. There each lead's
events are kept, matched and cleaned by the local engine's rules (`drop_before_created`), and the
numbers the checks and the run report (`EventFacts`, the id match line) are counted and summed
here: a few numbers per partition and one byte per lead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from distributed import Client, Future

from pipeline.config import Config
from pipeline.io.blocks import Block, BlockRead, read_event_block
from pipeline.io.canonical import drop_before_created, empty_events
from pipeline.io.eventfacts import EventFacts, report_event_losses
from pipeline.io.keys import MatchCount, index_positions, present_in
from pipeline.io.readers import refuse_bad_dates
from pipeline.training.cluster import ClusterFacts, dask_client
from pipeline.training.leadparts import decoded_blocks, partition_of, read_leads_on_cluster


@dataclass
class ClusterExport:
    """The export on the cluster: per partition k, (leads, events) on worker `hosts[k % n]`."""

    client: Client
    cluster: ClusterFacts
    parts: list[Future]
    hosts: list[str]
    facts: EventFacts  # summed over the partitions: what the checks and the run say
    blocks: int = 0  # blocks of the activities file the workers read
    leads: list[Future] = field(default_factory=list)  # partition k's canonical leads
    lead_blocks: int = 0  # blocks of the leads file the workers read

    def host(self, k: int) -> str:
        """Partition k's worker, in address order: the same cluster gets the same placement."""
        return self.hosts[k % len(self.hosts)]


@dataclass
class PartNotes:
    """What one partition's events tell this process: the id match, the events left out."""

    rows: int  # activity rows with an id that hash to this partition
    matched: int  # of them, naming a lead of the partition
    hit: np.ndarray  # per lead of the partition: has a row
    no_time: int
    before: int
    facts: EventFacts


@contextmanager
def cluster_export(
    cfg: Config, scheduler: str | None = None
) -> Iterator[tuple[pd.DataFrame, ClusterExport]]:
    """The leads' narrow frame (`read_leads_on_cluster`) and the export on the cluster, for as
    long as the block runs."""
    with dask_client(cfg.training.dask, scheduler) as (client, cluster):
        yield read_on_cluster(client, cfg, cluster)


def read_on_cluster(
    client: Client, cfg: Config, cluster: ClusterFacts
) -> tuple[pd.DataFrame, ClusterExport]:
    """Leads and activities read by the workers and shuffled to their partitions; here the
    leads' narrow frame and the events' facts."""
    n_parts = cfg.training.dask.partitions or 4 * cluster.workers
    hosts = sorted(client.scheduler_info(n_workers=-1)["workers"])
    export = ClusterExport(client, cluster, [], hosts, EventFacts(0, frozenset(), 0, 0, None))
    leads, export.leads, export.lead_blocks = read_leads_on_cluster(
        client, cfg, export.host, n_parts
    )
    pieces: list[list[Future]] = [[] for _ in range(n_parts)]
    if cfg.data.activities:
        pieces, export.blocks = event_pieces(client, cfg, n_parts)
    now = pd.Timestamp.now()
    export.parts = [
        client.submit(_assemble, export.leads[k], now, *pieces[k], workers=[export.host(k)])
        for k in range(n_parts)
    ]
    notes: list[PartNotes] = client.gather([client.submit(_notes, p) for p in export.parts])
    match = MatchCount("activities", n_leads=len(leads))
    match.rows, match.matched = sum(n.rows for n in notes), sum(n.matched for n in notes)
    match.hit = np.concatenate([n.hit for n in notes])  # one byte per lead
    no_time, before = sum(n.no_time for n in notes), sum(n.before for n in notes)
    report_event_losses(cfg, leads, match, no_time, before)
    export.facts = EventFacts.merge([n.facts for n in notes])
    return leads, export


def event_pieces(client: Client, cfg: Config, n_parts: int) -> tuple[list[list[Future]], int]:
    """Per partition, the futures of its pieces of every block of the activities file: each
    block read and cut on a worker, never brought here. Bad input fails as the local reader
    does: an undecodable file is read as cp1252 with a warning, a bad date names its row."""
    block_bytes = int(cfg.training.dask.block_mb * 2**20)
    blocks, reads, metas = decoded_blocks(
        client,
        cfg,
        cfg.data.activities,
        block_bytes,
        "activities file",
        lambda bs: _read_blocks(client, cfg, bs, n_parts),
    )
    refuse_first_bad_date(cfg, blocks[0], metas)
    pieces = [[client.submit(_piece, r, k) for r in reads] for k in range(n_parts)]
    return pieces, len(blocks)


def _read_blocks(
    client: Client, cfg: Config, blocks: list[Block], n_parts: int
) -> tuple[list[Future], list[tuple]]:
    reads = [client.submit(_read_and_cut, b, cfg, n_parts, pure=False) for b in blocks]
    return reads, client.gather([client.submit(_meta, r) for r in reads])


def refuse_first_bad_date(cfg: Config, block: Block, metas: list[tuple]) -> None:
    """The local reader's one line at the file's first bad date: its row counted over the
    blocks before it."""
    before = 0
    for rows, bad_at, _, value in metas:
        if bad_at is not None:
            ac = cfg.schema.activity
            cell, mark = pd.Series([value], dtype=object), np.array([True])
            at = before + bad_at  # data rows of the file before the bad cell
            refuse_bad_dates(cell, mark, block.shown, ac.timestamp, cfg.schema.dayfirst, at)
        before += rows


def _read_and_cut(block: Block, cfg: Config, n_parts: int) -> tuple[tuple, list[pd.DataFrame]]:
    """On a worker: a block's events cut by partition, and what the caller must know first."""
    read: BlockRead = read_event_block(block, cfg)
    ev = read.events
    meta = (read.rows, read.bad_at, read.undecodable, read.bad_value)
    if read.undecodable is not None or read.bad_at is not None or not len(ev):
        return meta, [ev.iloc[:0]] * n_parts
    part = partition_of(ev["lead_id"].to_numpy(), n_parts)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(n_parts + 1))
    ev = ev.iloc[order]
    return meta, [ev.iloc[bounds[k] : bounds[k + 1]] for k in range(n_parts)]


def _meta(read: tuple) -> tuple:
    rows, bad_at, undecodable, value = read[0]
    return rows, bad_at, undecodable, value


def _piece(read: tuple, k: int) -> pd.DataFrame:
    return read[1][k]


def _assemble(
    leads: pd.DataFrame, now: pd.Timestamp, *pieces: pd.DataFrame
) -> tuple[pd.DataFrame, PartNotes]:
    """On partition k's worker: its leads' events, by the local engine's rules
    (`canonical.load_events`, then `jobs.load_training_data`): rows naming one of its leads
    with a type, a time, and not dated before the lead was created."""
    ev = pd.concat(pieces, ignore_index=True) if pieces else empty_events()
    match = MatchCount("activities", n_leads=len(leads))
    match.add(ev["lead_id"], index_positions(leads.index, ev["lead_id"]))
    keep = present_in(ev["lead_id"], leads.index) & ev["type"].notna().to_numpy(bool)
    ev = ev[keep]
    no_time = ev["ts"].isna().to_numpy(bool)
    ev, before = drop_before_created(leads, ev[~no_time].reset_index(drop=True))
    hit = match.hit if match.hit is not None else np.zeros(len(leads), bool)
    notes = PartNotes(
        match.rows,
        match.matched,
        hit,
        int(no_time.sum()),
        before,
        EventFacts.of(ev, leads.index, now),
    )
    return ev, notes


def _notes(part: tuple) -> PartNotes:
    return part[1]
