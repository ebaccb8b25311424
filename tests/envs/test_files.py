"""The environment file list: what it vouches for, and what is the machine's own."""

from __future__ import annotations

import os
from pathlib import Path

from toolcache.envs import files


def test_bytecode_a_wheel_ships_and_venv_interpreter_links_are_never_reported(
    tmp_path: Path,
) -> None:
    """A sourceless wheel's ``.pyc`` is neither listed nor reported missing (the check never
    looks at bytecode); 3.14's ``bin/𝜋thon`` link is the machine's own like ``bin/python``;
    any other symlink in ``bin`` and an unlisted file are reported."""
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    (env / "lib").mkdir()
    placed = []
    for relative, data in [("lib/mod.pyc", b"bytecode"), ("lib/mod.py", b"x = 1\n")]:
        (env / relative).write_bytes(data)
        placed.append((str(env / relative), "sha256=x", len(data)))
    files.write(env, placed)
    assert files.read(env) is not None and "lib/mod.pyc" not in (files.read(env) or {})
    for name in ("python", "python3.14", "\U0001d70bthon"):
        os.symlink("/usr/bin/python3", env / "bin" / name)
    assert files.check(env) == []

    os.symlink("python", env / "bin" / "ruff")
    (env / "lib" / "evil.pth").write_text("import os\n")
    assert sorted(files.check(env)) == ["bin/ruff was added", "lib/evil.pth was added"]
