"""What the checks and the run say about the events table, without holding it.

`validate`, `train`'s checks, the horizon's export date and the run's row counts read a handful of
numbers off the events: how many, of how many types, how many leads have some, how many lie in
the future, the latest time. The local engine computes them from its whole frame; the Dask engine
(`pipeline.training.partitions`) computes them per partition of leads, where the events sit with
their leads, and adds them up. Both go through `EventFacts.of`, so each number has one rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.io.keys import MatchCount, present_in

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventFacts:
    """The numbers about an events table that the driver reports and decides by."""

    events: int  # rows
    types: frozenset[str]  # the activity types seen
    leads_with_events: int  # leads of the leads table with at least one event
    future: int  # events dated after `now`
    last: np.datetime64 | None  # the latest event time (None: no events)
    now: pd.Timestamp = field(default_factory=pd.Timestamp.now)

    @classmethod
    def of(cls, events: pd.DataFrame, lead_ids: pd.Index, now: pd.Timestamp) -> EventFacts:
        """The facts of canonical events (`lead_id`, `ts`, `type`) of the leads `lead_ids`."""
        ts = events["ts"] if "ts" in events else pd.Series(dtype="datetime64[ns]")
        last = ts.max() if len(ts) else pd.NaT
        return cls(
            events=len(events),
            types=frozenset(events["type"].dropna().unique()) if len(events) else frozenset(),
            leads_with_events=int(present_in(lead_ids, events["lead_id"]).sum())
            if len(events)
            else 0,
            future=int((ts > now).sum()),
            last=None if pd.isna(last) else pd.Timestamp(last).to_datetime64(),
            now=now,
        )

    @classmethod
    def merge(cls, parts: list[EventFacts]) -> EventFacts:
        """The facts of the union of events of disjoint sets of leads (partitions by lead id)."""
        lasts = [p.last for p in parts if p.last is not None]
        return cls(
            events=sum(p.events for p in parts),
            types=frozenset().union(*(p.types for p in parts)),
            leads_with_events=sum(p.leads_with_events for p in parts),
            future=sum(p.future for p in parts),
            last=max(lasts) if lasts else None,
            now=parts[0].now if parts else pd.Timestamp.now(),
        )


def event_facts(
    events: pd.DataFrame | EventFacts, lead_ids: pd.Index, now: pd.Timestamp | None = None
) -> EventFacts:
    """The facts of `events`: a whole frame's, or the facts already summed over partitions."""
    if isinstance(events, EventFacts):
        return events
    return EventFacts.of(events, lead_ids, now if now is not None else pd.Timestamp.now())


def n_events(events: pd.DataFrame | EventFacts) -> int:
    """How many events: a frame's rows, or the facts' count."""
    return events.events if isinstance(events, EventFacts) else len(events)


def report_event_losses(
    cfg: Config, leads: pd.DataFrame, match: MatchCount, no_time: int, before: int
) -> None:
    """The lines every training run says about its activities: how many rows name a lead (kept
    with the leads as `match_shares`, which the model stores), and the events not used."""
    if cfg.data.activities:
        log.info(match.line(cfg.data.activities, cfg.data.leads))
        leads.attrs.setdefault("match_shares", {})["activities"] = match.shares()
    if no_time or before:
        log.warning(
            "warning: %s: activities not used: %d without a timestamp, %d dated before the lead "
            "was created",
            cfg.data.activities,
            no_time,
            before,
        )
