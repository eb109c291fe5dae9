"""Scoring on Spark, for exports that outgrow one machine: `leadscore score --engine spark`.

The registered pyfunc model runs inside `mlflow.pyfunc.spark_udf` (env_manager="local": the
workers use the Python environment they already have, nothing is downloaded), so Spark scores with
exactly the code and fitted artifact of the batch scorer. Each lead's events travel to the UDF as
a JSON `activities` column (a list of {type, occurred_at}), built by a group-by on the activities
table, which is the form the pyfunc model accepts.

The master is `local[2]` unless `LEADSCORE_SPARK_MASTER` (or `spark.master` of an existing
session / spark-submit) says otherwise. Rows are not screened one by one here: validate the export
first (`leadscore validate`), since a bad row fails its whole Arrow batch.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.data import DataError
from pipeline.score import SUBSCORES, ScoreSummary, _columns, _format, model_schema, write_atomic

RESULT_FIELDS = ["lead_id", "probability", "score", "stage"]


def spark_session(master: str | None = None):
    """A session on `master`, $LEADSCORE_SPARK_MASTER, or local[2] (a running one is reused)."""
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
    if m or not SparkSession.getActiveSession():
        builder = builder.master(m or "local[2]")
    return (
        builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("LEADSCORE_SPARK_PARTITIONS", "8"))
        .getOrCreate()
    )


def score_with_spark(
    cfg: Config,
    model_uri: str,
    leads_path: Path,
    activities_path: Path | None,
    output: Path,
    as_of: pd.Timestamp,
    master: str | None = None,
) -> ScoreSummary:
    """Score a leads file through the registered model's spark_udf; same columns as the local
    engine. A `.csv` output is collected and written atomically; any other path is written by
    Spark as a parquet directory (the way to go on a cluster)."""
    import mlflow

    from pipeline import registry

    spark = spark_session(master)
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    version = registry.resolve_model_version(model_uri)
    scorer, _ = registry.load_scorer(model_uri)
    sc = model_schema(scorer)
    n_reasons = cfg.scoring.n_reasons
    reader = spark.read.option("header", True).option("sep", cfg.data.sep)
    reader = reader.option("inferSchema", False).option("encoding", cfg.data.encoding)
    missing = list(cfg.data.missing_values)

    def nullify(df):
        return df.select(
            *[F.when(F.col(c).isin(missing), None).otherwise(F.col(c)).alias(c) for c in df.columns]
        )

    leads = nullify(reader.csv(str(leads_path)))
    if sc.lead_id not in leads.columns:
        raise DataError(f"{leads_path}: column '{sc.lead_id}' (schema.lead_id) not found")
    if activities_path is not None:
        ac = cfg.schema.activity
        ev = nullify(reader.csv(str(activities_path)))
        for c in (ac.lead_id, ac.timestamp, ac.type):
            if c not in ev.columns:
                raise DataError(f"{activities_path}: column '{c}' (schema.activity) not found")
        ev = ev.where(F.col(ac.type).isNotNull() & F.col(ac.timestamp).isNotNull())
        per_lead = ev.groupBy(F.col(ac.lead_id).alias("_lead")).agg(
            F.to_json(
                F.collect_list(
                    F.struct(F.col(ac.type).alias("type"), F.col(ac.timestamp).alias("occurred_at"))
                )
            ).alias("activities")
        )
        leads = leads.drop("activities").join(
            per_lead, leads[sc.lead_id] == per_lead["_lead"], "left"
        )
        leads = leads.drop("_lead")
    reasons = [f"reason_{i + 1}" for i in range(n_reasons)]
    result_type = T.StructType(
        [
            T.StructField("lead_id", T.StringType()),
            T.StructField("probability", T.DoubleType()),
            T.StructField("score", T.LongType()),
            T.StructField("stage", T.StringType()),
            *[T.StructField(r, T.StringType()) for r in reasons],
            *[T.StructField(c, T.LongType()) for c in (SUBSCORES if n_reasons > 0 else ())],
        ]
    )
    udf = mlflow.pyfunc.spark_udf(
        spark,
        model_uri,
        result_type=result_type,
        env_manager="local",
        params={"as_of": as_of.isoformat(), "explain": True, "n_reasons": n_reasons},
    )
    cols = [F.col(f"`{c}`") for c in leads.columns]
    scored = leads.select(udf(F.struct(*cols)).alias("r")).select("r.*")
    scored_at = pd.Timestamp.now(tz="UTC").floor("s").isoformat()
    if output.suffix.lower() == ".csv":
        res = scored.toPandas().set_index("lead_id")
        out = _format(res, version, scored_at)
        write_atomic(out, output)
        n, stages = len(out), out["stage"].value_counts().to_dict()
    else:
        scored = scored.withColumn("model_version", F.lit(version))
        scored = scored.withColumn("scored_at", F.lit(scored_at)).select(*_columns(n_reasons))
        scored.write.mode("overwrite").parquet(str(output))
        counts = scored.groupBy("stage").count().collect()
        stages = {r["stage"]: int(r["count"]) for r in counts}
        n = sum(stages.values())
    return ScoreSummary(
        output=output,
        rejected_path=None,
        n_scored=n,
        n_rejected=0,
        model_version=version,
        stages=stages,
    )
