"""Typed configuration.

The YAML is the only thing a user edits to point the pipeline at their own export, so every key is
validated up front: a typo must fail at load time with the key's name, not deep inside training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.config_checks import (
    TIME_UNITS,
    check_date,
    check_encoding,
    check_half_lives,
    check_sep,
    check_snapshot_days,
    encoding_of,
)
from pipeline.errors import ConfigError

DEFAULT_CONFIG = Path("config/default.yaml")
# MLflow names of the contract (DESIGN.md), here so every layer names them from one place
EXPERIMENT = "lead-scoring"
SCORING_EXPERIMENT = "lead-scoring-scoring"
MODEL_NAME = "lead-scoring"
CHAMPION = "champion"
CHAMPION_URI = f"models:/{MODEL_NAME}@{CHAMPION}"  # what score, explain and serve use by default


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    leads: str = "data/raw/leads.csv"
    activities: str | None = None
    outcomes: str | None = None
    sep: str = ","
    missing_values: list[str] = Field(default_factory=lambda: ["", "NA", "Select"])
    oracle: str | None = None  # sample data only: true probabilities, read for evaluation only
    # one encoding for every file, or per table: {leads: utf-16, activities: utf-8} (others utf-8)
    encoding: str | dict[str, str] = "utf-8"
    decimal: Literal[".", ","] | None = None  # None: decided per numeric column over its values
    # true: the rows are in time order (oldest first) though no column dates them; the split and
    # the backtests go by position (the newest rows are the test), see pipeline/modeling/split.py
    rows_in_time_order: bool = False

    _sep = field_validator("sep")(check_sep)
    _encoding = field_validator("encoding", mode="before")(check_encoding)

    def encoding_for(self, table: str) -> str:
        """The encoding of one table ('leads', 'activities', 'outcomes'; others as leads)."""
        return encoding_of(self.encoding, table)


class OutcomeConfig(_Strict):
    column: str | None = "outcome"
    won: list[str] | Literal["present"] = Field(default_factory=lambda: ["won"])
    lost: list[str] | Literal["absent"] = Field(default_factory=lambda: ["lost"])
    closed_at: str | None = None  # when the outcome became known; snapshots never pass it
    # a loss without a close date is known this many days after creation (None: when 95% of
    # the wins had closed; see pipeline.features.known.py)
    lost_known_after_days: float | None = Field(default=None, gt=0)
    lead_id: str | None = None  # id column of data.outcomes when it differs from schema.lead_id

    @model_validator(mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for k in ("won", "lost"):
                if isinstance(v.get(k), str | int | bool) and v.get(k) not in ("present", "absent"):
                    v[k] = [v[k]]
                if isinstance(v.get(k), list):
                    v[k] = [str(x) for x in v[k]]
        return v


class ActivityConfig(_Strict):
    lead_id: str = "lead_id"
    timestamp: str = "occurred_at"
    type: str = "activity_type"
    timestamp_unit: TIME_UNITS | None = None  # integer epoch timestamps: s, ms, us or ns


class ColumnLabel(_Strict):
    """A column's name and values in words (`schema.labels`): reasons and reports show these."""

    name: str | None = None
    values: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        if isinstance(v, dict) and isinstance(v.get("values"), dict):
            v["values"] = {str(k): str(x) for k, x in v["values"].items()}
        return v


CONSTANT_REASON = "constant:"  # the `schema.drop_reasons` kind `validate` re-checks


class SchemaConfig(_Strict):
    lead_id: str = "lead_id"
    created_at: str | None = "created_at"
    outcome: OutcomeConfig = Field(default_factory=OutcomeConfig)
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)
    # why each `drop` column is dropped, as `init` decided it (column -> reason); a reason that
    # starts with CONSTANT_REASON claims one value in every filled row, which `validate` checks
    # against the whole file. Optional: a hand-written config may leave it out.
    drop_reasons: dict[str, str] = Field(default_factory=dict)
    email: str | None = None  # read only to derive business-vs-personal domain, never a feature
    flags: list[str] = Field(default_factory=list)  # Yes/No, Y/N, true/false -> 1/0 features
    # feature columns that are behaviour (visits, time on site): with the activity features they
    # make up engagement_score; every other feature is fit. Matters most on a flat export.
    engagement: list[str] = Field(default_factory=list)
    dayfirst: bool = False  # dates written 31.01.2026 / 31/01/2026 (day before month)
    created_at_unit: TIME_UNITS | None = None  # integer epoch created_at: s, ms, us or ns
    # words a salesperson reads: column -> "words", or column -> {name: words, values: {v: words}}
    labels: dict[str, str | ColumnLabel] = Field(default_factory=dict)
    # feature columns (also listed in numeric or categorical) that describe the period, not the
    # lead (an interest rate, an employment index): the model uses them; reports call them market
    # conditions, and a lead's reasons say them once, as "market conditions at the time"
    context: list[str] = Field(default_factory=list)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)

    @model_validator(mode="after")
    def _context_is_features(self) -> SchemaConfig:
        """A context column is a feature the reports name differently: it must be one."""
        missing = [c for c in self.context if c not in self.feature_columns()]
        if missing:
            raise ValueError(
                f"context: {', '.join(map(repr, missing))} not in schema.numeric, "
                "schema.categorical or schema.flags; list each context column there too"
            )
        return self

    def feature_columns(self) -> list[str]:
        """The export's columns the model learns from: categorical, then numeric, then flags.

        The one list that the checks, the reader, the feature builder and the MLflow dataset all
        take, so that none of them leaves a kind out (flags are read as 0/1 numbers)."""
        return [*self.categorical, *self.numeric, *self.flags]


