"""toolcache's own environment for the action: keyed, installed from a lock, reused.

Usage (the action's steps run it with the job's ``python``; standard library only):

    python bootstrap.py key [--cloud]       # key=..., path=... lines for GITHUB_OUTPUT
    python bootstrap.py install PATH [--cloud] [--installer uv|pip]

``key`` names the environment by everything that makes it valid on a runner: the job
interpreter (implementation, full version, ABI, platform, where it lives: a venv's ``python``
points at it), the locked requirements, and toolcache's own sources. The Actions cache keeps
the folder under that key, so a warm job restores it and installs nothing.

``install`` makes ``PATH`` a venv of the job interpreter holding the locked requirements
(``requirements.txt``: every file's sha256 checked, ``--no-deps``, no resolution) and toolcache
from this checkout, built by flit_core from the same lock without an isolated build
environment. The marker naming the key is written last, so an interrupted install leaves
nothing a later job would take (it starts again); a folder holding this key's marker is kept
as it is. The installer is uv (the one on PATH, else the one ``uv.txt`` locks, hashes checked
too) or, with ``--installer pip``, pip; action/README.md has the measurements.
``--cloud`` adds ``cloud.txt`` (obstore, for s3://, gs:// and az:// stores) to both the
environment and its key.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import NoReturn

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
REQUIREMENTS = HERE / "requirements.txt"
UV_REQUIREMENTS = HERE / "uv.txt"
CLOUD_REQUIREMENTS = HERE / "cloud.txt"
MARKER = "toolcache-self.json"
FORMAT = "toolcache-self/1"
MINIMUM = (3, 10)


class Failure(Exception):
    """Reported as one line, exit 1."""


def _bin(env: Path) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin")


def _python(env: Path) -> Path:
    return _bin(env) / ("python.exe" if os.name == "nt" else "python")


def _sources(cloud: bool) -> list[Path]:
    """toolcache's sources as the installed wheel has them, and what the install reads."""
    package = CHECKOUT / "toolcache"
    found = [
        p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    read = [CHECKOUT / "pyproject.toml", REQUIREMENTS, Path(__file__).resolve()]
    return sorted([*found, *read, *([CLOUD_REQUIREMENTS] if cloud else [])])


def environment_id(*, cloud: bool = False) -> str:
    digest = hashlib.sha256()

    def add(label: str, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", FORMAT)
    add("implementation", sys.implementation.name)
    add("version", sys.version)
    add("abiflags", getattr(sys, "abiflags", ""))
    add("platform", sysconfig.get_platform())
    add("machine", platform.machine())
    add("interpreter", os.path.realpath(sys.executable))
    add("extras", "cloud" if cloud else "")
    for path in _sources(cloud):
        add("file", path.relative_to(CHECKOUT).as_posix())
        add("content", path.read_bytes())
    return digest.hexdigest()


def default_path(env_id: str) -> Path:
    """Where the environment lives: the same path on every runner of one image (the Actions
    cache restores to absolute paths, and the venv's scripts name their interpreter)."""
    base = os.environ.get("TOOLCACHE_SELF_DIR")
    if base:
        return Path(base).expanduser().absolute() / env_id[:16]
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home).absolute() / "toolcache-self" / env_id[:16]


def is_ready(env: Path, env_id: str) -> bool:
    try:
        marker = json.loads((env / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("id") == env_id
        and _python(env).exists()
        and (_bin(env) / "toolcache").exists()
    )


def _run(args: list[str], what: str) -> None:
    done = subprocess.run(
        args, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout)
        raise Failure(f"{what} failed (exit {done.returncode}): {' '.join(args[:4])} ...")


def _uv(scratch: Path) -> list[str]:
    """A uv to install with: one on PATH, else the locked one put in ``scratch``."""
    found = shutil.which("uv")
    if found:
        return [found]
    target = scratch / "uv"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--target",
            str(target),
            "-r",
            str(UV_REQUIREMENTS),
        ],
        "installing uv",
    )
    return [str(_bin(target) / "uv")]


