"""A CI job on fresh runners: toolcache (as action.yml runs it) side by side with uv and pre-commit.

Usage: python -m benchmarks.bench_ci_job [--warm 5] [--cold 2]

Each job gets a fresh runner: HOME, workspace and job venv are wiped and made again at the
same paths (as on GitHub, where HOME is always /home/runner, and pre-commit's and uv's caches
hold absolute paths). A venv made with this interpreter stands in for actions/setup-python.
The Actions cache is played by a ``tar | zstd -3`` archive of the cached paths, unpacked before
the job (timed as "cache restore") and written after a cold job (timed as "cache save"). Cold
jobs start with no saved cache; warm jobs restore the last cold job's save. The job runs the
four tools of examples/tools.yaml on a small sample project written here:

- toolcache: action.yml's steps. toolcache's own environment: ``action/bootstrap.py key``,
  its cache restore, ``bootstrap.py install`` (nothing to do when warm; cold, the locked
  requirements installed by uv from ``action/uv.txt``, as on a runner with no uv on PATH, and,
  as the row "toolcache(pip)", the same install by pip into a second folder), its cache save
  on cold jobs; then ``toolcache plan --format github``, cache restore of the planned
  cache-path, ``toolcache restore --format github``, one ``toolcache run`` per tool, and on
  cold jobs ``toolcache export --prune`` and the cache save;
- uv: ``pip install uv``, cache restore of UV_CACHE_DIR, one ``uvx --from`` per tool pinned as
  examples/tools.lock pins it (plus its ``with`` requirements), and on warm jobs the same with
  ``uvx --offline`` (the row "uv(offline)"); cache save on cold jobs;
- pre-commit: ``pip install pre-commit``, cache restore of ~/.cache/pre-commit,
  ``pre-commit run --all-files`` with ``repo: local`` python hooks pinned the same way; cache
  save on cold jobs.

Jobs are interleaved (cold rounds first, then warm rounds; the product order rotates every
round). Prints per-step medians, median job totals and the ratios toolcache/uv and
toolcache/pre-commit. Tools' lint findings (nonzero exits) do not fail a job; they are listed.
Needs the live PyPI, tar and zstd.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # the project's mypy checks for 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "examples" / "tools.yaml"
LOCKS = REPO / "examples" / "tools.lock"
PRODUCTS = ("toolcache", "uv", "pre-commit")
ROWS = ("toolcache", "toolcache(pip)", "uv", "uv(offline)", "pre-commit")
BOOTSTRAP = REPO / "action" / "bootstrap.py"
# Index settings of this machine that would make the jobs differ from a runner's.
KEEP = {"PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK"}

SAMPLE = {
    "src/sample/__init__.py": '"""A sample package."""\n',
    "src/sample/core.py": (
        "import os\nimport sys\n\n\n"
        "def greet(name: str) -> str:\n"
        '    """Say hello, definately."""\n'
        '    return "hello " + name\n\n\n'
        "def total(values: list[int]) -> int:\n"
        "    return sum(values)\n"
    ),
    "src/sample/util.py": (
        "from typing import Optional\n\n\n"
        "def first(items: list[str]) -> Optional[str]:\n"
        "    # teh first item, if any\n"
        "    return items[0] if items else None\n\n\n"
        "def count(text:str)->int:\n"
        "    return len(text.split( ))\n"
    ),
    "src/sample/cli.py": (
        "import argparse\n\nfrom sample.core import greet\n\n\n"
        "def main() -> int:\n"
        "    parser = argparse.ArgumentParser()\n"
        '    parser.add_argument("name")\n'
        "    args = parser.parse_args()\n"
        "    print(greet(args.name))\n"
        "    return 0\n"
    ),
    "src/sample/models.py": (
        "from dataclasses import dataclass\n\n\n"
        "@dataclass(frozen=True)\n"
        "class Point:\n"
        "    x: int\n"
        "    y: int\n\n"
        "    def norm(self) -> float:\n"
        "        return (self.x**2 + self.y**2) ** 0.5\n"
    ),
}
FILES = sorted(SAMPLE)


@dataclass(frozen=True)
class Tool:
    """A tool of the manifest with the pins of its lock."""

    name: str
    command: list[str]
    requirement: str  # the `from` requirement, pinned
    with_: list[str]  # the `with` requirements, pinned


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pin(requirement: str, versions: dict[str, str]) -> str:
    match = re.match(r"^\s*([A-Za-z0-9._-]+)(\[[^\]]*\])?", requirement)
    if match is None:
        raise SystemExit(f"cannot read requirement {requirement!r}")
    name, extras = match.group(1), match.group(2) or ""
    return f"{name}{extras}=={versions[_canonical(name)]}"


def load_tools() -> tuple[list[Tool], str]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    tools = []
    for name, spec in manifest["tools"].items():
        with (LOCKS / f"pylock.{name}.toml").open("rb") as lock:
            packages = tomllib.load(lock)["packages"]
        versions = {_canonical(p["name"]): p["version"] for p in packages}
        tools.append(
            Tool(
                name=name,
                command=shlex.split(spec["run"]),
                requirement=_pin(spec["from"], versions),
                with_=[_pin(r, versions) for r in spec.get("with", [])],
            )
        )
    return tools, str(manifest.get("exclude-newer", ""))


@dataclass
class Job:
    product: str
    warm: bool
    number: int  # the round, for alternating orders within a job
    steps: dict[str, float] = field(default_factory=dict)


class Runner:
    """One runner's paths, wiped before every job; the saved caches live beside it."""

    def __init__(self, root: Path) -> None:
        self.root = root / "runner"
        self.home = self.root / "home"
        self.workspace = self.root / "work" / "sample"
        self.venv = self.root / "venv"  # actions/setup-python's interpreter
        self.temp = self.root / "temp"
        self.saved = root / "saved"
        self.setup_cache = root / "setup-pip-cache"  # upgrading the venvs' pip, untimed
        self.saved.mkdir(parents=True)
        self.failures: dict[tuple[str, str, int], tuple[int, str]] = {}
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIP_", "UV_", "TOOLCACHE_", "GITHUB_", "XDG_", "PRE_COMMIT"))
            and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX")
        }
        base.update({k: os.environ[k] for k in KEEP if k in os.environ})
        base.update(
            HOME=str(self.home),
            PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            RUNNER_TEMP=str(self.temp),
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_ACTIONS="true",
            CI="true",
            UV_PYTHON_DOWNLOADS="never",
            GIT_AUTHOR_NAME="ci",
            GIT_AUTHOR_EMAIL="ci@example.invalid",
            GIT_COMMITTER_NAME="ci",
            GIT_COMMITTER_EMAIL="ci@example.invalid",
            GIT_CONFIG_NOSYSTEM="1",
        )
        self.env = base

    def fresh(self, config: str | None) -> None:
        """Wipe the runner, check the sample project out and set up Python (untimed)."""
        shutil.rmtree(self.root, ignore_errors=True)
        for folder in (self.home, self.workspace, self.temp):
            folder.mkdir(parents=True)
        for rel, text in SAMPLE.items():
            path = self.workspace / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        shutil.copytree(LOCKS, self.workspace / "examples" / "tools.lock")
        shutil.copy2(MANIFEST, self.workspace / "examples" / "tools.yaml")
        if config is not None:
            (self.workspace / ".pre-commit-config.yaml").write_text(config)
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
            _quiet(cmd, self.env, cwd=self.workspace)
        pip = f"pip=={_host_pip()}"
        setup = {**self.env, "PIP_CACHE_DIR": str(self.setup_cache)}
        _quiet([sys.executable, "-m", "venv", str(self.venv)], self.env)
        _quiet([str(self.venv / "bin" / "python"), "-m", "pip", "install", "-q", pip], setup)

    def timed(
        self, job: Job, step: str, cmd: list[str] | str, *, env: dict[str, str] | None = None
    ) -> str:
        """Run one step; a tool's nonzero exit (``run ...``) is noted, any other fails."""
        start = time.perf_counter()
        done = subprocess.run(
            cmd,
            cwd=self.workspace,
            env=env or self.env,
            shell=isinstance(cmd, str),
            capture_output=True,
            text=True,
            check=False,
        )
        job.steps[step] = time.perf_counter() - start
        if done.returncode != 0:
            if not step.startswith(("run ", "pre-commit run")):
                sys.stderr.write(done.stdout + done.stderr)
                raise SystemExit(f"{job.product}: step {step!r} failed ({done.returncode})")
            key = (job.product, step, done.returncode)
            if key not in self.failures:
                lines = (done.stderr or done.stdout).strip().splitlines()
                self.failures[key] = (0, lines[-1][:70] if lines else "")
            count, last = self.failures[key]
            self.failures[key] = (count + 1, last)
        return done.stdout

    def restore_cache(
        self, job: Job, product: str, target: Path, *, step: str = "cache restore"
    ) -> None:
        """actions/cache/restore: unpack the saved archive into ``target`` (a miss when cold)."""
        archive = self.saved / f"{product}.tar.zst"
        if not job.warm or not archive.exists():
            self.timed(job, step, ["true"])
            return
        target.mkdir(parents=True, exist_ok=True)
        unpack = f"zstd -dcq {shlex.quote(str(archive))} | tar -xf - -C {shlex.quote(str(target))}"
        self.timed(job, step, unpack)

    def save_cache(self, job: Job, product: str, source: Path, *, step: str = "cache save") -> None:
        """actions/cache/save: ``tar | zstd -3`` of ``source``."""
        archive = self.saved / f"{product}.tar.zst"
        pack = (
            f"tar -cf - -C {shlex.quote(str(source))} . "
            f"| zstd -3 -q -f -o {shlex.quote(str(archive))}"
        )
        self.timed(job, step, pack)


