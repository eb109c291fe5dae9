"""Scores in a database: a history a warehouse or CRM sync can read, not one file per run.

`--output` (or `scoring.output`) may be a SQLAlchemy URL (`postgresql://user@host:port/db`,
`sqlite:///file.db`). The batch scorer then stages its scores as a CSV file (same columns, same
cells as the file output) and this module appends them to table `lead_scores` in ONE transaction,
reading the staged file in slices so memory stays bounded whatever the run's size. A run killed
at any point leaves the tables as they were: the rows become visible at COMMIT or never.

Tables (created on first use, in the same transaction):
    lead_scores          the contract's output columns plus `run_id`; primary key (run_id, lead_id)
    lead_score_runs      one row per run: `run_seq` (the order runs were first written), `run_id`,
                         when it was written, model version, as-of time, rows
    lead_scores_latest   view: one row per lead from the latest run that scored it, with
                         `previous_score` and `score_change` (score minus previous; NULL the
                         first time a lead is scored)

A run id names one scoring run (`leadscore score --run-id`, default a new UUID per call).
Writing a run id that is already stored replaces that run's rows and keeps its place in the
order, so a retried job (same `--run-id`) never duplicates rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import ConfigError, DataError
from pipeline.io.rules import FORMULA_START
from pipeline.serving.outputs import CHANGES, GRADE, SEGMENT, SUBSCORES, ScoreSummary

log = logging.getLogger(__name__)

TABLE = "lead_scores"
RUNS = "lead_score_runs"
VIEW = "lead_scores_latest"
INSERT_ROWS = 5_000  # rows per INSERT batch: bounded memory, few round trips
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TEXT = {"lead_id", "stage", "model_version", SEGMENT, GRADE, *CHANGES[1:]}


def is_database_url(target: str | Path | None) -> bool:
    """A SQLAlchemy URL (scheme://...), as opposed to a file path."""
    return isinstance(target, str) and bool(_URL.match(target))


RUN_ID_MAX = 64  # the run_id column's length (lead_scores and lead_score_runs)
_NETLOC = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def check_url(url: str) -> None:
    """Refuse, before any work and without repeating any of it, a database URL that would be
    read wrongly: an unencoded '@' in the user or password (the rest of the password would be
    taken for the host, and shown in errors), or a port that is not a number."""
    netloc = (_NETLOC.match(url) or [None, ""])[1]
    if netloc.count("@") > 1:
        raise ConfigError(
            "the database URL has more than one '@' before the host: write an '@' in the user "
            "name or password as %40 (and ':' as %3A, '/' as %2F); the URL is not shown here"
        )
    hostport = netloc.rsplit("@", 1)[-1]
    port = hostport.rsplit(":", 1)[1] if ":" in hostport and not hostport.endswith("]") else ""
    if port and not port.isdigit():
        raise ConfigError(
            f"the database URL's port {port[:12]!r} is not a number; use host:5432 "
            "(the URL is not shown here)"
        )


def check_run_id(run_id: str) -> None:
    if len(run_id) > RUN_ID_MAX:
        raise DataError(
            f"--run-id: {len(run_id)} characters, the run_id column holds at most {RUN_ID_MAX}; "
            "use a shorter id"
        )


def safe_url(url: str) -> str:
    """The URL without its password, for messages and MLflow params."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]


def sqlite_file(url: str) -> Path | None:
    """The file a sqlite URL writes to (None for a server or an in-memory database)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def connect(url: str) -> Engine:
    """An engine for `url`; a malformed URL or a missing driver is a one-line ConfigError."""
    try:
        parsed = sa.make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        args = {"timeout": 60} if parsed.get_backend_name() == "sqlite" else {}
        if parsed.get_backend_name() == "postgresql":
            args = {"application_name": "leadscore"}
        return sa.create_engine(parsed, connect_args=args)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as e:
        raise ConfigError(
            f"{safe_url(url)}: not a usable database URL ({str(e).splitlines()[0]}); "
            "use postgresql://user@host:port/db or sqlite:///file.db"
        ) from None


def _tables(reasons: int) -> tuple[sa.MetaData, sa.Table, sa.Table]:
    md = sa.MetaData()
    scores = sa.Table(
        TABLE,
        md,
        sa.Column("lead_id", sa.Text, nullable=False),
        sa.Column("probability", sa.Float),
        sa.Column("score", sa.Integer),
        sa.Column("stage", sa.Text),
        *[sa.Column(f"reason_{i + 1}", sa.Text) for i in range(reasons)],
        sa.Column("model_version", sa.Text),
        sa.Column("scored_at", sa.DateTime(timezone=True)),
        *[sa.Column(c, sa.Integer) for c in SUBSCORES],
        sa.Column(GRADE, sa.Text),  # A-D; added to tables an earlier version created
        sa.Column(SEGMENT, sa.Text),  # NULL unless the model has segment models
        sa.Column("score_change", sa.Integer),  # since the lead's previous run; NULL the first time
        sa.Column("change_reason", sa.Text),
        sa.Column("score_parts", sa.Text),  # packed field parts (pipeline.explain.changes)
        sa.Column("run_id", sa.String(RUN_ID_MAX), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "lead_id", name=f"pk_{TABLE}"),
        sa.Index(f"ix_{TABLE}_lead_id", "lead_id"),
    )
    runs = sa.Table(
        RUNS,
        md,
        sa.Column("run_seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(RUN_ID_MAX), nullable=False, unique=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.Text),
        sa.Column("as_of", sa.DateTime),
        sa.Column("n_rows", sa.Integer),
    )
    return md, scores, runs


def _view_sql(columns: list[str]) -> str:
    """Latest row per lead and the change since the lead's previous run (portable SQL); the
    view's `score_change` is computed here, the stored one of the same meaning is not repeated."""
    cols = ", ".join(c for c in columns if c != "score_change")
    return (
        f"CREATE VIEW {VIEW} AS SELECT {cols}, previous_score, score - previous_score AS "
        f"score_change FROM (SELECT s.*, r.run_seq, ROW_NUMBER() OVER (PARTITION BY s.lead_id "
        f"ORDER BY r.run_seq DESC) AS latest_rank, LAG(s.score) OVER (PARTITION BY s.lead_id "
        f"ORDER BY r.run_seq) AS previous_score FROM {TABLE} s JOIN {RUNS} r "
        f"ON r.run_id = s.run_id) ranked WHERE latest_rank = 1"
    )


def _ensure_schema(conn: Connection, reasons: int) -> tuple[sa.Table, sa.Table]:
    """Create the tables and the view, or add the reason columns an earlier run did not have."""
    md, scores, runs = _tables(reasons)
    _check_shape(conn)
    md.create_all(conn, checkfirst=True)
    insp = sa.inspect(conn)
    have = [c["name"] for c in insp.get_columns(TABLE)]
    added = [c for c in scores.columns if c.name not in have]
    for c in added:  # e.g. scoring.n_reasons raised from 3 to 5
        kind = c.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {TABLE} ADD COLUMN {c.name} {kind}"))
    if added or VIEW not in insp.get_view_names():
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {VIEW}"))
        order = [c for c in have if c != "run_id"] + [c.name for c in added] + ["run_id"]
        conn.execute(sa.text(_view_sql(order)))
    if added:  # the reflected table now has them too
        scores = sa.Table(TABLE, sa.MetaData(), autoload_with=conn)
    return scores, runs


SHAPE = {TABLE: ("lead_id", "probability", "score", "stage", "run_id"), RUNS: ("run_id",)}


def _check_shape(conn: Connection) -> None:
    """A table of ours that exists with another shape (another tool's `lead_scores`, without
    `run_id`) is refused by name, not altered: its rows are someone else's."""
    insp = sa.inspect(conn)
    for table, needed in SHAPE.items():
        if not insp.has_table(table):
            continue
        have = {c["name"] for c in insp.get_columns(table)}
        missing = [c for c in needed if c not in have]
        if missing:
            raise DataError(
                f"table {table} exists with another shape (no column {missing[0]}); it is not "
                f"one leadscore wrote: rename it (ALTER TABLE {table} RENAME TO {table}_old) "
                "or write to another database"
            )


def _records(chunk: pd.DataFrame, run_id: str) -> list[dict]:
    chunk = chunk.assign(run_id=run_id)
    if "lead_id" in chunk.columns:  # ids as given: the `'` spreadsheet guard is for CSV only
        ids = chunk["lead_id"].astype("string")
        guarded = ids.str.startswith("'").fillna(False) & ids.str[1:].str.startswith(FORMULA_START)
        chunk["lead_id"] = ids.where(~guarded.fillna(False), ids.str[1:])
    if "scored_at" in chunk.columns:
        when = pd.to_datetime(chunk["scored_at"], utc=True)
        chunk["scored_at"] = pd.Series(when.dt.to_pydatetime(), index=chunk.index, dtype=object)
    chunk = chunk.astype(object).where(chunk.notna(), None)
    return chunk.to_dict("records")


def write_scores(
    url: str,
    staged: Path,
    run_id: str,
    as_of: pd.Timestamp | None = None,
    batch_rows: int = INSERT_ROWS,
) -> int:
    """Append one run's staged scores file to `lead_scores` in a single transaction.

    The run's rows go in first, its `lead_score_runs` row last, then COMMIT: until then no reader
    sees any of it, and a killed process leaves nothing behind. Returns the rows written.
    """
    header = pd.read_csv(staged, nrows=0).columns
    reasons = sum(1 for c in header if re.fullmatch(r"reason_\d+", c))
    dtypes = {c: "string" for c in header if c in _TEXT or c.startswith("reason_")}
    engine = connect(url)
    n = 0
    try:
        with engine.begin() as conn:
            scores, runs = _ensure_schema(conn, reasons)
            conn.execute(sa.delete(scores).where(scores.c.run_id == run_id))
            for chunk in pd.read_csv(staged, chunksize=batch_rows, dtype=dtypes):
                conn.execute(scores.insert(), _records(chunk, run_id))
                n += len(chunk)
                log.debug("%s: %d rows written, not committed", TABLE, n)
            _record_run(conn, runs, run_id, as_of, n, staged)
            log.info("%s: committing %d rows of run %s", safe_url(url), n, run_id)
    except sa.exc.SQLAlchemyError as e:
        raise DataError(_db_error(url, e)) from None
    finally:
        engine.dispose()
    return n


def _record_run(conn, runs: sa.Table, run_id: str, as_of, n: int, staged: Path) -> None:
    """Insert the run's row, or update it in place (same run id: same place in the order)."""
    version = pd.read_csv(staged, nrows=1, usecols=["model_version"], dtype=str)
    values = {
        "written_at": dt.datetime.now(dt.UTC),
        "model_version": version["model_version"].iloc[0] if len(version) else None,
        "as_of": as_of.to_pydatetime() if as_of is not None else None,
        "n_rows": n,
    }
    found = conn.execute(sa.select(runs.c.run_seq).where(runs.c.run_id == run_id)).first()
    if found is None:
        conn.execute(runs.insert().values(run_id=run_id, **values))
    else:
        conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values))


