"""`leadscore`: the only place with argv and exit codes.

Expected mistakes (bad config, bad data, unknown model) end with one line on stderr and exit 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer's own click copy
from typer.core import TyperGroup

from pipeline import console
from pipeline.config import CHAMPION_URI, DEFAULT_CONFIG, Config, load_config
from pipeline.errors import ConfigError, DataError, ExpectedError


def fail(message: str) -> NoReturn:
    """The one way every command ends on an expected mistake: one line on stderr, exit 2."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(2)


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """Click's own usage errors (an option that does not parse or is out of range, an unknown
    command) through `fail`, instead of Click's boxed usage text; asking for help stays help."""
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as e:
        where = f"{e.ctx.command_path}: " if e.ctx is not None else ""
        fail(where + e.format_message())


class OneLineErrors(TyperGroup):
    """The command group whose argument parsing (its own and every subcommand's) fails in one
    line: parsing happens before a command's body, so `command` cannot see these errors."""

    def make_context(self, info_name, args, parent=None, **extra):
        with usage_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        with usage_errors():
            return super().invoke(ctx)


app = typer.Typer(
    cls=OneLineErrors,
    help="Predictive lead scoring: train a calibrated conversion model on won/lost leads, "
    "score new leads with reasons.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("pipeline")

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="YAML config (see config/default.yaml).")
]
ModelUriOpt = Annotated[str, typer.Option(help="MLflow model URI.")]


def echo(lines: list[str], err: bool = False) -> None:
    for line in lines:
        typer.echo(line, err=err)


def command(fn):
    """Run a command; turn expected errors, and any OSError (a full disk, a path that cannot be
    written), into one stderr line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)
        for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "shap", "lightgbm"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        # MLflow logs a store's failure with its whole traceback before raising; the one line
        # that follows names the store and the cause (LEADSCORE_DEBUG shows the rest)
        quiet = logging.DEBUG if os.environ.get("LEADSCORE_DEBUG") else logging.CRITICAL
        logging.getLogger("mlflow").setLevel(quiet)
        if not os.environ.get("LEADSCORE_DEBUG"):
            warnings.simplefilter("ignore")  # library deprecation chatter is not for revenue ops
        try:
            return fn(*args, **kwargs)
        except ExpectedError as e:
            fail(str(e))
        except OSError as e:  # the machine, not the code: a full disk, a path that cannot be used
            where = f"{e.filename}: " if e.filename else ""
            fail(f"{where}{e.strerror or e}")

    return wrapper


@app.command()
@command
def generate(
    leads: Annotated[int, typer.Option("--leads", "-n", min=1, help="Number of leads.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("data/raw"),
    end: Annotated[str, typer.Option(help="Export date: the last day of history.")] = "2026-11-01",
    activity_scale: Annotated[
        float, typer.Option(min=0.01, help="Multiply activity rates (1.0: ~8 events per lead).")
    ] = 1.0,
    shape: Annotated[
        str,
        typer.Option(
            help="Export shape: event-log (default), flat, flat-nodates, semicolon, two-table, "
            "two-table-recent, ordered-nodates, campaign-traits."
        ),
    ] = "event-log",
    segment_shift: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Add a region column; in APAC every effect counts 1-2*S (0: regions alike).",
        ),
    ] = None,
) -> None:
    """Write a sample CRM export: leads.csv, activities.csv, oracle.csv and open_leads.csv."""
    from pipeline.synthetic.sample import generate as make
    from pipeline.synthetic.sample import write_sample
    from pipeline.synthetic.shapes import SHAPES, write_shape

    if shape not in SHAPES:
        raise typer.BadParameter(f"--shape {shape!r}: use one of {', '.join(SHAPES)}")
    if segment_shift is not None and shape != "event-log":
        raise typer.BadParameter("--segment-shift works with --shape event-log only")
    t = time.perf_counter()
    if shape == "event-log":
        data = make(leads, seed, end, activity_scale, segment_shift)
        paths = write_sample(data, out)
    else:
        data, paths = write_shape(shape, leads, seed, out, end)
    typer.echo(console.generate_line(data, out, time.perf_counter() - t))
    log.debug("files: %s", paths)


@app.command()
@command
def validate(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Check the data before training; report problems and leakage suspects (exit 2: refused)."""
    from pipeline.jobs import validate_data

    report = validate_data(load_config(config))
    for line in report.lines():
        typer.echo(line)
    suspects = report.suspects()
    if suspects:
        typer.echo(
            f"leakage suspects: {', '.join(suspects)} (add the after-the-fact ones to schema.drop)"
        )
    if report.errors:
        raise DataError(report.errors[0].message)
    typer.echo(f"ok: {len(report.warnings)} warning(s) to review; train with this config")


