"""The jobs, wired in one place: each reads its inputs, calls the pure stages, logs to MLflow and
writes its outputs. The CLI only parses options and prints; notebooks call the same functions.

    train    load -> validate -> train (pure) -> gate vs champion -> log run -> register -> aliases
    score    model from the registry -> batch scorer (or Spark) -> drift -> scoring run
    explain  model -> a few leads' scores and reasons (the CLI and notebook 3.0 share it)
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml

from pipeline.config import CHAMPION_URI, Config, GateConfig, GradeFloors, LightGBMParams
from pipeline.errors import DataError, StorageError
from pipeline.evaluation.gate import target_definition
from pipeline.io import fastcsv
from pipeline.io.atomic import Inputs, check_output_path, refuse_inputs, write_text_atomic
from pipeline.io.canonical import drop_before_created, load_events, load_leads
from pipeline.io.eventfacts import EventFacts, report_event_losses
from pipeline.io.keys import MatchCount
from pipeline.io.readers import read_table
from pipeline.io.rules import normalize_ids, parse_as_of
from pipeline.io.sinks import output_lock, read_table_output
from pipeline.modeling.prepare import split_for_training
from pipeline.modeling.scorer import LeadScorer
from pipeline.monitoring.monitor import Monitored, monitor, read_scores_file
from pipeline.report.scoring import scoring_report
from pipeline.report.training import training_report
from pipeline.serving import database
from pipeline.serving.batch import score_files
from pipeline.serving.outputs import ScoreSummary
from pipeline.serving.request import ScoreRequest
from pipeline.serving.rows import prepare_leads
from pipeline.tracking import gate, grades, lifecycle, pyfunc, recovery, registry, runs, store
from pipeline.training.backtest import worker_pool
from pipeline.training.cadence import Decision, decide, id_hashes
from pipeline.training.config_rules import config_problems
from pipeline.training.train import TrainResult, train
from pipeline.training.tune import TuneResult, tune
from pipeline.validation.checks import Report, check_training_data
from pipeline.validation.claims import check_constant_claims

if TYPE_CHECKING:
    from pipeline.training.partitions import ClusterExport

log = logging.getLogger(__name__)
DEFAULT_MODEL_URI = CHAMPION_URI


def load_training_data(cfg: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical leads (with outcomes) and the events of those leads."""
    leads = load_leads(cfg)
    match = MatchCount("activities", n_leads=len(leads))
    events = fastcsv.training_events(cfg, leads.index, match)
    no_time = events["ts"].isna()
    events, before = drop_before_created(leads, events[~no_time].reset_index(drop=True))
    report_event_losses(cfg, leads, match, int(no_time.sum()), before)
    return leads, events


@dataclass
class TrainingInputs:
    """What training reads: the canonical leads, and the events whole (`training.engine:
    local`) or their facts while the events sit on a Dask cluster's workers (`cluster`)."""

    leads: pd.DataFrame
    events: pd.DataFrame | EventFacts
    cluster: ClusterExport | None = None

    def take_events(self) -> pd.DataFrame | EventFacts:
        """The events for training, no longer held here (their facts stay): training lets the
        frame go once its rows are built, 0.3 GB less while a 1M-lead booster fits."""
        events = self.events
        if isinstance(events, pd.DataFrame):
            self.events = EventFacts.of(events, self.leads.index, pd.Timestamp.now())
        return events


@contextmanager
def training_inputs(cfg: Config) -> Iterator[TrainingInputs]:
    """The export as the engine reads it: here whole (local), or the activities by the workers
    of the Dask cluster, partitioned by lead id, for as long as the block runs (dask)."""
    if cfg.training.engine != "dask":
        yield TrainingInputs(*load_training_data(cfg))
        return
    from pipeline.training.partitions import cluster_export

    with cluster_export(cfg) as (leads, export):
        yield TrainingInputs(leads, export.facts, export)