_FIXES = (  # (what the server says, our words and the fix), first match wins
    (
        re.compile(r"permission denied for (schema \w+)|must be owner|permission denied"),
        f"no permission to create or write table {TABLE} ({{0}}); PostgreSQL 15 no longer lets "
        "every user create tables in schema public: ask the owner to run 'GRANT CREATE ON "
        "SCHEMA public TO <user>' (and GRANT INSERT, SELECT, DELETE on the tables), or create "
        "them once as the owner",
    ),
    (
        re.compile(r"value too long for type character varying\((\d+)\)"),
        "a value is too long for its column (run_id holds at most {0} characters); use a "
        "shorter --run-id",
    ),
    (
        re.compile(
            r'column "?(\w+)"? (?:of relation "?\w+"? )?does not exist|no column named (\w+)'
        ),
        f"table {TABLE} has another shape (no column {{0}}); rename it (ALTER TABLE {TABLE} "
        "RENAME TO lead_scores_old) or write to another database",
    ),
)


def _db_error(url: str, e: Exception) -> str:
    """One line: the server's first line (never the statement or its row values, which
    SQLAlchemy appends to its own message), in words with the fix when we know them."""
    orig = getattr(e, "orig", None)
    first = str(orig if orig is not None else type(e).__name__).strip().splitlines()
    first_line = (first[0] if first else type(e).__name__)[:200]
    for pattern, words in _FIXES:
        found = pattern.search(first_line)
        if found:
            detail = next((g for g in found.groups() if g), found.group(0))
            return f"{safe_url(url)}: {words.format(detail)}"
    return (
        f"{safe_url(url)}: database error ({first_line}); check the URL, the server and its access"
    )