@app.command()
@command
def init(
    leads: Annotated[Path, typer.Option(help="Leads export (csv or parquet).")],
    out: Annotated[Path, typer.Option(help="Where to write the drafted YAML config.")],
    activities: Annotated[
        Path | None, typer.Option(help="Activity log export (one row per event).")
    ] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="Outcomes / closed-deals export, if separate.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Draft a config from an export's header and a sample of rows; every guess is commented."""
    from pipeline.io.atomic import check_output_path
    from pipeline.jobs import command_inputs
    from pipeline.onboarding.draft import draft_config

    reads = {"leads_file": leads, "activities_file": activities, "outcomes_file": outcomes}
    check_output_path(out, "drafted config", command_inputs(None, None, **reads))
    if out.exists() and not force:
        raise ConfigError(f"{out}: already exists; choose another --out or pass --force")
    text, notes = draft_config(leads, activities, outcomes)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    for n in notes:
        typer.echo(f"  {n}")
    typer.echo(
        f"wrote {out}: review every '# guess' comment, then: leadscore validate --config {out}"
    )


@app.command()
@command
def train(
    config: ConfigOpt = DEFAULT_CONFIG,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    engine: Annotated[
        str | None,
        typer.Option(
            help="local (this process) or dask (lightgbm.dask on a Dask cluster; "
            "default: training.engine)."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address (tcp://host:8786) to train on; without one, "
            "--engine dask starts a LocalCluster (default: training.dask.scheduler, "
            "then $DASK_SCHEDULER_ADDRESS)."
        ),
    ] = None,
) -> None:
    """Train, evaluate out of time, log to MLflow and register a new model version."""
    from pipeline.jobs import train_and_register
    from pipeline.progress import status

    cfg = with_engine(load_config(config), engine, scheduler)
    t = time.perf_counter()
    with status("training (features, LightGBM, calibration, evaluation, MLflow) ...", quiet):
        done = train_and_register(cfg, config)
    echo(console.train_lines(done, cfg, time.perf_counter() - t))


def with_engine(cfg: Config, engine: str | None, scheduler: str | None) -> Config:
    """The config with `--engine` and `--scheduler` applied; a scheduler without Dask, or an
    engine that does not exist, is a usage mistake."""
    if engine is not None:
        if engine not in ("local", "dask"):
            raise ConfigError(f"--engine {engine}: use local or dask")
        cfg.training.engine = engine
    if scheduler is not None:
        if cfg.training.engine != "dask":
            raise ConfigError("--scheduler is for --engine dask (or training.engine: dask)")
        cfg.training.dask.scheduler = scheduler
    return cfg


@app.command()
@command
def retrain(
    config: ConfigOpt = DEFAULT_CONFIG,
    now: Annotated[
        str | None,
        typer.Option(help="The clock for the champion's age (default: now; for tests, backfills)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Train even when not due.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Train only when due (champion age, new labelled leads, --force, no champion); else print
    one line starting 'not due:' and write nothing. Exit 0 either way (docs/lifecycle.md)."""
    from pipeline.jobs import retrain as run_retrain
    from pipeline.progress import status

    cfg = load_config(config)
    t = time.perf_counter()
    with status("checking whether a retrain is due, training if so ...", quiet):
        done = run_retrain(cfg, config, now, force)
    typer.echo(done.line)
    if done.trained is not None:
        echo(console.train_lines(done.trained, cfg, time.perf_counter() - t))


@app.command()
@command
def tune(
    config: ConfigOpt = DEFAULT_CONFIG,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials (seeded sampler).")] = 20,
    out: Annotated[
        Path, typer.Option(help="Where to write the config with tuned training.lightgbm.")
    ] = Path("config/tuned.yaml"),
) -> None:
    """Search booster hyperparameters on the validation slice; write them into a config copy."""
    from pipeline.jobs import tune_and_write

    t = time.perf_counter()
    r = tune_and_write(load_config(config), config, trials, out)
    echo(console.tune_lines(r, trials, time.perf_counter() - t, out))


RunIdOpt = Annotated[
    str | None,
    typer.Option(
        help="Database output: the run_id of these rows (default: a new UUID). Scoring "
        "again with the same run id replaces that run's rows instead of adding more."
    ),
]
PreviousOpt = Annotated[
    Path | None,
    typer.Option(
        help="An earlier scores file of these leads: adds score_change and change_reason "
        "(a database output compares with its own history)."
    ),
]


@app.command()
@command
def score(
    config: ConfigOpt = DEFAULT_CONFIG,
    leads: Annotated[
        Path | None, typer.Option(help="Leads to score (default: data.leads).")
    ] = None,
    activities: Annotated[
        Path | None, typer.Option(help="Their activities (default: data.activities).")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            help="Scores file, or a database URL (postgresql://user@host:port/db, "
            "sqlite:///file.db) whose table lead_scores gets this run's rows "
            "(default: scoring.output)."
        ),
    ] = None,
    model_uri: ModelUriOpt = CHAMPION_URI,
    as_of: Annotated[str | None, typer.Option(help="Score as of this time (default: now).")] = None,
    engine: Annotated[
        str, typer.Option(help="local (this machine, streamed) or spark (mlflow spark_udf).")
    ] = "local",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars, no Spark log output.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(help="Also write an HTML scoring report here (stages, top SQLs, drift)."),
    ] = None,
    run_id: RunIdOpt = None,
    previous: PreviousOpt = None,
) -> None:
    """Score every lead in a file with the registered model; write scores atomically."""
    from pipeline import jobs
    from pipeline.progress import wanted
    from pipeline.serving.request import ScoreRequest

    cfg = load_config(config)
    request = ScoreRequest.for_files(
        cfg,
        leads,
        activities,
        output,
        model_uri,
        as_of,
        engine,
        progress=wanted(quiet),
        quiet=quiet,
        report=report,
        run_id=run_id,
        previous=previous,
        inputs=jobs.command_inputs(cfg, config),
    )
    done = jobs.score(request)
    echo(done.drift_lines, err=True)
    echo(console.score_lines(done, report))


@app.command()
@command
def explain(
    lead_ids: Annotated[list[str], typer.Argument(help="Lead ids to explain.")],
    config: ConfigOpt = DEFAULT_CONFIG,
    leads: Annotated[Path | None, typer.Option(help="Leads file (default: data.leads).")] = None,
    activities: Annotated[
        Path | None, typer.Option(help="Activities file (default: data.activities).")
    ] = None,
    model_uri: ModelUriOpt = CHAMPION_URI,
    as_of: Annotated[str | None, typer.Option(help="As of this time (default: now).")] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write a waterfall plot (by business field) of the first lead here."),
    ] = None,
) -> None:
    """Print a lead's probability, score, stage, fit and engagement sub-scores and every reason."""
    from pipeline.io.atomic import check_output_path
    from pipeline.jobs import command_inputs, explain_leads

    cfg = load_config(config)
    if plot is not None:
        from pipeline.explain.plots import check_plot_path

        reads = {"leads_file": leads, "activities_file": activities}
        check_output_path(plot, "waterfall plot", command_inputs(cfg, config, **reads))
        check_plot_path(plot)
    x = explain_leads(cfg, lead_ids, leads, activities, model_uri, as_of)
    echo(console.explain_lines(x))
    if plot is not None:
        import numpy as np

        from pipeline.explain.plots import lead_waterfall
        from pipeline.report.fmt import field_namer

        first = x.leads.iloc[[0]]
        as_of = np.full(1, x.as_of.to_datetime64())
        label = field_namer(x.scorer.meta.get("schema"))
        fig = lead_waterfall(x.scorer, first, x.events, as_of, label)
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=110, bbox_inches="tight")
        typer.echo(f"waterfall of {first.index[0]} -> {plot}")


@app.command()
@command
def monitor(
    outcomes: Annotated[
        Path, typer.Option(help="Outcomes of earlier scored leads (id + outcome).")
    ],
    config: ConfigOpt = DEFAULT_CONFIG,
    scores: Annotated[
        str | None,
        typer.Option(
            help="Scores file of that run, or the database URL scoring runs write to (its "
            "latest score per lead) (default: scoring.output)."
        ),
    ] = None,
) -> None:
    """Realised conversion per stage and per grade against what the model promised (mean
    probability); warns when a grade converts significantly below the grade under it."""
    from pipeline.jobs import monitor_and_log

    cfg = load_config(config)
    done = monitor_and_log(cfg, outcomes, scores or cfg.scoring.output)
    echo(done.warnings, err=True)
    echo(console.monitor_lines(done))


@app.command()
@command
def promote(version: Annotated[str, typer.Argument(help="Registered version to serve.")]) -> None:
    """Point the champion alias at VERSION (the previous champion is remembered for rollback)."""
    from pipeline.jobs import promote as run_promote

    prev = run_promote(version)
    typer.echo(f"champion: version {prev} -> {version}")


@app.command()
@command
def rollback() -> None:
    """Point champion back at the version it had before the last promotion."""
    from pipeline.jobs import rollback as run_rollback

    cur, prev = run_rollback()
    typer.echo(f"champion: version {cur} -> {prev}")


@app.command()
@command
def serve(
    model_uri: ModelUriOpt = CHAMPION_URI,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5001,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
) -> None:
    """Serve the registered model over REST (POST /invocations, as `mlflow models serve`), with
    malformed, too deep or mistyped requests answered by one line (HTTP 400)."""
    from pipeline.tracking.rest_app import serve as run_server

    run_server(model_uri, host, port, workers)


gate_app = typer.Typer(
    help="The promotion gate's thresholds, stored with the registered model (the registry's "
    "policy: a training config may tighten them for its own run, never loosen them).",
    no_args_is_help=True,
)
app.add_typer(gate_app, name="gate")


@gate_app.command("show")
@command
def gate_show() -> None:
    """Print the thresholds every new version must meet to become champion."""
    from pipeline.jobs import gate_policy

    typer.echo(console.gate_line(gate_policy()))


@gate_app.command("set")
@command
def gate_set(
    max_auc_drop: Annotated[
        float | None, typer.Option(help="Test AUC at most this far below the champion's.")
    ] = None,
    max_ece: Annotated[float | None, typer.Option(help="Highest test calibration error.")] = None,
    min_won: Annotated[int | None, typer.Option(help="Fewest won test leads.")] = None,
    min_lost: Annotated[int | None, typer.Option(help="Fewest lost test leads.")] = None,
    max_baseline_drop: Annotated[
        float | None,
        typer.Option(help="How far below a baseline's AUC is tolerated, if not significant."),
    ] = None,
    max_champion_age_days: Annotated[
        int | None,
        typer.Option(
            help="Older champions yield to a challenger not significantly worse (0: off)."
        ),
    ] = None,
) -> None:
    """Store new thresholds with the registered model (the options not given keep their value)."""
    from pipeline.jobs import gate_policy

    asked = {"max_auc_drop": max_auc_drop, "max_ece": max_ece}
    asked |= {"min_won": min_won, "min_lost": min_lost, "max_baseline_drop": max_baseline_drop}
    changes = {k: v for k, v in asked.items() if v is not None}
    if max_champion_age_days is not None:
        changes["max_champion_age_days"] = max_champion_age_days or None  # 0: off
    if not changes:
        raise ConfigError(
            "gate set: give at least one of --max-auc-drop, --max-ece, --min-won, --min-lost, "
            "--max-baseline-drop, --max-champion-age-days"
        )
    typer.echo(console.gate_line(gate_policy(changes)))


grades_app = typer.Typer(
    help="Probability floors of the A-D grades, stored with the registered model and kept "
    "across retrains (a grade means the same conversion chance whichever version scored).",
    no_args_is_help=True,
)
app.add_typer(grades_app, name="grades")


@grades_app.command("show")
@command
def grades_show() -> None:
    """Print the A-D floors every version grades with, and who set them when."""
    from pipeline.jobs import grade_floors

    typer.echo(console.grades_line(*grade_floors()))


@grades_app.command("set")
@command
def grades_set(
    floors: Annotated[
        list[str], typer.Argument(help="New floors, e.g. A=0.40 B=0.20 C=0.08 (others kept).")
    ],
) -> None:
    """Store new A-D probability floors with the registered model (who and when recorded)."""
    from pipeline.jobs import grade_floors

    typer.echo(console.grades_line(*grade_floors(floors)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
