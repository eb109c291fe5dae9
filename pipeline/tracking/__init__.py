"""MLflow, and only here: the tracking store, the pyfunc model, run logging, aliases and the gate.

No other package imports mlflow, so a change of MLflow's API touches this folder alone, and the
stages below stay testable without a tracking server. May import every stage package (io,
features, modeling, evaluation, explain, serving, monitoring, report); only `pipeline.jobs`,
the CLI and the notebook helper import this one.
"""

import os

# before mlflow is imported anywhere: no telemetry, no git warnings, no progress bars in logs
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# MLflow's own INFO/WARNING lines ("Creating initial MLflow database tables", "Detected uv project",
# "Failed to resolve installed pip version") say nothing a user can act on; LEADSCORE_DEBUG shows them
if not os.environ.get("LEADSCORE_DEBUG"):
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
