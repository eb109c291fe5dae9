"""Scoring on Spark, for exports that outgrow one machine: `leadscore score --engine spark`.

The registered pyfunc model runs inside `mlflow.pyfunc.spark_udf` (env_manager="local": the
workers use the Python environment they already have, nothing is downloaded; the UDF is made by
`pipeline.tracking.pyfunc.spark_udf`, since only the tracking package imports mlflow), so Spark scores with
exactly the code and fitted artifact of the batch scorer. Each lead's events travel to the UDF as
a JSON `activities` column (a list of {type, occurred_at}), built by a group-by on the activities
table, which is the form the pyfunc model accepts.

The master is `local[2]` unless `LEADSCORE_SPARK_MASTER` (or `spark.master` of an existing
session / spark-submit) says otherwise. Rows are not screened one by one here: validate the export
first (`leadscore validate`), since a bad row fails its whole Arrow batch.

Drift is checked as on the local engine: a second Spark job (`mapInPandas` over the same cached
frame) builds each batch's features exactly as the UDF does and counts them into the training
reference's bins on the executors; only the counts come back to the driver. `quiet` starts the
JVM with an ERROR-level log4j2 configuration and no console progress bar.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.csvwrite import write_csv
from pipeline.io.rules import JAVA_ID_RULE
from pipeline.io.sinks import atomic_output, output_format
from pipeline.monitoring.drift import DriftCounter
from pipeline.serving.outputs import (
    GRADE,
    SEGMENT,
    SUBSCORES,
    ScoreSummary,
    format_scores,
    output_columns,
)
from pipeline.serving.request import ScoreRequest
from pipeline.serving.rest import request_events, use_events
from pipeline.serving.rows import drift_counter, model_schema, prepare_leads, required_columns

QUIET_LOG4J = Path(__file__).with_name("log4j2-quiet.properties")


def spark_session(master: str | None = None, quiet: bool = False):
    """A session on `master`, $LEADSCORE_SPARK_MASTER, or local[2] (a running one is reused).

    `quiet`: no JVM log lines below ERROR (a new JVM reads the quiet log4j2 file from its start,
    a running one is turned down with setLogLevel) and no console progress bar."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError(
            "--engine spark needs PySpark: install the extra with "
            "'uv sync --extra spark' or 'pip install .[spark]'"
        ) from None
    import sys

    # Local workers must run this interpreter (the one with the model's packages), not `python3`.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("leadscore")
    m = master or os.environ.get("LEADSCORE_SPARK_MASTER")
    active = SparkSession.getActiveSession()
    if m or not active:
        builder = builder.master(m or "local[2]")
    if quiet and not active:
        java = f"-Dlog4j2.configurationFile={QUIET_LOG4J.as_uri()}"
        builder = builder.config("spark.driver.extraJavaOptions", java)
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    session = (
        builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("LEADSCORE_SPARK_PARTITIONS", "8"))
        .getOrCreate()
    )
    if quiet:
        session.sparkContext.setLogLevel("ERROR")
        for name in ("py4j", "pyspark"):
            logging.getLogger(name).setLevel(logging.ERROR)
    return session


def result_type(n_reasons: int, segmented: bool = False):
    """The Spark schema of the pyfunc model's explained output (`model_segment` too when the
    model has segment models)."""
    from pyspark.sql import types as T

    reasons = [f"reason_{i + 1}" for i in range(n_reasons)]
    return T.StructType(
        [
            T.StructField("lead_id", T.StringType()),
            T.StructField("probability", T.DoubleType()),
            T.StructField("score", T.LongType()),
            T.StructField("stage", T.StringType()),
            *[T.StructField(r, T.StringType()) for r in reasons],
            *[T.StructField(c, T.LongType()) for c in (SUBSCORES if n_reasons > 0 else ())],
            T.StructField(GRADE, T.StringType()),
            *([T.StructField(SEGMENT, T.StringType())] if segmented else []),
        ]
    )


def read_leads_with_activities(
    cfg: Config, spark, id_col: str, leads_path: Path, activities_path: Path | None
):
    """The leads file as a Spark frame, each lead's events joined as a JSON `activities` column."""
    from pyspark.sql import functions as F

    reader = spark.read.option("header", True).option("sep", cfg.data.sep)
    reader = reader.option("inferSchema", False).option("encoding", cfg.data.encoding_for("leads"))
    missing = list(cfg.data.missing_values)

    def nullify(df):
        return df.select(
            *[F.when(F.col(c).isin(missing), None).otherwise(F.col(c)).alias(c) for c in df.columns]
        )

    leads = nullify(reader.csv(str(leads_path)))
    if id_col not in leads.columns:
        raise DataError(f"{leads_path}: column '{id_col}' (schema.lead_id) not found")
    leads = leads.withColumn(id_col, _normalized_id(F.col(id_col)))
    if activities_path is None:
        return leads
    ac = cfg.schema.activity
    ev = nullify(reader.csv(str(activities_path)))
    for c in (ac.lead_id, ac.timestamp, ac.type):
        if c not in ev.columns:
            raise DataError(f"{activities_path}: column '{c}' (schema.activity) not found")
    ev = ev.where(F.col(ac.type).isNotNull() & F.col(ac.timestamp).isNotNull())
    events = F.struct(F.col(ac.type).alias("type"), F.col(ac.timestamp).alias("occurred_at"))
    per_lead = ev.groupBy(_normalized_id(F.col(ac.lead_id)).alias("_lead")).agg(
        F.to_json(F.collect_list(events)).alias("activities")
    )
    joined = leads.drop("activities").join(per_lead, leads[id_col] == per_lead["_lead"], "left")
    return joined.drop("_lead")