class SqlTarget(_Strict):
    precision: float | None = Field(default=None, gt=0, lt=1)
    capacity_per_month: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> SqlTarget:
        if (self.precision is None) == (self.capacity_per_month is None):
            raise ValueError("give exactly one of precision or capacity_per_month")
        return self


class MqlTarget(_Strict):
    recall: float = Field(default=0.8, gt=0, lt=1)


class TargetsConfig(_Strict):
    sql: SqlTarget = Field(default_factory=lambda: SqlTarget(precision=0.5))
    mql: MqlTarget = Field(default_factory=MqlTarget)
    # N: a snapshot's label is "won within N days" (needs schema.outcome.closed_at); null: ever won
    horizon_days: int | None = Field(default=None, gt=0)


class LightGBMParams(_Strict):
    # None (the default): chosen by the training size (pipeline.modeling.params.SIZE_TABLE)
    n_estimators: int | None = Field(default=None, gt=0)  # the cap; early stopping picks fewer
    learning_rate: float | None = Field(default=None, gt=0)
    num_leaves: int = Field(default=8, ge=2)
    max_depth: int = 3  # shallow trees keep exact TreeSHAP reasons fast (cost ~ leaves x depth^2)
    min_child_samples: int | None = Field(default=None, ge=1)
    subsample: float = Field(default=0.8, gt=0, le=1)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_lambda: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=100, gt=0)
    # class re-weighting: allowed, but calibration on unweighted held-out data undoes its bias
    is_unbalance: bool = False
    scale_pos_weight: float = Field(default=1.0, gt=0)


class ScaleConfig(_Strict):
    """Shortcuts for large exports. They apply only from `min_snapshots` candidate snapshots up
    (every configured age of every labelled lead, before sampling); below that, training is exact
    and none of them changes anything, except `logreg_rows`: one cap at every size. Their measured
    cost is in docs/benchmarks.md ("Training at scale")."""

    min_snapshots: int = Field(default=300_000, ge=0)  # 0: always; a huge number: never
    snapshots_per_lead: int = Field(default=4, ge=0)  # last snapshot + seeded other ages (0: all)
    float32: bool = True  # feature matrix in float32 (half the memory)
    backtest_fit_rows: int = Field(default=50_000, gt=0)  # snapshots each backtest fits on, at most
    backtest_main_params: bool = True  # backtests refit with the main fit's LightGBM parameters
    backtest_early_stopping_rounds: int = Field(default=20, gt=0)  # backtests stop sooner
    # snapshots the logistic model fits on, at most: one cap at every size, threshold or not
    logreg_rows: int = Field(default=150_000, gt=0)


class DaskConfig(_Strict):
    """Training on a Dask cluster (`training.engine: dask`, docs/dask.md). Without a scheduler
    address (here, `--scheduler` or `DASK_SCHEDULER_ADDRESS`) a LocalCluster is started."""

    scheduler: str | None = None  # tcp://host:8786 of a running cluster; None: a LocalCluster
    workers: int | None = Field(default=None, ge=1)  # LocalCluster worker processes (None: cores)
    memory_limit: str = "3GB"  # per LocalCluster worker; the nanny restarts a worker past it
    partitions: int | None = Field(default=None, ge=1)  # lead partitions (None: 4 per worker)
    # snapshots per slice gathered to this process for early stopping, the logistic candidate,
    # calibration, cutoffs, evaluation, drivers and backtests: bounded whatever the data size
    gather_rows: int = Field(default=200_000, ge=1000)
    connect_timeout_s: float = Field(default=20.0, gt=0)  # a scheduler that does not answer
    # the activities file is read by the workers in blocks of this many MB (a parquet file: by
    # row group), never whole by this process
    block_mb: float = Field(default=64.0, gt=0)