def _install_with_uv(env: Path, scratch: Path, requirements: list[Path]) -> None:
    uv = _uv(scratch)
    index = os.environ.get("PIP_INDEX_URL")
    common = ["pip", "install", "--quiet", "--python", str(_python(env)), "--compile-bytecode"]
    if index and not os.environ.get("UV_INDEX_URL") and not os.environ.get("UV_DEFAULT_INDEX"):
        common += ["--default-index", index]
    files = [arg for path in requirements for arg in ("-r", str(path))]
    _run(
        [*uv, *common, "--no-deps", "--require-hashes", *files],
        "installing the locked requirements",
    )
    _run(
        # Built from this checkout every time: uv's cache (persistent with setup-uv or on a
        # self-hosted runner) must not hand back a wheel of an older checkout.
        [
            *uv,
            *common,
            "--no-deps",
            "--no-build-isolation",
            "--refresh-package",
            "toolcache",
            "--reinstall-package",
            "toolcache",
            str(CHECKOUT),
        ],
        "installing toolcache",
    )


def _install_with_pip(env: Path, requirements: list[Path]) -> None:
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(_python(env)),
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
    ]
    files = [arg for path in requirements for arg in ("-r", str(path))]
    _run([*pip, "--require-hashes", *files], "installing the locked requirements")
    _run([*pip, "--no-build-isolation", str(CHECKOUT)], "installing toolcache")


def install(env: Path, installer: str, *, cloud: bool = False) -> bool:
    """Make ``env`` ready; False when it already was."""
    env_id = environment_id(cloud=cloud)
    requirements = [REQUIREMENTS, *([CLOUD_REQUIREMENTS] if cloud else [])]
    if is_ready(env, env_id):
        return False
    env.parent.mkdir(parents=True, exist_ok=True)
    # The venv is made at its final path (its scripts name their interpreter), after the old
    # one is moved aside; a failure removes what was made and the next job starts again.
    if env.exists() or env.is_symlink():
        aside = Path(tempfile.mkdtemp(prefix=env.name + ".old-", dir=env.parent))
        env.rename(aside / "env")
        shutil.rmtree(aside, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory(prefix="toolcache-bootstrap-") as tmp:
            _run([sys.executable, "-m", "venv", "--without-pip", str(env)], "making the venv")
            if installer == "uv":
                _install_with_uv(env, Path(tmp), requirements)
            else:
                _install_with_pip(env, requirements)
        path_dir = env / "path"
        path_dir.mkdir()
        launcher = _bin(env) / "toolcache"
        (path_dir / "toolcache").symlink_to(os.path.relpath(launcher, path_dir))
        marker = {"format": FORMAT, "id": env_id, "installer": installer}
        (env / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(env, ignore_errors=True)
        raise
    return True


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise Failure(f"{message} (usage: {self.format_usage().strip()[7:]})")


def main(argv: list[str]) -> int:
    parser = _Parser(prog="bootstrap.py", add_help=False)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    key = commands.add_parser("key", add_help=False)
    key.add_argument("--cloud", action="store_true")
    setup = commands.add_parser("install", add_help=False)
    setup.add_argument("path")
    setup.add_argument("--cloud", action="store_true")
    setup.add_argument("--installer", choices=("uv", "pip"), default="uv")
    try:
        if sys.version_info < MINIMUM:
            raise Failure(
                f"toolcache needs Python {MINIMUM[0]}.{MINIMUM[1]} or newer to run; the job's "
                f"python is {platform.python_version()} (actions/setup-python can provide one)"
            )
        args = parser.parse_args(argv)
        if args.command == "key":
            env_id = environment_id(cloud=args.cloud)
            print(f"key=toolcache-self-{sys.platform}-{platform.machine().lower()}-{env_id[:32]}")
            print(f"path={default_path(env_id)}")
            return 0
        env = Path(args.path).absolute()
        installed = install(env, args.installer, cloud=args.cloud)
        print(f"installed={'true' if installed else 'false'}")
        print(f"bin={env / 'path'}")
        return 0
    except Failure as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"error: toolcache's environment: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
