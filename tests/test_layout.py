"""The package's shape, checked from the source: which layer may import which, where mlflow lives,
what each subpackage says it owns, and how long a function may grow. No line count decides
where a module or a package ends: a rule lives where a reader looking for it would look.

Layers, lowest first; a module may import from its own layer or a lower one. Imports under
`if TYPE_CHECKING:` are for annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pipeline"

LAYERS = {
    "pipeline.errors": 0,
    "pipeline.config": 0,
    "pipeline.config_checks": 0,
    "pipeline.progress": 0,
    "pipeline.words": 0,
    "pipeline.io": 1,
    "pipeline.synthetic": 2,
    "pipeline.validation": 3,
    "pipeline.onboarding": 4,
    "pipeline.features": 5,
    "pipeline.explain": 6,
    "pipeline.evaluation": 7,
    "pipeline.monitoring": 8,
    "pipeline.modeling": 9,
    "pipeline.training": 11,
    "pipeline.serving": 12,
    "pipeline.report": 13,
    "pipeline.tracking": 14,
    "pipeline.jobs": 15,
    "pipeline.cli": 16,
    "pipeline.console": 16,
    "pipeline.notebook": 16,
    "pipeline.__main__": 16,
}
MLFLOW_HOME = "pipeline.tracking"
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The layer of a pipeline module: its own entry, else its subpackage's."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in LAYERS:
            return LAYERS[key]
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST):
    """Import nodes outside `if TYPE_CHECKING:` blocks (their `else:` branches still count)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(module: str, path: Path) -> list[tuple[str, int]]:
    """(absolute module name, line) of everything a module imports at runtime."""
    is_pkg = path.name == "__init__.py"
    out = []
    for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
            continue
        base = node.module or ""
        if node.level:  # relative: from its package, one level up per extra dot
            pkg = module.split(".") if is_pkg else module.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join([*pkg, base] if base else pkg)
        for a in node.names:
            sub = f"{base}.{a.name}"
            # `from pipeline import tracking` imports the subpackage, not a name of pipeline
            out.append((sub if sub in MODULES else base, node.lineno))
    return out


def test_the_layer_map_covers_every_module():
    unknown = [m for m in MODULES if m != "pipeline" and layer_of(m) is None]
    assert not unknown, f"modules in no layer (add them to LAYERS): {unknown}"


def test_imports_point_down_the_layers():
    wrong = []
    for module, path in MODULES.items():
        own = layer_of(module)
        for target, line in imported_modules(module, path):
            if not target.startswith("pipeline.") or own is None:
                continue
            theirs = layer_of(target)
            if theirs is None or theirs > own:
                wrong.append(
                    f"{path.relative_to(ROOT)}:{line}: {module} (layer {own}) imports "
                    f"{target} (layer {theirs})"
                )
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_only_tracking_imports_mlflow():
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {module} imports {target}"
        for module, path in MODULES.items()
        if not (module == MLFLOW_HOME or module.startswith(MLFLOW_HOME + "."))
        for target, line in imported_modules(module, path)
        if target == "mlflow" or target.startswith("mlflow.")
    ]
    assert not wrong, "mlflow outside pipeline.tracking:\n" + "\n".join(wrong)
    # the rule is not vacuous: tracking does import it
    assert any(
        t.split(".")[0] == "mlflow"
        for m, p in MODULES.items()
        if m.startswith(MLFLOW_HOME)
        for t, _ in imported_modules(m, p)
    )


def test_the_checker_sees_lazy_relative_and_type_checking_imports(tmp_path):
    """The rules above only mean something if the parser finds every kind of import."""
    src = (
        "from typing import TYPE_CHECKING\n"
        "import pipeline.jobs\n"
        "from pipeline import tracking\n"
        "from ..modeling.scorer import LeadScorer\n"
        "if TYPE_CHECKING:\n"
        "    from pipeline.cli import app\n"
        "def f():\n"
        "    import mlflow\n"
    )
    p = tmp_path / "probe.py"
    p.write_text(src)
    got = {t for t, _ in imported_modules("pipeline.io.probe", p)}
    assert {"pipeline.jobs", "pipeline.tracking", "pipeline.modeling.scorer", "mlflow"} <= got
    assert "pipeline.cli" not in got
    assert layer_of("pipeline.modeling.scorer") == 9 and layer_of("pipeline.io.probe") == 1


SUBPACKAGES = sorted(p.parent for p in PKG.glob("*/__init__.py"))


def test_every_stage_folder_is_a_package():
    folders = sorted(d for d in PKG.iterdir() if d.is_dir() and any(d.glob("*.py")))
    assert folders == SUBPACKAGES, "folders of modules without an __init__.py"


@pytest.mark.parametrize("pkg", SUBPACKAGES, ids=[p.name for p in SUBPACKAGES])
def test_subpackage_docstring_says_what_it_owns_and_may_import(pkg: Path):
    doc = ast.get_docstring(ast.parse((pkg / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"pipeline/{pkg.name}/__init__.py has no docstring"
    assert len(doc) > 80, f"pipeline/{pkg.name}: docstring too short to say what it owns"
    assert "import" in doc.lower(), f"pipeline/{pkg.name}: docstring does not say what it imports"


def function_lengths() -> dict[str, int]:
    """Qualified name (module.Class.function, nested ones too) -> lines from def to last line."""
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}.{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out[name] = child.end_lineno - child.lineno + 1
                visit(child, name)
            else:
                visit(child, prefix)

    for module, path in MODULES.items():
        visit(ast.parse(path.read_text(encoding="utf-8")), module)
    return out


def test_functions_stay_short():
    too_long = sorted(
        f"{name} ({n} lines)" for name, n in function_lengths().items() if n > MAX_FUNCTION_LINES
    )
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_no_formatter_opt_outs():
    """`ruff format` decides the layout everywhere; a `fmt: skip` or `fmt: off` hides a line
    that does not fit (usually one doing too much)."""
    found = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in MODULES.values()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "fmt: skip" in line or "fmt: off" in line
    ]
    assert not found, f"formatter opt-outs in pipeline/: {found}"


def test_the_rules_see_what_they_measure():
    """The function rule reads real functions of real files, and the package is all there."""
    lengths = function_lengths()
    assert lengths and max(lengths.values()) > 10
    assert len(MODULES) > 40 and len(SUBPACKAGES) >= 10