def load_oracle(cfg: Config) -> pd.DataFrame | None:
    """The sample generator's true probabilities, if configured: evaluation only, never fitting."""
    if not cfg.data.oracle or not Path(cfg.data.oracle).exists():
        return None
    return read_table(cfg.data.oracle, cfg, "oracle file").astype({"true_probability": float})


def command_inputs(cfg: Config | None, config_path: str | Path | None = None, **more) -> Inputs:
    """What a command reads, which none of its outputs may overwrite: the config file, the data
    files it names, `more` (what=path, e.g. leads_file=...) and the local tracking store."""
    inputs = Inputs().add(config_path, "config file")
    if cfg is not None:
        d = cfg.data
        named = {"leads file": d.leads, "activities file": d.activities}
        named |= {"outcomes file": d.outcomes, "oracle file": d.oracle}
        for what, path in named.items():
            inputs = inputs.add(path, what)
    for what, path in more.items():
        inputs = inputs.add(path, what.replace("_", " "))
    return store.protect_store(inputs)


def validate_data(cfg: Config) -> Report:
    """Every check `leadscore validate` prints (train runs the same ones first), and the claims
    `init` recorded about the whole file (a column dropped as constant, `schema.drop_reasons`)."""
    leads, events = load_training_data(cfg)
    report = check_before_training(cfg, leads, events)
    check_constant_claims(cfg, report)
    return report


def left_out_words(cfg: Config, leads: pd.DataFrame, events: pd.DataFrame | EventFacts) -> str:
    """The labelled leads training will leave out as too recent, with the rule ('' if none)."""
    logging.disable(logging.INFO)  # validate says it once, in its own report line
    try:
        left = split_for_training(cfg, leads, events)[1].left_out  # the rule training applies
    finally:
        logging.disable(logging.NOTSET)
    if not left.leads:
        return ""
    return f"{left.leads:,} labelled leads will be left out as too recent (rule: {left.rule()})"


def check_before_training(
    cfg: Config, leads: pd.DataFrame, events: pd.DataFrame | EventFacts
) -> Report:
    """The one set of checks `train` and `validate` both run before any fitting: the data's
    (`check_training_data`) and the config's that fitting would otherwise find late
    (`config_problems`: segments on a column that is no feature, a horizon without dates or
    longer than the history). So `validate` never says ok to a config `train` refuses. `events`:
    the frame, or with the Dask engine the facts of the events its workers hold."""
    report = check_training_data(cfg, leads, events, left_out=left_out_words(cfg, leads, events))
    for problem in config_problems(cfg, leads, events):
        report.add("error", "config", problem)
    return report


@dataclass
class Trained:
    result: TrainResult
    version: str
    aliases: list[str]
    run_id: str
    gate: object
    report: Path | None = None


def reports_dir(cfg: Config | None = None, config_path: str | Path | None = None) -> Path:
    """`report.dir`, else reports/ beside the config file (the folder of the project the config
    describes, not of the tracking store); ./reports without a config."""
    if cfg is not None and cfg.report.dir:
        return Path(cfg.report.dir)
    return Path(config_path).parent / "reports" if config_path else Path("reports")


def train_and_register(
    cfg: Config, config_path: str | Path, now: pd.Timestamp | None = None
) -> Trained:
    """Train, log the run, register the model; it becomes champion only if it passes the gate.

    The data checks refuse before any MLflow output; from then on everything happens inside the
    training run, so its duration is the training's and a crash leaves it FAILED. The champion is
    scored on its own inputs outside the lock (the slow part); the decision is taken again under
    the champion lock right before the alias moves (`gate.decide_and_move`). The version is
    registered with a pending `gate_reason`, so a kill before the decision is visible and repaired
    at the next start (`recovery`). A store that cannot be written ends in one line. `now`
    is the clock of the champion's age (`retrain --now`); the data's own dates are unchanged.
    """
    folder, inputs = reports_dir(cfg, config_path), command_inputs(cfg, config_path)
    write_report("", "", folder, inputs, dry=True)  # a report folder among the inputs: refused now
    with training_inputs(cfg) as data:
        check_before_training(cfg, data.leads, data.events).log_and_raise()  # before any MLflow
        html, version, run, result, final = _train_and_register(cfg, config_path, now, data)
    aliases = [store.CHALLENGER] + ([store.CHAMPION] if final.passed else [])
    page = write_report(html, version, folder, inputs)
    return Trained(result, version, aliases, run.info.run_id, final, page)


