"""Batch scoring: raw export in, one scores file out, atomically.

Rows that cannot be scored (no id, a duplicate id, a date or number that does not parse) are
written to a rejected-rows file with the reason; the rest are scored. The scores file is written
to a temporary file and renamed, so a failed run leaves the previous file whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from pipeline.config import Config, SchemaConfig
from pipeline.errors import DataError
from pipeline.io.atomic import write_atomic
from pipeline.io.canonical import canonical_leads, load_events
from pipeline.io.csvwrite import write_csv
from pipeline.io.keys import MatchCount
from pipeline.io.readers import read_table
from pipeline.io.rules import (
    ECHO_CAP,
    activity_warning,
    clean_text,
    neutralise,
    nonfinite_warning,
    normalize_ids,
    number_convention,
)
from pipeline.io.sinks import atomic_output, output_stem
from pipeline.serving.changes import read_previous_file, with_changes
from pipeline.serving.outputs import GRADE, ScoreSummary, format_scores
from pipeline.serving.rows import (
    LATER_DUPLICATE,
    check_columns,
    drift_counter,
    model_schema,
    rejected_frame,
    split_rows,
    trained_decimals,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeline.io.canonical import LeadValues
    from pipeline.io.fastcsv import CompactEvents
    from pipeline.modeling.scorer import LeadScorer
    from pipeline.monitoring.drift import DriftCounter
    from pipeline.progress import Progress
    from pipeline.serving.request import ScoreRequest

log = logging.getLogger(__name__)


def score_files(
    request: ScoreRequest,
    scorer: LeadScorer,
    model_version: str,
    earlier: pd.DataFrame | None = None,
) -> ScoreSummary:
    """Score the request's leads file in chunks of `scoring.chunk_size` rows into its output
    file; memory stays that of one chunk plus the compact events of the file's leads, whatever
    the size of the export. `earlier`: the leads' earlier scores (`serving.changes`), else those
    of `request.previous`, for `score_change` and `change_reason`.

    pyarrow reads both files when it can read them exactly as `read_table` would; otherwise (an
    unusual date format, encoding or quoting) the pandas reader does, with its precise errors.
    """
    from pipeline.io.fastcsv import FastPathUnavailable

    if earlier is None and request.previous is not None:
        earlier = read_previous_file(request.previous)
    try:
        return _score_chunked(request, scorer, model_version, earlier, fast=True)
    except FastPathUnavailable as e:
        log.info("%s: fast reader not usable (%s); reading with pandas", request.leads, e)
        return _score_chunked(request, scorer, model_version, earlier, fast=False)


def _score_chunked(
    request: ScoreRequest,
    scorer: LeadScorer,
    model_version: str,
    earlier: pd.DataFrame | None = None,
    fast: bool = True,
) -> ScoreSummary:
    from pipeline.progress import Progress

    output, n_reasons = request.output_path, request.n_reasons
    as_of64 = request.as_of.to_datetime64().astype("datetime64[ns]")
    leads = open_leads(request.leads, request.config, scorer, fast)
    ids = LeadIds.of(leads.ids)
    bar = Progress(request.progress)
    with bar:
        events = _compact_events(request.config, request.activities, ids, as_of64, fast, bar)
        _refuse_no_match(request, scorer, events.match, ids)
        task = bar.task("scoring leads", total=len(ids.obj))
        scoring = ChunkScorer(
            scorer=scorer,
            path=request.leads,
            ids=ids,
            events=events,
            as_of64=as_of64,
            drift=drift_counter(scorer),
            model_version=model_version,
            scored_at=pd.Timestamp.now(tz="UTC").floor("s").isoformat(),
            n_reasons=n_reasons,
            decimal=request.config.data.decimal,
            earlier=earlier,
        )
        with atomic_output(output) as f:
            run_overlapped(scoring, leads.chunks, f, lambda n: bar.advance(task, n))
            # inside the block: the scores file appears only once its rejected rows are written
            rejected = scoring.rejected()
            rej_path = _write_rejected(rejected, output)
            ev_path = _write_rejected_events(events.rejected, output)
            if scoring.n_scored == 0:  # the previous scores stay: no run replaces them with none
                raise DataError(nothing_scored(request, len(rejected), rej_path))
        if rej_path is None:  # an earlier run's rejected rows never sit beside clean new scores
            rejected_path(output).unlink(missing_ok=True)
    scoring.warn(request.activities or "activities", events)
    return ScoreSummary(
        output=output,
        rejected_path=rej_path,
        n_scored=scoring.n_scored,
        n_rejected=len(rejected),
        model_version=model_version,
        stages=scoring.stages,
        grades={k: (int(n), s / n) for k, (n, s) in scoring.grades.items()},
        drift=scoring.drift.table(),
        rejected_activities=ev_path,
        cutoffs=scorer.cutoffs,
        match_lines=_match_lines(request, scorer, events.match),
    )


@dataclass
class LeadsInput:
    """The leads file opened for streaming: all ids up front (a duplicate may sit in a later
    chunk, and events are kept only for the file's leads), the rows lazily, chunk by chunk."""

    ids: pd.Series
    chunks: Iterator[pd.DataFrame]


def open_leads(path: Path, cfg: Config, scorer: LeadScorer, fast: bool) -> LeadsInput:
    """Open the leads file with pyarrow (`fast`) or pandas; both refuse the same files with the
    same messages, so the fallback never changes what a user is told."""
    sc, step = model_schema(scorer), cfg.scoring.chunk_size
    opener = _open_fast if fast else _open_pandas
    leads = opener(path, cfg, scorer, sc, step)
    if len(leads.ids) == 0:
        raise DataError(f"{path}: header only, no rows; nothing to score")
    return leads


def chosen_model_leads(
    path: Path, cfg: Config, scorer: LeadScorer, chosen: pd.Index
) -> pd.DataFrame:
    """The canonical leads of the `chosen` ids in a leads file a model reads, labelled by `cfg`'s
    outcome rules (`io.subset.chosen_leads`): read as the scorer reads a file, in batches of
    `scoring.chunk_size` rows, so memory is one batch plus the chosen leads, not the file. The
    model's columns are checked as scoring checks them and its numbers read by the conventions it
    was trained with. A file pyarrow cannot read as `read_table` would is read by pandas, whole,
    as scoring does: that reader's errors are the precise ones."""
    from pipeline.io.fastcsv import FastPathUnavailable

    try:
        return _chosen_leads(path, cfg, scorer, chosen, fast=True)
    except FastPathUnavailable as e:
        log.info("%s: fast reader not usable (%s); reading with pandas", path, e)
        return _chosen_leads(path, cfg, scorer, chosen, fast=False)


def _chosen_leads(
    path: Path, cfg: Config, scorer: LeadScorer, chosen: pd.Index, fast: bool
) -> pd.DataFrame:
    from pipeline.io.subset import chosen_leads

    opened = open_leads(path, cfg, scorer, fast)
    first = iter([opened.chunks])

    def batches() -> Iterator[pd.DataFrame]:  # a second pass (a convention to decide) reopens
        return next(first, None) or open_leads(path, cfg, scorer, fast).chunks

    return chosen_leads(cfg, path, batches, opened.ids, chosen, trained_decimals(scorer))


def _open_fast(
    path: Path, cfg: Config, scorer: LeadScorer, sc: SchemaConfig, step: int
) -> LeadsInput:
    """Reads only the header and the id column now; a file pyarrow cannot read as pandas would
    raises FastPathUnavailable here or when its chunks are read."""
    from pipeline.io import fastcsv

    if not path.exists() or path.stat().st_size == 0:
        read_table(path, cfg, "leads file")  # raises the usual error
    header = fastcsv.csv_header(path, cfg)
    if len(header) == 1:  # a wrong delimiter: the pandas reader names the likely one
        read_table(path, cfg, "leads file")
    if sc.lead_id not in header:  # the column check names it, with any other missing column
        check_columns(pd.DataFrame(columns=header), scorer, path)
    # header only is said before any note on the columns
    ids = fastcsv.read_columns(path, cfg, [sc.lead_id]).column(0).to_pandas()
    if len(ids) == 0:
        raise DataError(f"{path}: header only, no rows; nothing to score")
    check_columns(pd.DataFrame(columns=header), scorer, path)
    return LeadsInput(ids, fastcsv.iter_lead_batches(path, cfg, step))


def _open_pandas(
    path: Path, cfg: Config, scorer: LeadScorer, sc: SchemaConfig, step: int
) -> LeadsInput:
    """The whole file in memory: the fallback for files pyarrow cannot read exactly."""
    raw = read_table(path, cfg, "leads file")
    if raw.empty:
        raise DataError(f"{path}: header only, no rows; nothing to score")
    check_columns(raw, scorer, path)
    chunks = (raw.iloc[i : i + step] for i in range(0, len(raw), step))
    return LeadsInput(raw[sc.lead_id], chunks)


@dataclass
class LeadIds:
    """Every row's id, known before the first chunk, so a duplicate is rejected whichever chunk
    it falls in and events are matched to the first row of each id only."""

    obj: np.ndarray  # id per file row (object, None when empty)
    dup_later: np.ndarray  # the row repeats an id seen on an earlier row
    first_ids: pa.Array  # ids of the rows that are scored, in file order
    first_rows: np.ndarray  # their file row positions

    @classmethod
    def of(cls, ids: pd.Series) -> LeadIds:
        import pyarrow as pa

        ids = normalize_ids(ids).reset_index(drop=True)  # blank: missing, rejected as empty
        shown = clean_text(ids)  # as the output writes it: two raw ids must not merge there
        dup = ids.duplicated(keep="first") | (shown.duplicated(keep="first") & ids.notna())
        first = (ids.notna() & ~dup).to_numpy()
        obj = ids.to_numpy(dtype=object)
        return cls(
            obj=obj,
            dup_later=ids.notna().to_numpy() & ~first,
            first_ids=pa.array(obj[first], type=pa.string()),
            first_rows=np.flatnonzero(first),
        )


class Prepared(NamedTuple):
    X: pd.DataFrame | None  # None: every row of the chunk was rejected
    start: int  # file rows [start, stop) of the chunk
    stop: int


@dataclass
class ChunkScorer:
    """The three stages of a chunk and what they add up over the file.

    `prepare` and `write` run on their own single threads, `score` on the caller's; each field is
    written by one stage only, and read by the caller after the last chunk.
    """

    scorer: LeadScorer
    path: Path
    ids: LeadIds
    events: CompactEvents
    as_of64: np.datetime64
    drift: DriftCounter
    model_version: str
    scored_at: str
    n_reasons: int
    rejected_parts: list[pd.DataFrame] = field(default_factory=list)  # by prepare
    stages: dict[str, int] = field(default_factory=dict)  # by write
    grades: dict[str, list[float]] = field(default_factory=dict)  # by write: [leads, sum of p]
    n_scored: int = 0  # by write
    nonfinite: dict[str, int] = field(default_factory=dict)  # by prepare, per column
    decimal: str | None = None  # data.decimal; None: the model's, else decided on the 1st chunk
    decimals: dict[str, str] = field(default_factory=dict)  # by prepare: one per numeric column
    before_created: int = 0  # by prepare: events dated before their lead was created
    earlier: pd.DataFrame | None = None  # the leads' earlier scores (serving.changes)
    sc: SchemaConfig = field(init=False)

    def __post_init__(self) -> None:
        self.sc = model_schema(self.scorer)

    def prepare(self, raw: pd.DataFrame) -> Prepared:
        """Reject bad rows and build features: runs beside the booster of the last chunk."""
        good, values = self._keep_scoreable(raw)
        start, stop = int(raw.index[0]), int(raw.index[-1]) + 1
        if not len(good):
            return Prepared(None, start, stop)
        leads = canonical_leads(good, self.sc, self.path, counts=self.nonfinite, values=values)
        if start == 0:  # what can be checked without outcomes, on the first chunk
            from pipeline.validation.checks import check_scoring_data

            feats = [*self.scorer.builder.categorical, *self.scorer.builder.numeric]
            check_scoring_data(leads, feats, self.path).log_and_raise()
        born = leads["_created_at"].to_numpy("datetime64[ns]")
        *ev, n_before = self.events.of_rows(good.index.to_numpy(), born)
        self.before_created += n_before
        ev = self.scorer.builder.event_codes(*ev, self.events.types)
        X = self.scorer.features(leads, ev, np.full(len(leads), self.as_of64))
        self.drift.add(X)
        return Prepared(X, start, stop)

    def _keep_scoreable(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, LeadValues]:
        for c in self.scorer.builder.numeric:  # one convention per column for the whole file
            dec = self.decimal or trained_decimals(self.scorer).get(c)
            self.decimals.setdefault(c, dec or number_convention(raw[c]))
        as_of = pd.Timestamp(self.as_of64)
        good, rej, values = split_rows(raw, self.scorer, as_of, self.decimals)
        later = self.ids.dup_later[good.index.to_numpy()]
        if later.any():  # first seen in an earlier chunk
            extra = rejected_frame(good, later, self.sc.lead_id, LATER_DUPLICATE)
            rej = pd.concat([rej, extra])
            good = good.loc[~later]
        self.rejected_parts.append(rej)
        return good, values

    def score(self, X: pd.DataFrame) -> pd.DataFrame:
        res = self.scorer.score_features(X, self.n_reasons, parts=True)
        when = pd.Timestamp(self.as_of64)
        return with_changes(res, X, self.scorer, self.model_version, when, self.earlier)

    def write(self, f: IO[str], res: pd.DataFrame) -> None:
        """Append a chunk's scores; the header goes with the first chunk that has any.

        `f` is `atomic_open`'s UTF-8 file without newline translation, so the chunk's bytes go
        straight to its buffer, once what was written as text is flushed."""
        out = format_scores(res, self.model_version, self.scored_at)
        f.flush()
        write_csv(f.buffer, out, header=self.n_scored == 0)  # type: ignore[attr-defined]
        self.n_scored += len(out)
        for k, v in out["stage"].value_counts().items():
            self.stages[k] = self.stages.get(k, 0) + int(v)
        if GRADE in out.columns:
            for k, part in out.groupby(GRADE)["probability"]:
                have = self.grades.setdefault(str(k), [0, 0.0])
                have[0], have[1] = have[0] + len(part), have[1] + float(part.sum())

    def warn(self, activities: str | Path, events: CompactEvents) -> None:
        """One warning line per rule that left values out: non-finite numbers, unused events."""
        if self.nonfinite:
            log.warning(nonfinite_warning(self.path, self.nonfinite))
        no_time = 0 if events.rejected is None else len(events.rejected)
        counts = {"no_time": no_time, "before_created": self.before_created}
        line = activity_warning({**counts, "after_as_of": events.after_as_of}, activities)
        if line:
            log.warning(line)

    def rejected(self) -> pd.DataFrame:
        return pd.concat(self.rejected_parts) if self.rejected_parts else pd.DataFrame()


def run_overlapped(
    cs: ChunkScorer,
    chunks: Iterator[pd.DataFrame],
    f: IO[str],
    advance: Callable[[int], None],
) -> None:
    """Three chunks in flight: features of the next, booster (GIL released) of this one, phrasing
    and writing of the last. On two cores this hides most of the Python work.

    Chunks are written in file order: a write waits for the one before it.
    """

    def prepare_next() -> Prepared | None:
        raw = next(chunks, None)
        return cs.prepare(raw) if raw is not None else None

    with ThreadPoolExecutor(1) as prep_pool, ThreadPoolExecutor(1) as write_pool:
        nxt = prep_pool.submit(prepare_next)
        written: Future[None] | None = None
        while (item := nxt.result()) is not None:
            nxt = prep_pool.submit(prepare_next)
            if item.X is not None:
                res = cs.score(item.X)
                if written is not None:
                    written.result()
                written = write_pool.submit(cs.write, f, res)
            advance(item.stop - item.start)
        if written is not None:
            written.result()


def rejected_path(output: Path) -> Path:
    return output.with_name(output_stem(output) + ".rejected.csv")


def rejected_activities_path(output: Path) -> Path:
    return output.with_name(output_stem(output) + ".rejected-activities.csv")


def nothing_scored(request: ScoreRequest, n_rejected: int, rejected: Path | None) -> str:
    """The one line of a run that scored no lead: why, where the rows went, the output kept."""
    where = f"; their reasons are in {rejected}" if rejected is not None else ""
    return (
        f"{request.leads}: no lead scored, all {n_rejected} rows rejected{where}; "
        f"{request.output} was left as it was (check --as-of {request.as_of.date()} and the file)"
    )


def _write_rejected(rejected: pd.DataFrame, output: Path) -> Path | None:
    """Rejected rows beside the scores file, in file order."""
    if not len(rejected):
        return None
    path = rejected_path(output)
    write_atomic(safe_cells(rejected), path)
    return path


def safe_cells(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows in file order, their echoed ids and reasons without formulas or control
    characters, and capped (an id at 60 characters, a reason at 120)."""
    rejected = rejected.sort_values("row", kind="stable")
    for c in rejected.columns[1:]:
        cap = 2 * ECHO_CAP if c == "reason" else ECHO_CAP
        rejected[c] = neutralise(clean_text(rejected[c], cap))
    return rejected


def _write_rejected_events(rejected: pd.DataFrame | None, output: Path) -> Path | None:
    """Activity rows without a usable time, beside the scores file (`row` of the activities
    file, its lead id, `reason`); a clean run removes the file of an earlier run."""
    path = rejected_activities_path(output)
    if rejected is None or not len(rejected):
        path.unlink(missing_ok=True)
        return None
    write_atomic(safe_cells(rejected), path)
    return path


def _refuse_no_match(
    request: ScoreRequest, scorer: LeadScorer, match: MatchCount, ids: LeadIds
) -> None:
    """Activities of which none names a scored lead: one line before anything is written."""
    if request.activities and match.rows and len(ids.first_ids):
        col, lead_col = request.config.schema.activity.lead_id, model_schema(scorer).lead_id
        lead = str(ids.first_ids[0].as_py())
        match.refuse_none(request.activities, col, request.leads, lead_col, lead)


def _match_lines(request: ScoreRequest, scorer: LeadScorer, match: MatchCount) -> tuple[str, ...]:
    """The activities' match line, and a warning when the share of leads with activities is far
    below the training one: printed with the run's summary, so a run that fails later (a
    database write) still ends in one line."""
    if not request.activities or not match.rows:
        return ()
    trained = (scorer.meta.get("lead_match_shares") or {}).get("activities")
    far = match.far_below(trained)
    return (match.line(request.activities, request.leads), *([far] if far else []))


def _compact_events(
    cfg: Config,
    activities_path: str | Path | None,
    ids: LeadIds,
    as_of64: np.datetime64,
    fast: bool,
    bar: Progress,
) -> CompactEvents:
    """Events of the file's leads before as_of, compact and sorted by lead row."""
    from pipeline.io import fastcsv

    first_ids, first_rows = ids.first_ids, ids.first_rows
    if not activities_path:
        return fastcsv.compact_from_frame(load_events(cfg, None), first_ids, first_rows, as_of64)
    path = Path(activities_path)
    if fast and path.exists() and path.stat().st_size > 0:
        task = bar.task("reading activities", total=None)
        try:
            return fastcsv.compact_events(
                path, cfg, first_ids, first_rows, as_of64, lambda n: bar.advance(task, n)
            )
        except fastcsv.FastPathUnavailable as e:
            log.info("%s: fast reader not usable (%s); reading with pandas", path, e)
    rejected: list[pd.DataFrame] = []
    match = MatchCount("activities", n_leads=len(first_rows))
    lead_ids = pd.Index(first_ids.to_pylist())
    ev = load_events(cfg, path, lead_ids=lead_ids, rejected=rejected, match=match)
    out = fastcsv.compact_from_frame(ev, first_ids, first_rows, as_of64)
    out.rejected = pd.concat(rejected) if rejected else None
    out.match = match
    return out
