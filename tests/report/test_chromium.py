"""Both reports in headless Chromium: the page loads with no console message, its screenshot is
not blank, and it references nothing on the network. Runs where `chromium` is installed (.ci/run
installs it); the screenshots are kept under reports/screenshots/ and their paths printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluation.gate import GateResult
from pipeline.report.scoring import scoring_report
from pipeline.report.training import training_report
from tests.report.chromium import (
    CHROMIUM,
    distinct_colours,
    keep,
    network_references,
    screenshot,
)
from tests.report.test_scoring_report import TOP, summary

pytestmark = [
    pytest.mark.slow,  # a real browser: seconds per page
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run has it)"),
]
ROOT = Path(__file__).resolve().parents[2]


def check_page(html: str, tmp_path: Path, name: str, capsys) -> Path:
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / f"{name}.png"
    console = screenshot(page, png, tmp_path / "profile")
    assert console == [], console
    assert distinct_colours(png) > 50  # text, tables and charts, not a blank page
    assert network_references(html) == []
    kept = keep(png, ROOT, f"{name}.png")
    with capsys.disabled():
        print(f"\n{name} screenshot: {png} (copy: {kept})")
    return png


@pytest.mark.slow
def test_training_report_renders_in_chromium(sample_config, trained, tmp_path, capsys):
    gate = GateResult(True, [], {}, None)
    check_page(training_report(sample_config, trained[0], gate, "1"), tmp_path, "training", capsys)


def test_scoring_report_renders_in_chromium(tmp_path, capsys):
    html = scoring_report(summary(1200), TOP, "2026-11-01T00:00:00", "models:/x@champion", 2.0)
    check_page(html, tmp_path, "scoring", capsys)


def test_a_console_error_is_caught(tmp_path):
    """The console check itself works: a page with a script error is reported."""
    page = tmp_path / "bad.html"
    page.write_text("<p>x</p><script>undefinedFunction()</script>", encoding="utf-8")
    console = screenshot(page, tmp_path / "bad.png", tmp_path / "profile", "400,300")
    assert any("undefinedFunction" in line for line in console)