def _train_and_register(
    cfg: Config, config_path: str | Path, now: pd.Timestamp | None, data: TrainingInputs
) -> tuple:
    """The training run of `train_and_register`, inside the engine's inputs (with the Dask
    engine the events stay on the cluster's workers until training is done):
    (report html, version, run, result, gate result)."""
    leads = data.leads
    with store.storage_errors():
        client = store.setup()
        recovery.repair_interrupted(client)
        with runs.training_run(cfg) as run, worker_pool() as pool, TemporaryDirectory() as figs:
            runs.log_training_data(cfg, leads)
            n_outcomes = lifecycle.log_trained_outcomes(leads)  # what `retrain` counts against
            # the backtest refits go on in `pool` while the gate scores the champion and the
            # figures are drawn; logging the run waits for them
            # the model keeps its data config: a later gate reads the champion's own inputs
            meta = {"data": gate.data_meta(cfg)}
            result = train_on_engine(cfg, data, load_oracle(cfg), pool, meta)
            accept = tuple(cfg.leakage.accept)
            judge = gate.GateRun(
                cfg.gate, bool(cfg.baseline_points), leakage_accept=accept, now=now
            )
            first = gate.check_against_champion(client, result, judge)
            runs.draw_figures(result, Path(figs))
            runs.log_training_run(cfg, config_path, result, first, Path(figs))
            example = pyfunc.input_example(result.scorer, result.shap_sample[1])
            tags = {"run_id": run.info.run_id, "gate_reason": gate.PENDING}
            tags[lifecycle.OUTCOMES_TAG] = str(n_outcomes)
            floors, source = grades.floors_for_training(client, cfg, result.scorer)
            result.scorer.meta["grades"] = floors.model_dump()  # the registry's, when it has any
            tags["target"] = target_definition(result.info.get("horizon_days"))
            version, _ = pyfunc.log_model_version(result.scorer, example, tags)
            if source:  # the first registered model's floors become the registry's
                grades.store_floors(client, floors, f"{source}, train of version {version}")
            registry.set_alias(client, store.CHALLENGER, version)
            final = gate.decide_and_move(client, result, judge, version, run.info.run_id)
            html = training_report(cfg, result, final, version, cfg.schema.drop_reasons)
            runs.log_report(html)
    return html, version, run, result, final


def train_on_engine(
    cfg: Config,
    data: TrainingInputs,
    oracle: pd.DataFrame | None,
    pool: Executor,
    meta: dict,
) -> TrainResult:
    """`training.engine`: this process (`local`), or the Dask cluster the inputs were read on
    (`dask`, imported only then: the local engine never pays for loading dask)."""
    if data.cluster is not None:
        from pipeline.training.distributed import train_dask

        return train_dask(cfg, data.leads, data.cluster, oracle, pool, meta)
    return train(cfg, data.leads, data.take_events(), oracle, pool, meta)


def write_report(
    html: str,
    version: str,
    folder: Path | None = None,
    inputs: Inputs | None = None,
    dry: bool = False,
) -> Path:
    """{folder}/lead-scoring-v{version}-training.html, and the same page as
    lead-scoring-latest-training.html; neither may be one of `inputs` (`dry`: only check)."""
    folder = folder or reports_dir()
    path = folder / f"{store.MODEL_NAME}-v{version or 'N'}-training.html"
    latest = folder / f"{store.MODEL_NAME}-latest-training.html"
    checks = [(folder, "reports folder (report.dir)"), (path, "training report")]
    refuse_inputs([*checks, (latest, "training report")], inputs or Inputs())
    if not dry:
        write_text_atomic(html, path)
        write_text_atomic(html, latest)
    return path


