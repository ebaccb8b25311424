"""Make an environment made elsewhere use this machine's interpreter.

What in an environment names absolute paths, and so is rewritten here:

- ``pyvenv.cfg``: ``home`` (the folder of the interpreter the environment runs, which is how
  ``site`` finds the standard library), ``executable`` (its realpath, written by 3.11+) and
  ``command`` (how ``venv`` was run, written by 3.11+), now naming the published path;
- the links to the base interpreter (``bin/python``, sometimes ``bin/python3.X``): absolute
  symlinks, which archives store as a list of names (see ``toolcache.archive.contents``);
- the receipt's base interpreter identity (realpath, size, mtime), which the health check
  compares on every use.

Nothing else in a toolcache environment is absolute: console scripts find ``python`` beside
themselves, ``RECORD`` paths are relative, and bytecode (which records source paths) is not
archived. The interpreter must have the hash the receipt names; the caller checks it (it is
part of how the archive was chosen) and ``relocate`` checks it again.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from toolcache.envs import health
from toolcache.envs import receipt as receipt_mod
from toolcache.errors import ToolcacheError


class RelocationError(ToolcacheError):
    """An environment could not be pointed at the local interpreter; ``reason`` says why."""

    def __init__(self, env: Path, reason: str) -> None:
        self.env = env
        self.reason = reason
        super().__init__(f"cannot relocate the environment at {env}: {reason}")


def _config_lines(text: str, *, executable: Path, final_path: Path) -> list[str]:
    lines: list[str] = []
    seen_home = False
    for line in text.splitlines():
        key, sep, _ = line.partition("=")
        name = key.strip().lower()
        if not sep:
            lines.append(line)
        elif name == "home":
            lines.append(f"home = {executable.parent}")
            seen_home = True
        elif name == "executable":
            lines.append(f"executable = {os.path.realpath(executable)}")
        elif name == "command":
            lines.append(f"command = {executable} -m venv {final_path}")
        else:
            lines.append(line)
    if not seen_home:
        raise RelocationError(final_path, "its pyvenv.cfg has no home")
    return lines


def relocate(
    env_dir: Path,
    *,
    executable: Path,
    interpreter_hash: str,
    final_path: Path,
    interpreter_links: Sequence[str],
) -> receipt_mod.Receipt:
    """Point the environment at ``env_dir`` (to be published as ``final_path``) at the local
    interpreter ``executable`` (absolute, symlinks kept: the path it was found under), whose
    hash is ``interpreter_hash``. Returns the rewritten receipt."""
    executable = Path(os.path.abspath(executable))
    try:
        found = receipt_mod.read(env_dir)
    except receipt_mod.ReceiptError as exc:
        raise RelocationError(final_path, str(exc)) from None
    if found.interpreter_hash != interpreter_hash:
        raise RelocationError(
            final_path,
            f"it was built for interpreter {found.interpreter_hash[:16]}, "
            f"not {interpreter_hash[:16]}",
        )
    config = env_dir / "pyvenv.cfg"
    if config.is_symlink() or not config.is_file():
        raise RelocationError(final_path, "its pyvenv.cfg is missing or not a file")
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RelocationError(final_path, f"its pyvenv.cfg cannot be read ({exc})") from None
    lines = _config_lines(text, executable=executable, final_path=final_path)
    tmp = env_dir / ".pyvenv.cfg.tmp"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(config)

    bin_dir = health.bin_dir(env_dir)
    for name in interpreter_links:
        link = env_dir / name
        if link.parent != bin_dir and link.parent.resolve() != bin_dir.resolve():
            raise RelocationError(final_path, f"{name} is not in {bin_dir.name}/")
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(executable, link)

    try:
        base = receipt_mod.BaseInterpreter.of(executable)
    except OSError as exc:
        raise RelocationError(final_path, f"cannot read {executable} ({exc.strerror})") from None
    made = dataclasses.replace(found, base=base)
    receipt_mod.write(env_dir, made)
    return made
