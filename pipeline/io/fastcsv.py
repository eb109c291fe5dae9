"""Fast, bounded-memory reading of large exports with pyarrow.

A nightly run scores millions of leads with tens of millions of events. pandas reading every column
as Python strings and parsing dates one by one ("mixed" format) costs minutes and gigabytes there,
so the scorer reads through pyarrow instead: the leads file in record batches of a fixed size, the
activities file block by block into compact arrays (lead row number, time, type code) that hold only
events of leads in the file and before the as-of time.

Whenever pyarrow cannot read a file exactly as `pipeline.io.readers.read_table` would (another
date format, a bad encoding, ragged rows), callers fall back to the pandas path, whose error
messages name the file, row and fix. The fast path never changes what is scored, only how fast.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.config import Config
from pipeline.io.canonical import load_events, normalise_types
from pipeline.io.compressed import plain_file
from pipeline.io.keys import MatchCount, index_positions
from pipeline.io.readers import file_encoding, file_kind
from pipeline.io.rules import DATE_RANGE, EARLIEST, LATEST, normalize_id_array

NAT = np.iinfo(np.int64).min
EARLIEST_NS = EARLIEST.value
LATEST_NS = LATEST.value
OUT_OF_RANGE = f"date outside {DATE_RANGE}"
BLOCK = 32 << 20  # bytes per CSV block: bounded memory, big enough for multithreaded parsing


OnProgress = Callable[[int], None] | None  # called with the rows of each block read


class FastPathUnavailable(Exception):
    """pyarrow cannot read the file the way the pandas path would; use the pandas path."""


def csv_header(path: Path, cfg: Config, what: str = "leads file") -> list[str]:
    """Column names as `read_table` reports them (BOM and spaces stripped)."""
    path = plain_file(path)  # a compressed file: its plain copy
    if file_kind(path) == "parquet":
        return list(pq.ParquetFile(path).schema_arrow.names)
    try:
        with open(path, encoding=file_encoding(path, cfg, what), newline="") as f:
            row = next(csv.reader(f, delimiter=cfg.data.sep), [])
    except (UnicodeDecodeError, LookupError) as e:
        raise FastPathUnavailable(str(e)) from None
    return [c.lstrip("\ufeff").strip() for c in row]


def _options(
    path: Path,
    cfg: Config,
    names: list[str],
    types: dict[str, pa.DataType],
    include: list[str],
    what: str = "leads file",
) -> dict:
    if file_encoding(path, cfg, what) != "utf-8-sig":
        raise FastPathUnavailable("non-UTF-8 encoding")
    if len(set(names)) != len(names):
        raise FastPathUnavailable("duplicate column names")
    return {
        "read_options": pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK),
        "parse_options": pacsv.ParseOptions(delimiter=cfg.data.sep),
        "convert_options": pacsv.ConvertOptions(
            column_types=types,
            include_columns=include,
            null_values=list(cfg.data.missing_values),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }


def read_columns(path: Path, cfg: Config, columns: list[str]) -> pa.Table:
    """A few columns of a CSV or parquet file, all as strings."""
    path = plain_file(path)  # a compressed file: its plain copy
    if file_kind(path) == "parquet":
        return pq.read_table(path, columns=columns)
    names = csv_header(path, cfg)
    opts = _options(path, cfg, names, {c: pa.string() for c in names}, columns)
    try:
        return pacsv.read_csv(path, **opts)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise FastPathUnavailable(str(e)) from None


def iter_lead_batches(path: Path, cfg: Config, rows: int) -> Iterator[pd.DataFrame]:
    """The leads file as frames of about `rows` rows (strings, missing markers as NA), index = row
    position in the file, so rejected-row numbers stay those of the whole file."""
    start = 0
    path = plain_file(path)  # a compressed file: its plain copy
    if file_kind(path) == "parquet":
        for b in pq.ParquetFile(path).iter_batches(batch_size=rows):
            df = b.to_pandas()
            na = set(cfg.data.missing_values)
            for c in df.columns:
                if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
                    df[c] = df[c].where(~df[c].isin(na))
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield df
        return
    names = csv_header(path, cfg)
    opts = _options(path, cfg, names, {c: pa.string() for c in names}, names)
    try:
        reader = pacsv.open_csv(path, **opts)
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        for batch in reader:
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= rows:
                t = pa.Table.from_batches(pending)
                head, tail = t.slice(0, rows), t.slice(rows)
                yield _frame(head, start)
                start += rows
                pending, n_pending = tail.to_batches(), tail.num_rows
        if n_pending:
            yield _frame(pa.Table.from_batches(pending), start)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise FastPathUnavailable(str(e)) from None


def _frame(t: pa.Table, start: int) -> pd.DataFrame:
    df = t.to_pandas()
    df.index = pd.RangeIndex(start, start + len(df))
    return df


@dataclass
class CompactEvents:
    """Events of the leads being scored, sorted by lead row: 14 bytes per event instead of ~200.

    `row` is the position of the lead in the leads file (first row of a duplicated id), `code`
    indexes `types` (normalised activity type labels).
    """

    row: np.ndarray  # int32
    ts: np.ndarray  # int64 ns (never NaT: rows without a time are rejected, not kept)
    code: np.ndarray  # int16
    types: list[str]
    after_as_of: int = 0  # events of the scored leads at or after as_of: not used, counted
    rejected: pd.DataFrame | None = None  # activity rows without a time or with a bad one
    match: MatchCount = field(default_factory=lambda: MatchCount("activities"))

    def __len__(self) -> int:
        return len(self.row)

    def for_rows(self, start: int, stop: int, ids: np.ndarray) -> pd.DataFrame:
        """Canonical events frame (`lead_id`, `ts`, `type`) of the leads in rows [start, stop)."""
        lo, hi = np.searchsorted(self.row, [start, stop])
        return pd.DataFrame(
            {
                "lead_id": ids[self.row[lo:hi]],
                "ts": self.ts[lo:hi].view("datetime64[ns]"),
                "type": pd.Categorical.from_codes(self.code[lo:hi], categories=self.types),
            }
        )

    def of_rows(
        self, rows: np.ndarray, created: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The events of the leads at file `rows` (ascending) as (position of the lead in `rows`,
        time, type code), less those dated before the lead was `created` (datetime64, NaT:
        unknown), and how many those were. Matched by row number: no id is hashed."""
        if not len(rows):
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int16), 0
        lo, hi = np.searchsorted(self.row, [rows[0], rows[-1] + 1])
        at = np.full(rows[-1] + 1 - rows[0], -1, np.int64)
        at[rows - rows[0]] = np.arange(len(rows))
        pos, ts, code = at[self.row[lo:hi] - rows[0]], self.ts[lo:hi], self.code[lo:hi]
        born = np.asarray(created, "datetime64[ns]").view(np.int64)[pos]
        before = (pos >= 0) & (born != NAT) & (ts < born)
        keep = (pos >= 0) & ~before
        return pos[keep], ts[keep], code[keep], int(before.sum())