class TrainingConfig(_Strict):
    seed: int = Field(default=42, ge=0, le=2**32 - 1)  # numpy and LightGBM take 32-bit seeds
    snapshot_days: list[int] = Field(default_factory=lambda: [1, 3, 7, 14, 21, 30, 45, 60, 90])
    val_share: float = Field(default=0.15, gt=0, lt=0.5)
    test_share: float = Field(default=0.15, gt=0, lt=0.5)
    calibration: Literal["auto", "isotonic", "sigmoid"] = "auto"
    min_category_count: int = Field(default=20, ge=1)
    max_activity_types: int = Field(default=40, ge=1)
    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams)
    test_start: str | None = None  # out-of-time test = leads created on/after this date
    backtest_months: int = Field(default=6, ge=0)  # rolling monthly backtests (0: off)
    # which outcomes each backtest month fits on: known before it began, or as at the export
    # (as the test split); auto: the first, else the second when it tests more months
    backtest_outcomes: Literal["auto", "as_known_then", "at_export"] = "auto"
    scale: ScaleConfig = Field(default_factory=ScaleConfig)  # shortcuts for large exports only
    slice_columns: list[str] = Field(
        default_factory=lambda: ["source_channel", "country", "company_size"]
    )
    # models fit on the same features; the best on the validation leads serves
    candidates: list[Literal["lightgbm", "logistic"]] = Field(
        default_factory=lambda: ["lightgbm", "logistic"], min_length=1
    )
    # the schema.context columns in the booster: auto = kept unless the validation leads rank
    # better without them (docs/configuration.md); use; leave_out
    context: Literal["auto", "use", "leave_out"] = "auto"
    engine: Literal["local", "dask"] = "local"  # dask: lightgbm.dask on a cluster (docs/dask.md)
    dask: DaskConfig = Field(default_factory=DaskConfig)

    _snapshot_days = field_validator("snapshot_days")(check_snapshot_days)
    _test_start = field_validator("test_start")(check_date)