def _normalized_id(col):
    """`rules.normalize_ids` in Spark's terms (`rules.JAVA_ID_RULE`): events join leads by the
    ids every other path matches."""
    from pyspark.sql import functions as F

    for pattern, replacement in JAVA_ID_RULE:
        col = F.regexp_replace(col, pattern, replacement)
    return F.when(col == "", None).otherwise(col)


def model_input_columns(leads, scorer) -> list:
    """The columns the model's signature lists, typed as it says: numeric fields as doubles (CSV
    reads them as text; thousands separators dropped, as the local engine does), nothing else,
    so no PII column travels to the UDF."""
    from pyspark.sql import functions as F

    sc = model_schema(scorer)
    keep = [*required_columns(scorer), sc.created_at, sc.email, "activities"]
    numeric = set(scorer.builder.numeric) - set(sc.flags)
    cols = []
    for c in leads.columns:
        if c not in keep:
            continue
        col = F.col(f"`{c}`")
        if c in numeric:
            col = F.regexp_replace(col, ",", "").cast("double").alias(c)
        cols.append(col)
    return cols


def drift_counts(leads, scorer, as_of: pd.Timestamp) -> DriftCounter:
    """Bin counts of the features the UDF sees, made on the executors and summed on the driver."""
    counter = drift_counter(scorer)
    ref = counter.ref
    if ref is None:
        return counter
    as_of64 = as_of.to_datetime64().astype("datetime64[ns]")

    def count(batches):
        for pdf in batches:
            canon = prepare_leads(pdf, scorer)
            events = request_events(pdf, model_schema(scorer).lead_id)[0]
            events = use_events(events, canon, as_of)
            X = scorer.features(canon, events, np.full(len(canon), as_of64))
            rows = [(f, i, float(v)) for f, n in ref.count(X).items() for i, v in enumerate(n)]
            yield pd.DataFrame([("", -1, float(len(X))), *rows], columns=["feature", "bin", "n"])

    schema = "feature string, bin int, n double"
    got = leads.mapInPandas(count, schema).groupBy("feature", "bin").sum("n").toPandas()
    got = got.rename(columns={"sum(n)": "n"}).sort_values(["feature", "bin"])
    n_rows = int(got.loc[got["bin"] == -1, "n"].sum())
    counts = {f: g["n"].to_numpy(dtype=float) for f, g in got[got["bin"] >= 0].groupby("feature")}
    counter.add_counts(counts, n_rows)
    return counter


def score_with_spark(request: ScoreRequest, spark, udf, scorer, version: str) -> ScoreSummary:
    """Score the request's leads file through the registered model's Spark UDF (`udf`, made by
    the tracking package from `request.udf_params()`); same columns as the local engine, and the
    same drift table. A `.csv` or `.csv.gz` output is collected and written atomically; a
    `.parquet` path is written by Spark as a parquet directory (the way on a cluster)."""
    from pyspark.sql import functions as F

    cfg, output = request.config, request.output_path
    sc = model_schema(scorer)
    leads = read_leads_with_activities(cfg, spark, sc.lead_id, request.leads, request.activities)
    leads = leads.cache()  # read and joined once for the scoring job and the drift job
    cols = model_input_columns(leads, scorer)
    scored = leads.select(udf(F.struct(*cols)).alias("r")).select("r.*")
    scored_at = pd.Timestamp.now(tz="UTC").floor("s").isoformat()
    if output_format(output) != "parquet":
        out = format_scores(scored.toPandas().set_index("lead_id"), version, scored_at)
        with atomic_output(output) as f:
            write_csv(f.buffer, out)  # type: ignore[attr-defined]
        n, stages = len(out), out["stage"].value_counts().to_dict()
    else:
        scored = scored.withColumn("model_version", F.lit(version))
        scored = scored.withColumn("scored_at", F.lit(scored_at))
        extra = [SEGMENT] if SEGMENT in scored.columns else []
        scored = scored.select(*output_columns(request.n_reasons), *extra)
        scored.write.mode("overwrite").parquet(str(output))
        counts = scored.groupBy("stage").count().collect()
        stages = {r["stage"]: int(r["count"]) for r in counts}
        n = sum(stages.values())
    drift = drift_counts(leads, scorer, request.as_of).table()
    leads.unpersist()
    return ScoreSummary(output, None, n, 0, version, stages, drift=drift, cutoffs=scorer.cutoffs)