class _Vocab:
    def __init__(self) -> None:
        self.types: list[str] = []
        self.index: dict[str, int] = {}

    def codes(self, raw_dict: pa.Array) -> np.ndarray:
        """Global codes for a batch dictionary of raw labels (-1 = no type: dropped)."""
        labels = normalise_types(pd.Series(raw_dict.to_pylist(), dtype=object))
        out = np.full(len(labels), -1, np.int16)
        for i, t in enumerate(labels):
            if t is None or t is pd.NA or t == "":
                continue
            if t not in self.index:
                self.index[t] = len(self.types)
                self.types.append(t)
            out[i] = self.index[t]
        return out


def compact_events(
    path: Path,
    cfg: Config,
    first_ids: pa.Array,
    first_rows: np.ndarray,
    as_of: np.datetime64,
    on_progress: OnProgress = None,
) -> CompactEvents:
    """Stream the activities file, keeping events of the given leads that happened before as_of.

    Memory is that of one block plus the kept events; the file itself is never held whole.
    """
    kept = _KeptEvents(first_ids, first_rows, np.datetime64(as_of, "ns").astype(np.int64))
    path = plain_file(path)  # a compressed file: its plain copy
    if file_kind(path) == "parquet":
        _add_parquet_events(path, cfg, kept, on_progress)
    else:
        _add_csv_events(path, cfg, kept, on_progress)
    out = _finish(kept.rows, kept.tss, kept.codes, kept.vocab.types)
    out.after_as_of, out.match = kept.after_as_of, kept.match
    ts_col, id_col = cfg.schema.activity.timestamp, cfg.schema.activity.lead_id
    rej = pd.DataFrame(kept.rejected, columns=["row", id_col, "reason"])
    rej["reason"] = np.where(rej["reason"], f"{ts_col}: {OUT_OF_RANGE}", f"no {ts_col}")
    out.rejected = rej
    return out


