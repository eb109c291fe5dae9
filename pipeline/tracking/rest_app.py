"""`leadscore serve`: the registered pyfunc model behind MLflow's own scoring app, with a guard on
`/invocations` so a client always gets valid JSON and one line it can act on.

MLflow's scoring server parses the request before the model runs: a body that is not JSON comes
back with the whole body echoed, JSON nested 10,000 deep is a bare 500 (Python's recursion
limit), a parameter of the wrong type echoes the request's data frame, and some errors carry
a stack trace. The guard reads the body first (UTF-8 JSON object, at most `MAX_DEPTH` levels,
one input key, parameters of the model's types) and answers a 400 with one line naming what is
wrong, never the values sent; what passes goes to MLflow's app unchanged (same `/ping`,
`/health`, `/version`, request format and signature enforcement), and any error answer it gives
is cut to one line without a stack trace or an echo of the request.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from pipeline.errors import DataError
from pipeline.tracking.serve import SOURCE

log = logging.getLogger(__name__)

MAX_DEPTH = 32  # a request's own nesting is 6 (dataframe_split > data > row > activities > event)
MODEL_ENV = "LEADSCORE_SERVE_MODEL_URI"  # the model each uvicorn worker loads (--workers > 1)
INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")  # MLflow's formats
JSON_TYPES = {"string": str, "boolean": bool, "long": int, "integer": int, "double": (int, float)}
WORDS = {"string": "a string", "boolean": "true or false", "long": "an integer"}


def _json_type(value: Any) -> str:
    names = {bool: "boolean", str: "string", list: "list", dict: "object", type(None): "null"}
    return names.get(type(value), "number")


def _depth(obj: Any) -> int:
    """How deeply lists and objects nest (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, d)
            if d <= MAX_DEPTH:
                stack.extend(
                    (v, d + 1) for v in (node.values() if isinstance(node, dict) else node)
                )
    return deepest


def read_request(body: bytes, param_types: dict[str, str]) -> dict:
    """The JSON object of a scoring request, or a `DataError` with one line that names the
    problem (never a value from the request). `param_types`: parameter name -> MLflow type."""
    try:
        parsed = json.loads(body)
    except UnicodeDecodeError:
        raise DataError("request body: not UTF-8 text; send JSON encoded as UTF-8") from None
    except json.JSONDecodeError as e:
        raise DataError(
            f"request body: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from None
    except RecursionError:
        parsed = None
    if parsed is None or _depth(parsed) > MAX_DEPTH:
        raise DataError(
            f"request body: JSON nested deeper than {MAX_DEPTH} levels; send the leads as "
            "dataframe_split or dataframe_records"
        )
    if not isinstance(parsed, dict):
        raise DataError(f"request body: a JSON object is expected, not a {_json_type(parsed)}")
    keys = [k for k in INPUT_KEYS if k in parsed]
    if len(keys) != 1:
        raise DataError(
            "request body: exactly one of dataframe_split, dataframe_records is expected "
            f"({len(keys)} given)"
        )
    params = parsed.get("params")
    if params is not None and not isinstance(params, dict):
        raise DataError(f"params: a JSON object is expected, not a {_json_type(params)}")
    unknown = [str(n) for n in (params or {}) if param_types and n not in param_types]
    if unknown:  # a misspelt parameter silently ignored would score with its default
        raise DataError(
            f"params.{unknown[0][:40]}: unknown parameter; the model takes "
            f"{', '.join(sorted(param_types))}"
        )
    for name, value in (params or {}).items():
        kind = param_types.get(name)
        ok = JSON_TYPES.get(kind, object)
        if kind and (not isinstance(value, ok) or (kind != "boolean" and isinstance(value, bool))):
            raise DataError(
                f"params.{name}: {WORDS.get(kind, kind)} is expected, not a {_json_type(value)}"
            )
    return parsed


def _cells(parsed: dict) -> set[str]:
    """The text values a request sent (cells and parameters, not column names): what an error
    answer must not repeat."""
    out, stack = set(), [parsed.get("params"), *(parsed.get(k) for k in INPUT_KEYS)]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and len(node) >= 3:
            out.add(node)
        elif isinstance(node, dict):
            stack.extend(v for k, v in node.items() if k not in ("columns", "index"))
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _cause(message: str) -> str:
    """MLflow's cause without the data frame and the schema it prefixes to it."""
    if message.startswith("Failed to predict data"):
        message = message.rpartition("\nError: ")[2]
    if message.startswith("Failed to enforce schema of data"):
        message = message.rpartition("'. Error: ")[2]
    return message


def error_line(content: bytes, parsed: dict | None) -> str:
    """One line from an error answer. The model's own (`serve.CleanServingError`: a record or a
    parameter named, as the README shows) is kept; MLflow's loses the data frame it prefixes, its
    stack trace and every text value of the request."""
    try:
        answer = json.loads(content)
        message, ours = str(answer.get("message", "")), answer.get("source") == SOURCE
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        message, ours = content.decode("utf-8", "replace"), False
    if not ours:
        message = _cause(message)
        for sent in sorted(_cells(parsed or {}), key=len, reverse=True):
            message = message.replace(sent, "...")
    return " ".join(message.split()) or "the request could not be scored"


def _answer(status: int, message: str) -> Any:
    from fastapi.responses import JSONResponse

    code = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def create_app(model_uri: str | None = None) -> Any:
    """MLflow's scoring app for the registered model at `model_uri` (default: the URI in
    `LEADSCORE_SERVE_MODEL_URI`, how uvicorn workers get it), behind the request guard."""
    from fastapi import Request
    from mlflow.pyfunc import scoring_server

    from pipeline.tracking.pyfunc import load_model, resolve_model_version

    uri = model_uri or os.environ[MODEL_ENV]
    resolve_model_version(uri)  # a missing alias: one line naming the command that fixes it
    model = load_model(uri)
    app = scoring_server.init(model)
    schema = model.metadata.get_params_schema()
    types = {p.name: p.dtype.name for p in (schema.params if schema else [])}

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Any:
        if request.method != "POST" or request.url.path != "/invocations":
            return await call_next(request)
        parsed = None
        if (request.headers.get("content-type") or "").split(";")[0].strip() == "application/json":
            try:
                parsed = read_request(await request.body(), types)
            except DataError as e:
                return _answer(400, str(e))
        try:
            response = await call_next(request)
        except Exception:  # a bug: the log has it, the client one line
            log.exception("error: request failed")
            return _answer(500, "the server failed on this request; its log has the details")
        if response.status_code < 400:
            return response
        content = b"".join([chunk async for chunk in response.body_iterator])
        return _answer(response.status_code, error_line(content, parsed))

    return app


def serve(model_uri: str, host: str, port: int, workers: int = 1) -> None:
    """Serve `model_uri` until interrupted: one process, or `workers` uvicorn processes that each
    load the model. The model is loaded here first, so a missing alias is one line, not a
    worker's traceback."""
    import uvicorn

    app = create_app(model_uri)
    log.info("serving %s on http://%s:%d (POST /invocations)", model_uri, host, port)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    os.environ[MODEL_ENV] = model_uri
    target = f"{__name__}:create_app"
    uvicorn.run(target, factory=True, host=host, port=port, workers=workers, log_level="warning")
