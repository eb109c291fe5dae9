"""The fast tier stays fast: a test that trains a model or runs a notebook is marked `slow`.

`make test-fast` runs `pytest -m "not slow and not serving"`. A test trains when its body, a helper
or fixture of its module, or a shared fixture (tests/conftest.py, tests/*/conftest.py) calls a
training entry point, invokes the CLI's `train` or `tune`, or executes a notebook, directly or
through another such helper or fixture. Such a test must carry `pytest.mark.slow`, on itself or as
its module's `pytestmark`. A cheap check of the source (no import, no run), so a new training test
cannot land in the fast tier unnoticed. The one exception is named: `FAST_TIER_MODELS`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TRAINING_CALLS = {
    *("train", "train_and_register", "tune", "tune_and_write", "retrain"),
    *("fit_booster", "fit_encoded", "fit_scorer", "run_backtests", "start_backtests"),
    "NotebookClient",  # executes a notebook, which trains
}
TRAINING_COMMANDS = {"train", "tune", "retrain"}  # `leadscore train ...` through the CLI runner
# session fixtures that train one tiny model for the whole run (seconds, paid once): the tests
# that use them stay fast, so the input rules of `score` are checked on every `make test-fast`
FAST_TIER_MODELS = {"flat_model_store"}  # tests/conftest.py: the 700-lead flat fixture


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _command_words(call: ast.Call) -> set[str]:
    """Literal words that can name a CLI command: the first argument (run("train", ...)) and
    the words of a list argument (invoke(app, ["train", ...]), subprocess.run([..., "train"]))."""
    words = set()
    for i, arg in enumerate(call.args):
        if i == 0 and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            words.add(arg.value)
        if isinstance(arg, ast.List | ast.Tuple):
            words |= {e.value for e in arg.elts if isinstance(e, ast.Constant)}
    return words


def trains_directly(fn: ast.FunctionDef) -> bool:
    return any(
        isinstance(n, ast.Call)
        and (_called_name(n) in TRAINING_CALLS or _command_words(n) & TRAINING_COMMANDS)
        for n in ast.walk(fn)
    )


def _is_fixture(fn: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(d) for d in fn.decorator_list)


def _requested(fn: ast.FunctionDef) -> set[str]:
    """The fixtures a test or fixture asks for by parameter name (a helper's parameters are not)."""
    if not (fn.name.startswith("test_") or _is_fixture(fn)):
        return set()
    return {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}


def _called_names(fn: ast.FunctionDef) -> set[str]:
    return {name for n in ast.walk(fn) if isinstance(n, ast.Call) and (name := _called_name(n))}


def _is_slow_mark(node: ast.expr) -> bool:
    """pytest.mark.slow, also inside a list or called (pytest.mark.slow(...))."""
    if isinstance(node, ast.List | ast.Tuple):
        return any(_is_slow_mark(e) for e in node.elts)
    if isinstance(node, ast.Call):
        node = node.func
    return isinstance(node, ast.Attribute) and node.attr == "slow"


def module_is_slow(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets)
        and _is_slow_mark(n.value)
        for n in tree.body
    )


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def training_names(functions: dict[str, ast.FunctionDef], known: set[str]) -> set[str]:
    """Names of the functions (helpers and fixtures) that train, directly or through a training
    function they call or a training fixture they request; `known` are training fixtures from
    elsewhere (conftest files)."""
    found = set(known) - FAST_TIER_MODELS
    changed = True
    while changed:
        changed = False
        for name, fn in functions.items():
            if name in found or name in FAST_TIER_MODELS:
                continue
            if trains_directly(fn) or (_requested(fn) | _called_names(fn)) & found:
                found.add(name)
                changed = True
    return found


def shared_training_fixtures() -> set[str]:
    """Training fixtures of every conftest.py (the serving ones included: they are shared)."""
    functions: dict[str, ast.FunctionDef] = {}
    for p in sorted(TESTS.rglob("conftest.py")):
        functions.update(_functions(ast.parse(p.read_text(encoding="utf-8"))))
    return training_names(functions, set())


def unmarked_training_tests(path: Path, shared: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if module_is_slow(tree):
        return []
    functions = _functions(tree)
    local = training_names(functions, shared - set(functions))
    where = path.relative_to(TESTS.parent) if path.is_relative_to(TESTS.parent) else path
    return [
        f"{where}::{name}"
        for name, fn in functions.items()
        if name.startswith("test_")
        and name in local
        and not any(_is_slow_mark(d) for d in fn.decorator_list)
    ]


def test_every_test_that_trains_is_marked_slow():
    shared = shared_training_fixtures()
    assert {"trained", "training_rows", "registered_store", "registered"} <= shared
    unmarked = [
        t for p in sorted(TESTS.rglob("test_*.py")) for t in unmarked_training_tests(p, shared)
    ]
    assert not unmarked, (
        "these tests train a model or run a notebook: mark them @pytest.mark.slow (or the "
        "module with pytestmark = pytest.mark.slow):\n" + "\n".join(unmarked)
    )


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("def test_a(trained):\n    pass\n", ["test_a"]),
        ("def test_a(tmp_path):\n    run('train', '--config', 'c.yaml')\n", ["test_a"]),
        ("def test_a():\n    runner.invoke(app, ['tune', '--config', 'c'])\n", ["test_a"]),
        ("def test_a(c):\n    m.train(c, leads, events)\n", ["test_a"]),
        ("def helper():\n    train_and_register(c, p)\ndef test_a():\n    helper()\n", ["test_a"]),
        (
            "@pytest.fixture\ndef model(tmp_path):\n    run('train')\n"
            "@pytest.fixture\ndef wrapped(model):\n    return model\n"
            "def test_a(wrapped):\n    pass\n",
            ["test_a"],
        ),
        ("def test_a():\n    NotebookClient(nb).execute()\n", ["test_a"]),
        (
            "def test_a():\n    subprocess.run([sys.executable, '-m', 'pipeline', 'train'])\n",
            ["test_a"],
        ),
        ("@pytest.mark.slow\ndef test_a(trained):\n    pass\n", []),
        ("pytestmark = [pytest.mark.slow]\ndef test_a(trained):\n    pass\n", []),
        ("def test_a(sample_config):\n    run('score', '--config', 'c')\n", []),
        ("def helper(trained):\n    return 1\ndef test_a():\n    helper(2)\n", []),
        (
            "@pytest.fixture\ndef flat_model_store():\n    run('train')\n"
            "@pytest.fixture\ndef flat_model(flat_model_store):\n    return 1\n"
            "def test_a(flat_model):\n    pass\ndef test_b(flat_model):\n    run('train')\n",
            ["test_b"],
        ),
    ],
    ids=[
        *("shared-fixture", "cli-train", "cli-tune", "train-call", "via-helper"),
        *("via-fixture-chain", "notebook", "subprocess", "marked", "module-marked", "no-training"),
        "helper-parameter-is-no-fixture",
        "tiny-session-model-is-fast",
    ],
)
def test_the_check_finds_training_however_it_is_reached(tmp_path, source, flagged):
    p = tmp_path / "test_probe.py"
    p.write_text(source)
    found = [t.rsplit("::", 1)[1] for t in unmarked_training_tests(p, {"trained"})]
    assert found == flagged