def tune_and_write(cfg: Config, config_path: Path, trials: int, out: Path) -> TuneResult:
    """Search booster parameters on the validation slice; write them into a copy of the config.
    The data and config are checked as `train` checks them, so tuning never spends its trials on
    an export `train` would refuse."""
    check_output_path(out, "tuned config", command_inputs(cfg, config_path))
    leads, events = load_training_data(cfg)
    check_before_training(cfg, leads, events).log_and_raise()
    result = tune(cfg, leads, events, trials)
    write_tuned_config(config_path, result.best_params, out)
    return result


def write_tuned_config(config_path: str | Path, best: dict, out: str | Path) -> Path:
    """A copy of the input config with `training.lightgbm` updated by the tuned values."""
    raw = copy.deepcopy(yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {})
    lgbm = raw.setdefault("training", {}).setdefault("lightgbm", {}) or {}
    lgbm.update({k: (round(v, 6) if isinstance(v, float) else v) for k, v in best.items()})
    raw["training"]["lightgbm"] = lgbm
    LightGBMParams.model_validate(lgbm)
    header = f"# {Path(config_path).name} with training.lightgbm tuned by `leadscore tune`\n"
    write_text_atomic(header + yaml.safe_dump(raw, sort_keys=False), out)
    return Path(out)


@dataclass
class Scored:
    summary: ScoreSummary
    seconds: float
    drift_lines: list[str]


def score(request: ScoreRequest) -> Scored:
    """Score a leads file with a registered model, then log the scoring run with its drift.

    `request.output` is a file, or a database URL: the run's rows are then appended to
    `lead_scores` under `request.run_id` (give one to make a retried job replace its own rows).
    `request.quiet` also keeps Spark's own log output (JVM warnings, stage progress) off the
    terminal. With `request.report`, also write the scoring report (stages, top SQLs, drift).
    """
    from pipeline.monitoring.drift import warning_lines

    with store.storage_errors("cannot read the tracking store"):
        store.setup()
    t = time.perf_counter()
    s = _score_to_output(request)
    lines: list[str] = []
    if s.drift is not None:
        lines = warning_lines(s.drift, s.n_scored)
        log_scoring_or_warn(s, request, time.perf_counter() - t)
    if request.report is not None:
        top = read_top_leads(s.output)
        when, seconds = request.as_of.isoformat(), time.perf_counter() - t
        html = scoring_report(s, top, when, request.model_uri, seconds)
        write_text_atomic(html, request.report)
    return Scored(s, time.perf_counter() - t, lines)


def _score_to_output(request: ScoreRequest) -> ScoreSummary:
    """The scores file, or a staged file appended to the database in one transaction."""

    earlier = None

    def to_file(out: Path) -> ScoreSummary:
        staged = replace(request, output=str(out))
        if request.engine == "spark":
            return _score_spark(staged)
        scorer, version = pyfunc.load_scorer(request.model_uri)
        return score_files(staged, scorer, version, earlier)

    if not database.is_database_url(request.output):
        with output_lock(request.output_path):  # a second run to this file is refused
            return to_file(request.output_path)
    if request.previous is None:  # the database's own history, unless a file is given
        earlier = database.read_previous(request.output, request.run_id)
    staging = Path(request.config.scoring.staging_dir)
    return database.score_into(request.output, request.run_id, request.as_of, staging, to_file)


def read_top_leads(output: Path, n: int = 200) -> pd.DataFrame | None:
    """The best-scored rows of a scores file (csv, or Spark's parquet folder) for the report;
    None for an output this job cannot read back."""
    path = Path(output)
    if not path.exists():
        return None
    df = read_table_output(path)
    keep = ["lead_id", "probability", "score", "stage"]
    df = df[keep + [c for c in df.columns if c.startswith("reason_")]]
    return df.nlargest(n, "probability")