def score_into(
    url: str,
    run_id: str,
    as_of: pd.Timestamp,
    staging_dir: Path,
    score_to_file: Callable[[Path], ScoreSummary],
) -> ScoreSummary:
    """Run a file scorer into a private staging folder, then append its file to the database.

    The staged file is removed whatever happens; the rejected-rows file, if any, is kept as
    `lead_scores.rejected.csv` in `staging_dir` (scoring.staging_dir)."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".lead_scores.", dir=staging_dir))
    try:
        s = score_to_file(stage / f"{TABLE}.csv")
        write_scores(url, Path(s.output), run_id, as_of)
        if s.rejected_path is not None:
            s.rejected_path = staging_dir / f"{TABLE}.rejected.csv"
            os.replace(stage / f"{TABLE}.rejected.csv", s.rejected_path)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    s.output, s.run_id = f"{safe_url(url)} (table {TABLE}, run {run_id})", run_id
    return s


def read_previous(url: str, run_id: str) -> pd.DataFrame | None:
    """Each lead's latest row from a run other than `run_id` (a retried run compares with the
    run before it, not with itself): lead_id, score, model_version, score_parts; None when the
    database has no scores yet."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            have = sa.inspect(conn).get_table_names()
            if TABLE not in have or RUNS not in have:
                return None
            cols = [c["name"] for c in sa.inspect(conn).get_columns(TABLE)]
            parts = "s.score_parts" if "score_parts" in cols else "NULL AS score_parts"
            sql = (
                f"SELECT lead_id, score, model_version, score_parts FROM (SELECT s.lead_id, "
                f"s.score, s.model_version, {parts}, ROW_NUMBER() OVER (PARTITION BY s.lead_id "
                f"ORDER BY r.run_seq DESC) AS rk FROM {TABLE} s JOIN {RUNS} r ON r.run_id = "
                f"s.run_id WHERE s.run_id <> :rid) ranked WHERE rk = 1"
            )
            df = pd.read_sql(sa.text(sql), conn, params={"rid": run_id}, dtype={"score": float})
    except sa.exc.OperationalError as e:
        raise DataError(_db_error(url, e)) from None
    finally:
        engine.dispose()
    from pipeline.serving.changes import earlier_frame

    return earlier_frame(df.astype({"lead_id": "string", "model_version": "string"}))


def read_latest(
    url: str, columns: list[str] | None = None, optional: tuple[str, ...] = ()
) -> pd.DataFrame:
    """The latest score of every lead (view `lead_scores_latest`), e.g. for `leadscore monitor`.
    `optional`: columns read too when the view has them (`grade`: a table written before grades
    existed has none)."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            if VIEW not in insp.get_view_names():
                raise DataError(
                    f"{safe_url(url)}: no view {VIEW}; write scores there first with "
                    f"'leadscore score --output {safe_url(url)}'"
                )
            if columns and optional:
                have = {c["name"] for c in insp.get_columns(VIEW)}
                columns = [*columns, *(c for c in optional if c in have)]
            cols = ", ".join(columns) if columns else "*"
            return pd.read_sql(sa.text(f"SELECT {cols} FROM {VIEW}"), conn)
    except sa.exc.SQLAlchemyError as e:
        raise DataError(_db_error(url, e)) from None
    finally:
        engine.dispose()
