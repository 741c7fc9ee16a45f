"""Where the repository is: the folder holding stack/, suites/ and reports/."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