class GateConfig(_Strict):
    """When a newly trained version may replace the champion (pipeline/evaluation/gate.py).

    The thresholds that apply are the registry's (`leadscore gate set`); a config's `gate:`
    section may only tighten them for its own run, a looser value is warned about and ignored.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # no threshold of inf or nan

    max_auc_drop: float = Field(default=0.01, ge=0, le=1)
    max_ece: float = Field(default=0.05, gt=0, le=1)
    min_won: int = Field(default=30, ge=0)  # won leads in the out-of-time test slice
    min_lost: int = Field(default=100, ge=0)
    # how far below a baseline's test AUC is tolerated when the paired test finds no significant
    # loss (a significant one refuses whatever this says)
    max_baseline_drop: float = Field(default=0.01, ge=0, le=1)
    # a champion older than this (days since it was registered) is replaced by a challenger that
    # is not significantly worse, whatever max_auc_drop says; None: off. A config may only make it
    # longer (or off): a shorter limit would let the challenger wave itself through.
    max_champion_age_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _off(cls, v: Any) -> Any:
        """The registry stores every key as text: 'None' (or 'off', '') reads back as off."""
        age = v.get("max_champion_age_days") if isinstance(v, dict) else None
        if isinstance(age, str) and age.strip().lower() in ("", "none", "off", "null"):
            v = {**v, "max_champion_age_days": None}
        return v


class LeakageConfig(_Strict):
    """Leakage suspects kept as features on purpose: a model that still uses a suspect is
    registered but not promoted unless the suspect is listed here."""

    accept: list[str] = Field(default_factory=list)


class CostsConfig(_Strict):
    """Cost of acquiring a lead, by channel: turns the funnel into cost per MQL / SQL / customer."""

    channel_column: str = "source_channel"
    per_lead: dict[str, float] = Field(default_factory=dict)
    default: float = Field(default=0.0, ge=0)


class GradeFloors(_Strict):
    """Probability floors of the A-D grades (D: below C). Calibrated probabilities make a fixed
    floor mean the same after a retrain (docs/outputs.md, grade)."""

    A: float = Field(gt=0, lt=1)
    B: float = Field(gt=0, lt=1)
    C: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> GradeFloors:
        if not self.A > self.B > self.C:
            raise ValueError(f"floors must fall from A to C (A > B > C); got {self.as_text()}")
        return self

    def as_text(self) -> str:
        return f"A={self.A:g} B={self.B:g} C={self.C:g}"


class ScoringConfig(_Strict):
    output: str = "data/scored/scores.csv"  # a file, or a database URL (postgresql://, sqlite:///)
    staging_dir: str = "data/scored"  # database output: staged scores, the rejected-rows file
    n_reasons: int = Field(default=3, ge=1, le=10)
    chunk_size: int = Field(default=100_000, gt=0)  # 3 in flight: ~1.5 GB at 1M leads
    # A-D probability floors the first registered model stores (None: drafted from its cutoffs);
    # later the registry's floors rule (`leadscore grades set`), as the gate's thresholds do
    grades: GradeFloors | None = None


class LifecycleConfig(_Strict):
    """When `leadscore retrain` trains (docs/lifecycle.md)."""

    retrain_every_days: float = Field(default=14, gt=0)  # champion at least this old: due
    # labelled leads the champion never trained on that make a retrain due (None: 10% of its
    # training outcomes)
    min_new_outcomes: int | None = Field(default=None, ge=1)


class ValidationConfig(_Strict):
    """Thresholds of `leadscore validate` (and of the same checks at the start of train)."""

    min_won: int = Field(default=100, ge=1)  # fewer won leads than this: refuse to train
    min_lost: int = Field(default=100, ge=1)
    leakage_auc: float = Field(default=0.9, gt=0.5, le=1)  # one column alone separates this well
    leakage_fill_gap: float = Field(default=0.5, gt=0, le=1)  # filled share won vs lost differs
    max_missing_share: float = Field(default=0.5, gt=0, le=1)  # warn above this
    id_like_share: float = Field(default=0.9, gt=0, le=1)  # distinct share of a categorical


class SegmentsConfig(_Strict):
    """A model per segment of one categorical column, each kept only where it beats the pooled
    model on that segment's validation leads (pipeline.modeling.segments). Off when `column` is None.

    40 won and 40 lost training leads by default: the floor Dynamics 365 sets per model, and about
    the fewest with which a segment's validation slice still holds enough of each outcome for
    DeLong's test to tell a real gain from noise (fewer only ever falls back to pooled)."""

    column: str | None = None  # a schema.categorical column (region, product line, team)
    min_won: int = Field(default=40, ge=2)  # won leads in the segment's training (fit) slice
    min_lost: int = Field(default=40, ge=2)
    max_segments: int = Field(default=10, ge=1, le=50)  # the most frequent values, at most


class ReportConfig(_Strict):
    # training reports' folder; relative to the working folder like data paths; default: a
    # `reports/` folder beside the config file
    dir: str | None = None


class FeaturesConfig(_Strict):
    # half-lives (days) of exponentially decayed activity counts per activity type: each event
    # weighs 0.5 ** (age / half-life), so the model learns how fast engagement fades; [] = off
    # (measured on the sample and the shapes: docs/configuration.md, "Engagement that decays")
    decay_half_life_days: list[float] = Field(default_factory=list, max_length=5)

    _decay = field_validator("decay_half_life_days")(check_half_lives)


class Config(_Strict):
    data: DataConfig = Field(default_factory=DataConfig)
    schema_: SchemaConfig = Field(default_factory=SchemaConfig, alias="schema")
    targets: TargetsConfig = Field(default_factory=TargetsConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    baseline_points: dict[str, float] = Field(default_factory=dict)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    costs: CostsConfig | None = None
    report: ReportConfig = Field(default_factory=ReportConfig)
    leakage: LeakageConfig = Field(default_factory=LeakageConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @property
    def schema(self) -> SchemaConfig:  # type: ignore[override]
        return self.schema_

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def _describe(err: ValidationError, path: Path) -> str:
    e = err.errors()[0]
    key = ".".join(str(p) for p in e["loc"] if p != "schema_") or "(top level)"
    key = key.replace("schema_", "schema")
    if e["type"] == "extra_forbidden":
        return f"{path}: unknown key '{key}'; check its spelling against config/default.yaml"
    if e["type"] == "missing":
        return f"{path}: missing key '{key}'"
    return f"{path}: key '{key}': {e['msg'].removeprefix('Value error, ')}"


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a YAML config; raise ConfigError with one line naming the problem."""
    p = Path(path) if path else DEFAULT_CONFIG
    if not p.exists():
        raise ConfigError(f"{p}: config file not found; pass --config or run 'leadscore init'")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{p}: not UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start}); save the "
            "config as UTF-8"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}: not valid YAML{where}; fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of keys (data, schema, targets, ...)")
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe(e, p)) from None