def _quiet(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    subprocess.run(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )


def _host_pip() -> str:
    from importlib.metadata import version

    return version("pip")


def _github_outputs(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as in ``$GITHUB_OUTPUT``."""
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            found[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def _without_uv(path: str) -> str:
    """PATH without the folders that hold a ``uv`` (a GitHub runner has none by default)."""
    return os.pathsep.join(
        folder for folder in path.split(os.pathsep) if not (Path(folder) / "uv").exists()
    )


def toolcache_job(runner: Runner, job: Job, tools: list[Tool]) -> None:
    """The steps of action.yml: toolcache's own environment (keyed, restored, installed from
    action/requirements.txt when cold, saved), then plan, the archives, restore, the runs."""
    runner.fresh(None)
    python = str(runner.venv / "bin" / "python")
    env = {**runner.env, "PATH": _without_uv(runner.env["PATH"])}
    keyed = _github_outputs(runner.timed(job, "self key", [python, str(BOOTSTRAP), "key"], env=env))
    self_path = Path(keyed["path"])
    runner.restore_cache(job, "toolcache-self", self_path, step="self restore")
    runner.timed(job, "install", [python, str(BOOTSTRAP), "install", str(self_path)], env=env)
    if not job.warm:
        runner.save_cache(job, "toolcache-self", self_path, step="self save")
        # The variant row: the same install with pip, into a folder of its own.
        elsewhere = str(runner.temp / "self-pip")
        pip_install = [python, str(BOOTSTRAP), "install", elsewhere, "--installer", "pip"]
        runner.timed(job, "install:pip", pip_install, env=env)
    toolcache = str(self_path / "bin" / "toolcache")
    manifest = "examples/tools.yaml"
    output = runner.temp / "plan-output"
    output.touch()
    plan_env = {**env, "GITHUB_OUTPUT": str(output)}
    plan = [toolcache, "plan", "-m", manifest, "--format", "github", "--key-suffix", ""]
    runner.timed(job, "plan", plan, env=plan_env)
    cache_path = Path(_github_outputs(output.read_text())["cache-path"])
    runner.restore_cache(job, "toolcache", cache_path)
    output.write_text("")
    restore = [toolcache, "restore", "-m", manifest, "--format", "github"]
    runner.timed(job, "setup envs", [*restore, "--from", str(cache_path)], env=plan_env)
    for tool in tools:
        run = [toolcache, "run", "-m", manifest, tool.name, "--", *FILES]
        runner.timed(job, f"run {tool.name}", run, env=env)
    if not job.warm:
        export = [toolcache, "export", "-m", manifest, "--to", str(cache_path), "--prune"]
        runner.timed(job, "export", export, env=env)
        runner.save_cache(job, "toolcache", cache_path)


def uv_job(runner: Runner, job: Job, tools: list[Tool], exclude_newer: str) -> None:
    runner.fresh(None)
    python = str(runner.venv / "bin" / "python")
    install = [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    runner.timed(job, "install", [*install, "uv"])
    cache = runner.home / ".cache" / "uv"
    runner.restore_cache(job, "uv", cache)
    env = {**runner.env, "UV_CACHE_DIR": str(cache)}
    if exclude_newer:
        env["UV_EXCLUDE_NEWER"] = exclude_newer
    uvx = str(runner.venv / "bin" / "uvx")

    def run_all(offline: bool) -> None:
        for tool in tools:
            cmd = [uvx, *(["--offline"] if offline else []), "--python", sys.executable]
            cmd += ["--from", tool.requirement]
            for extra in tool.with_:
                cmd += ["--with", extra]
            step = f"run {tool.name}" + (":offline" if offline else "")
            runner.timed(job, step, [*cmd, *tool.command, *FILES], env=env)

    if job.warm:  # both rows on the same restored cache, in alternating order
        first = job.number % 2 == 0
        run_all(offline=not first)
        run_all(offline=first)
    else:
        run_all(offline=False)
        runner.save_cache(job, "uv", cache)


def pre_commit_config(tools: list[Tool]) -> str:
    hooks = [
        {
            "id": tool.name,
            "name": tool.name,
            "entry": shlex.join(tool.command),
            "language": "python",
            "additional_dependencies": [tool.requirement, *tool.with_],
            "files": r"^src/",
            "types": ["python"],
        }
        for tool in tools
    ]
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


def pre_commit_job(runner: Runner, job: Job, config: str) -> None:
    runner.fresh(config)
    python = str(runner.venv / "bin" / "python")
    install = [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    runner.timed(job, "install", [*install, "pre-commit"])
    cache = runner.home / ".cache" / "pre-commit"
    runner.restore_cache(job, "pre-commit", cache)
    pre_commit = str(runner.venv / "bin" / "pre-commit")
    runner.timed(job, "pre-commit run", [pre_commit, "run", "--all-files"])
    if not job.warm:
        runner.save_cache(job, "pre-commit", cache)


def row_steps(row: str, job: Job) -> dict[str, float] | None:
    """The steps of ``job`` seen as ``row`` (a variant replaces some steps of its product's job)."""
    product = row.split("(", maxsplit=1)[0]
    if job.product != product:
        return None
    if row == "uv(offline)" and not job.warm:
        return None
    variant = {"toolcache(pip)": "pip", "uv(offline)": "offline"}.get(row)
    steps = {}
    for step, seconds in job.steps.items():
        name, _, tag = step.partition(":")
        if tag == (variant or "") or (tag == "" and f"{name}:{variant}" not in job.steps):
            steps[name] = seconds
    return steps


def report(jobs: list[Job], runner: Runner) -> None:
    order: list[str] = []
    for job in jobs:
        for step in job.steps:
            name = step.partition(":")[0]
            if name not in order:
                order.append(name)
    totals: dict[tuple[str, bool], float] = {}
    width = max(len(r) for r in ROWS) + 2
    print(f"{'step':26}" + "".join(f"{r:>{width}}" for r in ROWS) + "   (median seconds)")
    for warm in (True, False):
        label = "warm" if warm else "cold"
        views = {
            row: [s for j in jobs if j.warm == warm if (s := row_steps(row, j)) is not None]
            for row in ROWS
        }
        for step in order:
            cells = []
            for row in ROWS:
                values = [s[step] for s in views[row] if step in s]
                cells.append(
                    f"{statistics.median(values):{width}.2f}" if values else f"{'-':>{width}}"
                )
            if any(c.strip() != "-" for c in cells):
                print(f"{label + ' ' + step:26}" + "".join(cells))
        cells = []
        for row in ROWS:
            if views[row]:
                totals[row, warm] = statistics.median(sum(s.values()) for s in views[row])
                cells.append(f"{totals[row, warm]:{width}.2f}")
            else:
                cells.append(f"{'-':>{width}}")
        print(f"{'total ' + label:26}" + "".join(cells))
        counts = {row: len(views[row]) for row in ROWS}
        print(f"{'jobs ' + label:26}" + "".join(f"{counts[r]:>{width}}" for r in ROWS))
    sizes = [
        f"{(runner.saved / f'{p}.tar.zst').stat().st_size / 1e6:.1f} MB ({p})"
        for p in PRODUCTS
        if (runner.saved / f"{p}.tar.zst").exists()
    ]
    print("saved cache: " + ", ".join(sizes))

    def ratio(mine: str, theirs: str, warm: bool) -> str:
        if (mine, warm) not in totals or (theirs, warm) not in totals:
            return "-"
        return f"{totals[mine, warm] / totals[theirs, warm]:.2f}x"

    for warm in (True, False):
        label = "warm" if warm else "cold"
        pairs = [("toolcache", "uv"), ("toolcache", "pre-commit")]
        if warm:
            pairs += [("toolcache", "uv(offline)")]
        else:
            pairs += [("toolcache(pip)", "uv"), ("toolcache(pip)", "pre-commit")]
        short = {"toolcache": "tc", "toolcache(pip)": "tc(pip)"}
        parts = [f"{short.get(a, a)}/{b} {ratio(a, b, warm)}" for a, b in pairs]
        print(f"ratio {label}  " + "  ".join(parts))
    if runner.failures:
        print("nonzero tool exits (findings; the job goes on):")
        for (product, step, code), (count, last) in sorted(runner.failures.items()):
            print(f"  {product:10} {step:22} exit {code} x{count}: {last}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--warm", type=int, default=5, help="warm jobs per product")
    parser.add_argument("--cold", type=int, default=2, help="cold jobs per product")
    args = parser.parse_args()
    if args.cold < 1 and args.warm > 0:
        parser.error("warm jobs restore what a cold job saved: --cold must be at least 1")
    for needed in ("tar", "zstd", "git"):
        if shutil.which(needed) is None:
            raise SystemExit(f"{needed} is not on PATH")
    tools, exclude_newer = load_tools()
    config = pre_commit_config(tools)
    jobs: list[Job] = []
    with tempfile.TemporaryDirectory(prefix="bench-ci-") as tmp_name:
        runner = Runner(Path(tmp_name))
        bodies: dict[str, Callable[[Job], None]] = {
            "toolcache": lambda job: toolcache_job(runner, job, tools),
            "uv": lambda job: uv_job(runner, job, tools, exclude_newer),
            "pre-commit": lambda job: pre_commit_job(runner, job, config),
        }
        rounds = [False] * args.cold + [True] * args.warm
        for number, warm in enumerate(rounds):
            turn = number % len(PRODUCTS)
            for product in PRODUCTS[turn:] + PRODUCTS[:turn]:
                job = Job(product, warm, number)
                start = time.perf_counter()
                bodies[product](job)
                jobs.append(job)
                kind = "warm" if warm else "cold"
                took = time.perf_counter() - start
                timed = sum(job.steps.values())
                print(
                    f"# {kind} {product}: {timed:.1f} s timed ({took:.0f} s wall)",
                    file=sys.stderr,
                    flush=True,
                )
        report(jobs, runner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
