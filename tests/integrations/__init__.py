"""What users copy around toolcache: the action, the pre-commit hook, the workflows and the
examples. The paths of this checkout they read, and a YAML reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_WORKFLOW = EXAMPLES / "github-workflow.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> Any:
    """The YAML document in ``path``."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))
