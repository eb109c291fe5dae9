"""One scoring call as one frozen object, built and checked once where the call starts.

`leadscore score` builds it from its options (`ScoreRequest.for_files`) and it travels unchanged
through `jobs.score`, the batch scorer and the Spark path; the REST answer builds it from a
request's `params` (`ScoreRequest.from_params`), which is also how the Spark UDF's workers read
the request the driver sent them (`udf_params`). A bad field ends here, with the same one line
whatever the path: later stages trust what they are given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import CHAMPION_URI, Config
from pipeline.errors import DataError
from pipeline.io.atomic import Inputs, check_output_path, refuse_inputs
from pipeline.io.rules import clean_value, parse_as_of
from pipeline.io.sinks import output_format

ENGINES = ("local", "spark")
ON_ERROR = ("row", "raise")
PARAMS = ("as_of", "explain", "n_reasons", "on_error")  # a REST request's (and Spark's) params


@dataclass(frozen=True)
class ScoreRequest:
    """What to score, with which model, as of when, with how many reasons, and where to."""

    as_of: pd.Timestamp  # features use only what was known before this time (naive UTC)
    n_reasons: int  # reasons per lead (0: none)
    config: Config | None = None  # how the export is read; None for a REST request
    leads: Path | None = None  # the leads file (batch and Spark)
    activities: Path | None = None  # their activities, if any
    output: str = ""  # scores file, or a database URL that gets the run's rows
    model_uri: str = ""  # registered model to load (a REST request is the model itself)
    engine: str = "local"  # local (streamed, chunked) or spark
    run_id: str | None = None  # database output: the run the rows belong to
    progress: bool = False  # progress bars
    quiet: bool = False  # no Spark log output either
    report: Path | None = None  # also write the scoring report here
    explain: bool = True  # REST: score, stage, reasons and sub-scores beside the probability
    on_error: str = "raise"  # REST: a bad record fails the request, or only its row ("row")
    previous: Path | None = None  # an earlier scores file: score_change and change_reason

    @classmethod
    def for_files(
        cls,
        cfg: Config,
        leads: Path | None = None,
        activities: Path | None = None,
        output: str | Path | None = None,
        model_uri: str = CHAMPION_URI,
        as_of: str | pd.Timestamp | None = None,
        engine: str = "local",
        **options,
    ) -> ScoreRequest:
        """A batch call: files default to the config's (`data.leads`, `data.activities`,
        `scoring.output`); the engine, the time and the paths are checked before any work.
        `options`: progress, quiet, report, previous, run_id (a database output gets a new UUID), and
        `inputs`: what the command reads besides these files (config, tracking store), which no
        output may overwrite."""
        from pipeline.serving.database import check_run_id, check_url, is_database_url

        if engine not in ENGINES:
            raise DataError(f"--engine '{engine}': use 'local' or 'spark'")
        when = as_of if isinstance(as_of, pd.Timestamp) else parse_as_of(as_of)
        leads = Path(leads or cfg.data.leads)
        acts = activities or (Path(cfg.data.activities) if cfg.data.activities else None)
        _check_inputs(leads, acts)
        out = str(output or cfg.scoring.output)
        if is_database_url(out):
            check_url(out)  # before any message shows a part of it
        inputs = options.pop("inputs", None) or Inputs()
        inputs = inputs.add(leads, "leads file").add(acts, "activities file")
        refuse_inputs(_targets(cfg, out, options.get("report")), inputs)
        if is_database_url(out):
            options["run_id"] = options.get("run_id") or uuid.uuid4().hex
            check_run_id(options["run_id"])
        else:  # a folder, a path under a file, a name of no known format: refused now
            check_output_path(out, "scores file")
            output_format(out)
        return cls(
            as_of=when,
            n_reasons=cfg.scoring.n_reasons,
            config=cfg,
            leads=leads,
            activities=acts,
            output=out,
            model_uri=model_uri,
            engine=engine,
            **options,
        )

    @classmethod
    def from_params(cls, params: dict | None, most_reasons: int) -> ScoreRequest:
        """A REST request's `params` (as_of, explain, n_reasons up to `most_reasons`, the model's
        number of business fields, and on_error: row, the default, or raise)."""
        params = params or {}
        unknown = [str(k) for k in params if k not in PARAMS]
        if unknown:  # a misspelt parameter silently ignored would score with its default
            known = ", ".join(PARAMS)
            raise DataError(f"params.{clean_value(unknown[0])}: unknown parameter; use {known}")
        on_error = str(params.get("on_error") or "row")
        if on_error not in ON_ERROR:
            raise DataError(f"params.on_error '{clean_value(on_error)}': use 'row' or 'raise'")
        as_of = parse_as_of(params.get("as_of") or None, "params.as_of")
        explain = bool(params.get("explain"))
        n = _n_reasons(params.get("n_reasons", 3), most_reasons) if explain else 0
        return cls(as_of=as_of, n_reasons=n, explain=explain, on_error=on_error)

    @property
    def output_path(self) -> Path:
        return Path(self.output)

    def udf_params(self) -> dict:
        """The request as the served model's params: what the Spark UDF sends every batch."""
        return {
            "as_of": self.as_of.isoformat(),
            "explain": self.explain,
            "n_reasons": self.n_reasons,
            "on_error": self.on_error,
        }


def _targets(cfg: Config, out: str, report: Path | None) -> list[tuple[str | Path, str]]:
    """Every path a scoring call writes: the scores file and its rejected-rows files, or the
    database file and the staging folder; the report."""
    from pipeline.serving.batch import rejected_activities_path, rejected_path
    from pipeline.serving.database import is_database_url, sqlite_file

    if is_database_url(out):
        db = sqlite_file(out)
        found = [(db, "scores database")] if db is not None else []
        found.append((cfg.scoring.staging_dir, "staging folder (scoring.staging_dir)"))
    else:
        p = Path(out)
        found = [(p, "scores file"), (rejected_path(p), "rejected-rows file")]
        found.append((rejected_activities_path(p), "rejected-activities file"))
    return found + ([(report, "scoring report")] if report is not None else [])


def _check_inputs(leads: Path, activities: Path | None) -> None:
    if not leads.exists():
        raise DataError(f"{leads}: leads file not found; check --leads or data.leads")
    if activities is not None and not activities.exists():
        raise DataError(
            f"{activities}: activities file not found; check --activities or data.activities"
        )


def _n_reasons(value: object, most: int) -> int:
    """How many reasons to return: 0 up to the model's number of business fields."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = -1
    if not 0 <= n <= most:
        raise DataError(f"params.n_reasons '{clean_value(value)}': use a whole number 0-{most}")
    return n