def log_scoring_or_warn(s: ScoreSummary, request: ScoreRequest, seconds: float) -> None:
    """The scores are written by now: a tracking store that cannot log the run is a warning."""
    try:
        with store.storage_errors("cannot log the scoring run"):
            runs.log_scoring_run(s, request.model_uri, seconds, request.leads, request.engine)
    except StorageError as e:
        log.warning("warning: %s; the scores in %s are complete", e, s.output)


def _score_spark(request: ScoreRequest) -> ScoreSummary:
    from pipeline.serving import spark

    session = spark.spark_session(quiet=request.quiet)
    version = pyfunc.resolve_model_version(request.model_uri)
    scorer, _ = pyfunc.load_scorer(request.model_uri)
    # all or nothing, as before: the Spark output has no rejected-rows file yet
    result = spark.result_type(request.n_reasons, segmented=hasattr(scorer, "models"))
    udf = pyfunc.spark_udf(session, request.model_uri, result, request.udf_params())
    return spark.score_with_spark(request, session, udf, scorer, version)


@dataclass
class Explained:
    scores: pd.DataFrame  # index = lead id, in the order asked for
    version: str
    as_of: pd.Timestamp
    scorer: LeadScorer
    leads: pd.DataFrame  # canonical
    events: pd.DataFrame


def explain_leads(
    cfg: Config,
    lead_ids: list[str],
    leads_path: Path | None = None,
    activities: str | Path | None = None,
    model_uri: str = DEFAULT_MODEL_URI,
    as_of: str | pd.Timestamp | None = None,
    n_reasons: int | None = None,
) -> Explained:
    """Scores, sub-scores and every reason of a few leads, read from an export as the scorer would.

    `n_reasons` defaults to every business field, so nothing the model weighed is hidden.
    """
    when = as_of if isinstance(as_of, pd.Timestamp) else parse_as_of(as_of)
    store.setup()
    scorer, version = pyfunc.load_scorer(model_uri)
    path = Path(leads_path or cfg.data.leads)
    raw = read_table(path, cfg, "leads file")
    id_col = scorer.meta["schema"]["lead_id"]
    lead_ids = [str(i) for i in normalize_ids(pd.Series(lead_ids, dtype="string")).dropna()]
    raw = raw[normalize_ids(raw[id_col]).isin(lead_ids).to_numpy(bool)]
    missing = sorted(set(lead_ids) - set(normalize_ids(raw[id_col]).dropna()))
    if missing:
        raise DataError(f"{path}: lead id(s) {', '.join(missing)} not found in column '{id_col}'")
    canon = prepare_leads(raw, scorer, path)
    canon = canon.loc[[i for i in dict.fromkeys(lead_ids) if i in canon.index] or canon.index]
    acts = activities if activities is not None else cfg.data.activities
    skipped: list[pd.DataFrame] = []  # rows without a usable time: left out, as the scorer does
    events = load_events(cfg, acts or None, lead_ids=canon.index, rejected=skipped)
    events = drop_before_created(canon, events)[0]
    n = n_reasons or len(set(scorer.builder.feature_fields.values()))
    out = scorer.score(canon, events, np.full(len(canon), when.to_datetime64()), n)
    return Explained(out, version, when, scorer, canon, events)


def monitor_and_log(cfg: Config, outcomes: Path, scores: str | Path) -> Monitored:
    """Realised conversion per stage and per grade against what the model promised; logged as
    a monitor run.

    `scores` is a scores file or the database URL a scoring run wrote to (its latest view); its
    `grade` column is read when it has one (scores written before grades existed have none)."""
    need = ["lead_id", "probability", "stage"]
    if database.is_database_url(str(scores)):
        database.check_url(str(scores))
        source = database.safe_url(str(scores))
        frame = database.read_latest(str(scores), need, optional=("grade",))
    else:
        source = str(scores)
        frame = read_scores_file(Path(scores), need)
    done = monitor(cfg, outcomes, frame, source)
    store.setup()
    with store.storage_errors("cannot log the monitoring run"):
        runs.log_monitor_run(done, outcomes, source)
    return done