class LeadLookup:
    """Which lead each event names, by the one id rule (`normalize_id_array`).

    The leads' ids are hashed once, in a pandas index that keeps its hash table between calls;
    a block's ids are normalised and looked up once per distinct value (a block of 32 MB holds
    ~800k events of far fewer leads). Hashing the million ids of the leads again for every block
    (`pc.index_in` takes its value set per call) cost ~17 s of a 1M-lead training's read."""

    def __init__(self, ids: pa.Array | pa.ChunkedArray) -> None:
        self.index = pd.Index(np.asarray(ids.to_pylist(), dtype=object))

    def find(self, raw: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
        """The block's ids normalised, and the position among the leads' ids of each one's lead
        (-1: none, a missing id included)."""
        raw = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
        enc = pc.dictionary_encode(raw)
        names = normalize_id_array(enc.dictionary)
        at = self.index.get_indexer(np.asarray(names.to_pylist(), dtype=object))
        idx = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy(zero_copy_only=False)
        return names.take(enc.indices), np.append(at, -1)[idx]


class _KeptEvents:
    """The compact arrays growing block by block: only events of the leads being scored, with a
    type, before the cutoff, so memory follows what is kept rather than the file's size."""

    def __init__(self, first_ids: pa.Array, first_rows: np.ndarray, cutoff: np.int64) -> None:
        self.leads, self.first_rows, self.cutoff = LeadLookup(first_ids), first_rows, cutoff
        self.vocab = _Vocab()
        self.rows: list[np.ndarray] = []
        self.tss: list[np.ndarray] = []
        self.codes: list[np.ndarray] = []
        self.after_as_of = 0
        self.rejected: list[tuple[int, str, bool]] = []  # (file row, lead id, out of range)
        self.offset = 0  # file rows read so far
        self.match = MatchCount("activities", n_leads=len(first_rows))

    def add(self, lid: pa.Array, ts: pa.Array, typ: pa.Array) -> None:
        lid, at = self.leads.find(lid)  # the one id rule, as the pandas path reads ids
        r = np.where(at >= 0, self.first_rows[np.maximum(at, 0)], -1)  # the lead's file row
        self.match.add(lid, at)
        t = pc.fill_null(ts.cast(pa.int64()), NAT).to_numpy()
        enc = pc.dictionary_encode(typ)
        c = self.vocab.codes(enc.dictionary)[pc.fill_null(enc.indices, -1).to_numpy()]
        c = np.where(pc.is_null(enc.indices).to_numpy(zero_copy_only=False), -1, c)
        ours = (r >= 0) & (c >= 0)
        no_time = t == NAT
        out_of_range = ~no_time & ((t < EARLIEST_NS) | (t > LATEST_NS))
        after = ~no_time & ~out_of_range & (t >= self.cutoff)
        keep = ours & ~no_time & ~out_of_range & ~after
        self.after_as_of += int((ours & after).sum())
        bad = np.flatnonzero(ours & (no_time | out_of_range))
        if len(bad):
            lids = lid.take(pa.array(bad)).to_pylist()
            rng = out_of_range[bad]
            self.rejected += zip((bad + self.offset + 2).tolist(), lids, rng.tolist(), strict=True)
        self.offset += len(t)
        self.rows.append(r[keep].astype(np.int32))
        self.tss.append(t[keep])
        self.codes.append(c[keep].astype(np.int16))


def _add_parquet_events(
    path: Path, cfg: Config, kept: _KeptEvents, on_progress: OnProgress
) -> None:
    """Parquet timestamps are used as stored; ones that would need parsing (text, time zones)
    are left to the pandas path, which parses them as `read_table` does."""
    ac = cfg.schema.activity
    cols = [ac.lead_id, ac.timestamp, ac.type]
    pf = pq.ParquetFile(path)
    missing = [c for c in cols if c not in pf.schema_arrow.names]
    if missing:
        raise FastPathUnavailable("missing columns")
    for b in pf.iter_batches(batch_size=1 << 20, columns=cols):
        ts = b.column(ac.timestamp)
        if not pa.types.is_timestamp(ts.type) or ts.type.tz is not None:
            raise FastPathUnavailable("timestamps need parsing")
        kept.add(
            b.column(ac.lead_id),
            ts.cast(pa.timestamp("ns")),
            b.column(ac.type),
        )
        if on_progress:
            on_progress(b.num_rows)


def _add_csv_events(path: Path, cfg: Config, kept: _KeptEvents, on_progress: OnProgress) -> None:
    """pyarrow parses the timestamps itself; any value it cannot read sends the whole file to
    the pandas path, so dates are never parsed two different ways in one run."""
    ac = cfg.schema.activity
    cols = [ac.lead_id, ac.timestamp, ac.type]
    names = csv_header(path, cfg, "activities file")
    if any(c not in names for c in cols):
        raise FastPathUnavailable("missing columns")
    types = {ac.lead_id: pa.string(), ac.timestamp: pa.timestamp("ns"), ac.type: pa.string()}
    opts = _options(path, cfg, names, types, cols, "activities file")
    try:
        for b in pacsv.open_csv(path, **opts):
            kept.add(b.column(ac.lead_id), b.column(ac.timestamp), b.column(ac.type))
            if on_progress:
                on_progress(b.num_rows)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise FastPathUnavailable(str(e)) from None


def compact_from_frame(
    ev: pd.DataFrame, first_ids: pa.Array, first_rows: np.ndarray, as_of: np.datetime64
) -> CompactEvents:
    """The same compact form from a canonical events frame (the pandas fallback path)."""
    vocab = _Vocab()
    lid = pa.array(ev["lead_id"].astype(object).to_numpy(), type=pa.string())
    at = LeadLookup(first_ids).find(lid)[1]
    r = np.where(at >= 0, first_rows[np.maximum(at, 0)], -1)
    t = ev["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    cat = pd.Categorical(ev["type"])
    c = vocab.codes(pa.array(list(cat.categories), type=pa.string()))[cat.codes]
    c = np.where(cat.codes < 0, -1, c)
    ours = (r >= 0) & (c >= 0) & (t != NAT)  # the pandas path rejected rows without a time
    keep = ours & (t < np.datetime64(as_of, "ns").astype(np.int64))
    out = _finish([r[keep].astype(np.int32)], [t[keep]], [c[keep].astype(np.int16)], vocab.types)
    out.after_as_of = int((ours & ~keep).sum())
    return out


def _finish(rows: list, tss: list, codes: list, types: list[str]) -> CompactEvents:
    row = np.concatenate(rows) if rows else np.zeros(0, np.int32)
    ts = np.concatenate(tss) if tss else np.zeros(0, np.int64)
    code = np.concatenate(codes) if codes else np.zeros(0, np.int16)
    return CompactEvents(row[order := stable_order(row)], ts[order], code[order], types)


def stable_order(row: np.ndarray) -> np.ndarray:
    """`np.argsort(row, kind="stable")` of non-negative int32 rows, as stable sorts of the low
    then the high 16 bits (numpy's radix sort): half the CPU at ten million events."""
    order = np.argsort((row & 0xFFFF).astype(np.uint16), kind="stable")
    if len(row) and int(row.max()) >= 1 << 16:
        order = order[np.argsort((row[order] >> 16).astype(np.uint16), kind="stable")]
    return order


def training_events(
    cfg: Config, lead_ids: pd.Index, match: MatchCount | None = None
) -> pd.DataFrame:
    """`canonical.load_events(cfg, lead_ids=lead_ids, match=match)` for training, read in blocks.

    The pandas reader holds the whole file as text and parses it column by column: at 20M events
    that peaked at ~6 GB, more than the rest of training. Here each 32 MB block keeps only the
    events of `lead_ids` as (lead position, time, type code), 14 bytes per event, and the frame is
    built once at the end: the same rows, in file order, with the same values (`events_frame`:
    its text columns as categories, whichever reader read them). A file
    pyarrow cannot read so (not UTF-8 csv, a date it cannot parse or one outside 1970-2200, epoch
    numbers) goes to the pandas path, whose error names the row."""
    path = Path(cfg.data.activities or "")
    ids = pa.array(lead_ids.array) if isinstance(lead_ids.dtype, pd.StringDtype) else None
    if not cfg.data.activities or ids is None or cfg.schema.activity.timestamp_unit:
        return _as_categories(load_events(cfg, lead_ids=lead_ids, match=match), lead_ids)
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    counted = MatchCount("activities", n_leads=len(lead_ids))
    kept = _TrainingEvents(ids, counted)
    try:
        src = plain_file(path)
        if not src.exists() or file_kind(src) != "csv":
            raise FastPathUnavailable("not a csv file")
        _read_csv_blocks(src, cfg, kept)
    except FastPathUnavailable:
        return _as_categories(load_events(cfg, lead_ids=lead_ids, match=match), lead_ids)
    if match is not None:  # counted apart: a fallback half way must not count blocks twice
        vars(match).update(vars(counted))
    out = kept.frame(lead_ids)
    # the blocks' memory back to the system: arrow's allocator would keep ~0.2 GB of a 20M-event
    # read for the rest of the training
    pa.default_memory_pool().release_unused()
    return out


class _TrainingEvents:
    """Events of the training leads, block by block: what `load_events` keeps (rows of those
    leads with a type; a missing time is kept as NaT, dropped later with its count)."""

    def __init__(self, ids: pa.Array, match: MatchCount) -> None:
        self.leads, self.match = LeadLookup(ids), match
        self.types: list[str] = []
        self.index: dict[str, int] = {}
        self.pos: list[np.ndarray] = []
        self.tss: list[np.ndarray] = []
        self.codes: list[np.ndarray] = []

    def codes_of(self, raw_dict: pa.Array) -> np.ndarray:
        """Codes of a block's distinct raw labels, normalised as `normalise_types` does (-1: no
        type). Unlike the scorer's `_Vocab`, a label that normalises to '' is kept, as
        `load_events` keeps it."""
        labels = normalise_types(pd.Series(raw_dict.to_pylist(), dtype=object))
        out = np.full(len(labels), -1, np.int32)
        for i, t in enumerate(labels):
            if t is None or t is pd.NA:
                continue
            out[i] = self.index.setdefault(t, len(self.types))
            if out[i] == len(self.types):
                self.types.append(t)
        return out

    def add(self, lid: pa.Array, ts: pa.Array, typ: pa.Array) -> None:
        lid, pos = self.leads.find(lid)  # the one id rule, as the pandas path reads ids
        self.match.add(lid, pos)
        t = pc.fill_null(ts.cast(pa.int64()), NAT).to_numpy()
        if ((t != NAT) & ((t < EARLIEST_NS) | (t > LATEST_NS))).any():
            raise FastPathUnavailable(OUT_OF_RANGE)  # the pandas path refuses it in words
        tenc = pc.dictionary_encode(typ)
        code = np.append(self.codes_of(tenc.dictionary), -1)
        c = code[pc.fill_null(tenc.indices, len(tenc.dictionary)).to_numpy(zero_copy_only=False)]
        keep = (pos >= 0) & (c >= 0)
        self.pos.append(pos[keep].astype(np.int32))
        self.tss.append(t[keep])
        self.codes.append(c[keep])

    def frame(self, lead_ids: pd.Index) -> pd.DataFrame:
        """The canonical events frame, as `load_events` builds it (`events_frame`)."""
        pos = np.concatenate(self.pos) if self.pos else np.zeros(0, np.int32)
        ts = np.concatenate(self.tss) if self.tss else np.zeros(0, np.int64)
        code = np.concatenate(self.codes) if self.codes else np.zeros(0, np.int32)
        self.pos, self.tss, self.codes = [], [], []
        return events_frame(pos, ts.view("datetime64[ns]"), code, self.types, lead_ids)


TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # the loaders' text dtype


def events_frame(
    pos: np.ndarray, ts: np.ndarray, code: np.ndarray, types: list, lead_ids: pd.Index
) -> pd.DataFrame:
    """Training's events frame (`lead_id`, `ts`, `type`) with the values `load_events` gives,
    its text columns as categories: a lead id is a code into `lead_ids` (`pos`, -1: none) and a
    type a code into `types`. 13 bytes per event where text took ~40 (0.6 GB at 20M events, held
    for the whole training), and every join on them looks each id up once (`keys`)."""
    return pd.DataFrame(
        {
            "lead_id": pd.Categorical.from_codes(pos, dtype=pd.CategoricalDtype(lead_ids)),
            "ts": ts,
            "type": pd.Categorical.from_codes(
                code, dtype=pd.CategoricalDtype(pd.Index(pd.array(types, dtype=TEXT)))
            ),
        }
    )


def _as_categories(ev: pd.DataFrame, lead_ids: pd.Index) -> pd.DataFrame:
    """The pandas reader's events frame in `events_frame`'s dtypes: one frame whatever read it."""
    code, types = pd.factorize(ev["type"])
    pos = index_positions(lead_ids, ev["lead_id"])
    ts = ev["ts"].to_numpy("datetime64[ns]")
    return events_frame(pos, ts, code, list(pd.Index(types).astype(object)), lead_ids)


def _read_csv_blocks(path: Path, cfg: Config, kept: _TrainingEvents) -> None:
    """The activities csv block by block into `kept`; pyarrow parses the timestamps."""
    ac = cfg.schema.activity
    cols = [ac.lead_id, ac.timestamp, ac.type]
    names = csv_header(path, cfg, "activities file")
    if any(c not in names for c in cols):
        raise FastPathUnavailable("missing columns")  # the pandas path names the column
    types = {ac.lead_id: pa.string(), ac.timestamp: pa.timestamp("ns"), ac.type: pa.string()}
    opts = _options(path, cfg, names, types, cols, "activities file")
    try:
        for b in pacsv.open_csv(path, **opts):
            kept.add(b.column(ac.lead_id), b.column(ac.timestamp), b.column(ac.type))
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise FastPathUnavailable(str(e)) from None
