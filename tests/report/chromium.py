"""Open a page in headless Chromium (Debian's `chromium`): screenshot it and collect the browser
console, so tests can check a report renders, shows something and logs no error."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE = re.compile(r":CONSOLE[:(]")  # Chromium's own log lines for console messages
NETWORK = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.I
)


def screenshot(page: Path, png: Path, profile: Path, size: str = "1200,3000") -> list[str]:
    """Render `page` into `png`; returns the console lines Chromium logged for it."""
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}"]
    cmd += [f"--window-size={size}", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png.exists(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return [line for line in done.stderr.splitlines() if CONSOLE.search(line)]


def distinct_colours(png: Path) -> int:
    """How many different colours the screenshot holds (1: a blank page)."""
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def network_references(html: str) -> list[str]:
    """Every src/href/url() that would reach the network (http, https or protocol-relative)."""
    return [m.group(0) for m in NETWORK.finditer(html)]


def keep(png: Path, root: Path, name: str) -> Path:
    """A copy of a screenshot under reports/screenshots/ (gitignored), to cite after a run."""
    out = root / "reports" / "screenshots" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, out)
    return out
