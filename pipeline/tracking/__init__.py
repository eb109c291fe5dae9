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
# "Failed to resolve installed pip version") say nothing a user can act on, and its ERROR lines are
# a store's failure with its whole traceback, which we end in one line naming the store and the
# cause; LEADSCORE_DEBUG shows them
if not os.environ.get("LEADSCORE_DEBUG"):
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "CRITICAL")
# a tracking server that does not answer ends in one line within ~15 s, not after MLflow's default
# 7 retries with backoff and 120 s timeouts (~4 min): 3 tries of at most 4 s without a byte, 2 s
# of backoff between them; a user's own values win
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "4")
