"""The README and the docs site name only files that exist, and the README stays short.

A page that cites `pipeline/...` or `tests/...` is a promise to a reader who opens that file; a
moved module or a renamed test silently breaks it, so every such path is checked here (links
between pages are checked by `make docs`, which builds the site with `mkdocs build --strict`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# project files a page may cite; generated outputs (data/, models/, reports) are not among them
CITED = re.compile(r"(?<![\w./-])((?:pipeline|tests|bench|notebooks|config/examples)/[\w./-]*\w/?)")
GENERATED = {"bench/data/"}  # written by `make bench`, not committed
MAX_README_LINES = 300


def cited_paths(text: str) -> set[str]:
    """Every project path a page mentions, without the trailing `{a,b}`-style or glob suffixes."""
    out = set()
    for m in CITED.finditer(text):
        path = m.group(1)
        if "<" in text[m.end() : m.end() + 1] or "*" in path or path in GENERATED:
            continue  # a pattern (`<rank>_<field>.png`), not a file
        out.add(path)
    return out


def test_the_path_pattern_finds_citations_and_skips_look_alikes():
    text = "see `tests/features/test_builder.py`, pipeline/io/rules.py; not my_pipeline/x.py"
    assert cited_paths(text) == {"tests/features/test_builder.py", "pipeline/io/rules.py"}
    assert not (ROOT / "tests/test_features.py").exists()  # the kind of citation this catches
    assert cited_paths("`explain/dependence/<rank>_<field>.png`, bench/data/") == set()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_cited_file_exists(page: Path):
    missing = sorted(
        p for p in cited_paths(page.read_text(encoding="utf-8")) if not (ROOT / p).exists()
    )
    assert not missing, f"{page.relative_to(ROOT)} cites files that do not exist: {missing}"


def test_docs_pages_exist_and_the_readme_is_short():
    assert len(PAGES) > 10, "docs/ pages missing"
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines (at most {MAX_README_LINES})"


def test_every_page_is_in_the_site_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    absent = [p.name for p in PAGES[1:] if f": {p.name}" not in nav]
    assert not absent, f"docs pages not in mkdocs.yml's nav: {absent}"