def promote(version: str, reason: str = "leadscore promote") -> str | None:
    """Point champion at `version`; returns the previous champion."""
    with store.storage_errors():
        client = store.setup()
        recovery.repair_interrupted(client)
        registry.require_version(client, version)
        with registry.champion_lock(client):
            return registry.move_champion(client, store.MODEL_NAME, version, reason)


def rollback() -> tuple[str | None, str]:
    """Point champion back at the version before it on the champion history: (from, to).

    Repeated, it walks back along the promotions (3 -> 2 -> 1, `registry.champion_stack`) and
    says so in one line when there is nothing earlier; it never toggles (3 -> 2 -> 3).
    """
    from pipeline.errors import RegistryError

    with store.storage_errors():
        client = store.setup()
        recovery.repair_interrupted(client)
        with registry.champion_lock(client):
            cur, prev = registry.rollback_target(client)
            if prev is None:
                raise RegistryError(
                    f"no previous champion to roll back to: version {cur} is the oldest champion "
                    "on record; use 'leadscore promote VERSION'"
                )
            reason = f"{registry.ROLLBACK_REASON} from version {cur}"
            registry.move_champion(client, store.MODEL_NAME, prev, reason, rollback=True)
    return cur, prev


def gate_policy(changes: dict[str, float | int] | None = None) -> GateConfig:
    """The registry's gate thresholds; with `changes`, store them first (`leadscore gate set`)."""
    with store.storage_errors():
        client = store.setup()
        if changes:
            return registry.set_gate_policy(client, changes)
        return registry.gate_policy(client)


@dataclass
class Retrained:
    decision: Decision
    line: str  # `not due: ...` or `due: ...`
    trained: Trained | None = None


def retrain(
    cfg: Config, config_path: str | Path, now: str | None = None, force: bool = False
) -> Retrained:
    """Train only when due (`pipeline.training.cadence.decide`): then exactly `train`'s path, the
    gate included, with `now` as the clock of the champion's age. Not due: nothing is written
    to MLflow (the registry is read with a client that creates nothing)."""
    when = parse_as_of(now, "--now")
    with store.storage_errors("cannot read the tracking store"):
        champion = lifecycle.serving_version(lifecycle.read_client())
    if champion is not None and now is None:  # the clock read to the second: never before it
        when = max(when, champion.registered_at)
    if champion is not None and when < champion.registered_at:
        raise DataError(
            f"--now {when.isoformat()}: before champion version {champion.version} was "
            f"registered ({champion.registered_at.isoformat(timespec='seconds')}); give a later time"
        )
    labelled = np.empty(0, dtype=np.uint64)
    if champion is not None and champion.trained_ids is not None:
        leads = load_leads(cfg)
        labelled = id_hashes(leads.index[leads["_label"].notna()])
    decision = decide(champion, labelled, when, cfg.lifecycle, force)
    line = decision.line(champion, cfg.lifecycle.retrain_every_days)
    if not decision.due:
        return Retrained(decision, line)
    return Retrained(decision, line, train_and_register(cfg, config_path, now=when))


def grade_floors(pairs: list[str] | None = None) -> tuple[GradeFloors | None, str | None]:
    """The registry's A-D floors and who set them; with `pairs` (A=0.4 ...), store them first
    (`leadscore grades set`: the floors every version grades with from now on)."""
    with store.storage_errors():
        client = store.setup()
        if pairs:
            floors = grades.parse_assignments(pairs, grades.stored_floors(client)[0])
            return floors, grades.store_floors(client, floors, "leadscore grades set")
        return grades.stored_floors(client)
