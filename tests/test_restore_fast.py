"""``restore`` after ``plan`` on a warm CI job: restored from the plan's record without the full
CLI (``commands.restore_fast``), with the full command's answers; anything it cannot answer
goes to the full command."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import zstandard

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_run import HEAVY, fill, imported, toolcache

#: Step outputs whose values do not depend on timing.
OUTPUTS = ("status-lint", "status-check", "status-helper", "cache-hit", "statuses")
#: Three tools in two environments: ``check`` shares ``lint``'s, with an ``env:`` of its own.
TOOLS = """\
tools:
  lint:
    from: lintme
  check:
    from: lintme
    run: lintme --check
    env: {LINTME_MODE: strict, A_SECOND: "2"}
  helper:
    from: helper
    run: python -c "import helper; print('helper ok')"
"""


class Job:
    """A runner with an empty cache, a checkout of the project and the saved archives."""

    def __init__(self, tmp_path: Path, name: str, path: Path, archives: Path) -> None:
        self.root = tmp_path / name
        self.root.mkdir()
        self.path = path
        self.archives = archives
        self.output = self.root / "github-output"
        self.output.touch()
        self.env = {
            "TOOLCACHE_CACHE_DIR": str(self.root / "cache"),
            "GITHUB_OUTPUT": str(self.output),
            "TOOLCACHE_STORE": "",
        }

    def __call__(self, *args: str, importtime: bool = False) -> tuple[int, str, str]:
        head = ["-X", "importtime"] if importtime else []
        proc = toolcache(*head, "-m", "toolcache", *args, "-m", str(self.path),
                         cwd=self.path.parent, env=self.env)  # fmt: skip
        return proc.returncode, proc.stdout, proc.stderr

    def restore(self, *args: str, importtime: bool = False) -> tuple[int, str, str]:
        return self("restore", "--from", str(self.archives), *args, importtime=importtime)

    def outputs(self) -> dict[str, str]:
        pairs = (line.split("=", 1) for line in self.output.read_text().splitlines())
        return {k: v for k, v in pairs if k in OUTPUTS}


@pytest.fixture
def saved(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> tuple[Path, Path]:
    """The project (two tools) built on one runner and its archives exported: (manifest,
    archives folder)."""
    fill(local_index, dists)
    path = tmp_path / "p" / "tools.yaml"
    path.parent.mkdir()
    path.write_text(f"index-url: {local_index.url}\npython: {sys.executable}\n{TOOLS}")
    archives = tmp_path / "archives"
    env = {"TOOLCACHE_CACHE_DIR": str(tmp_path / "builder")}
    for args in (["restore"], ["export", "--to", str(archives)]):
        proc = toolcache("-m", "toolcache", *args, "-m", str(path), cwd=path.parent, env=env)
        assert proc.returncode == 0, proc.stderr
    return path, archives


def test_restore_after_plan_answers_as_the_full_command_without_its_imports(
    tmp_path: Path, saved: tuple[Path, Path]
) -> None:
    path, archives = saved
    fast, full = Job(tmp_path, "fast", path, archives), Job(tmp_path, "full", path, archives)
    full.env["TOOLCACHE_NO_FAST_PATH"] = "1"
    for job in (fast, full):
        assert job("plan", "-q")[0] == 0

    code, out, err = fast.restore("--format", "github", importtime=True)
    assert code == 0, err
    assert not imported(err) & {*HEAVY, "filelock"}, imported(err) & {*HEAVY, "filelock"}
    assert "toolcache.commands.restore_fast" in imported(err, full=True)
    code, full_out, err = full.restore("--format", "github")
    assert code == 0, err
    assert fast.outputs() == full.outputs()
    statuses = '{"check":"restored","helper":"restored","lint":"restored"}'
    assert fast.outputs()["statuses"] == statuses
    assert [line.split()[:2] for line in out.splitlines()] == [
        line.split()[:2] for line in full_out.splitlines()
    ]

    # Both leave the same cache-hit records: each tool's first run is a hit.
    for job in (fast, full):
        records = sorted((Path(job.env["TOOLCACHE_CACHE_DIR"]) / "stamps-v1").glob("*.run"))
        assert sorted(r.name.rsplit("-", 1)[1] for r in records) == [
            "check.run",
            "helper.run",
            "lint.run",
        ]
    for name in ("check.run", "helper.run", "lint.run"):
        # The same fields, but each runner's own cache root and its files' identities.
        ours, theirs = (
            [
                "ID"
                if re.fullmatch(r"\d+:\d+", field)
                else field.replace(j.env["TOOLCACHE_CACHE_DIR"], "ROOT")
                for field in next(
                    (Path(j.env["TOOLCACHE_CACHE_DIR"]) / "stamps-v1").glob(f"*-{name}")
                )
                .read_text()
                .split("\0")
            ]
            for j in (fast, full)
        )
        assert ours == theirs
    proc = toolcache("-X", "importtime", "-m", "toolcache", "run", "-m", str(path), "check", "x",
                     cwd=path.parent, env=fast.env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("lintme ['--check', 'x'] ")
    assert "toolcache._hit" in imported(proc.stderr, full=True)
    assert "toolcache.cli" not in imported(proc.stderr, full=True)

    # Again: both present, hits.
    code, out, err = fast.restore("--format", "json", importtime=True)
    assert code == 0, err
    assert {t["status"] for t in json.loads(out)["tools"].values()} == {"hit"}
    assert "toolcache.cli" not in imported(err, full=True)


def test_an_absent_archive_goes_to_the_full_command(
    tmp_path: Path, saved: tuple[Path, Path]
) -> None:
    path, archives = saved
    job = Job(tmp_path, "job", path, archives)
    code, out, err = job("plan", "--format", "json")
    assert code == 0, err
    helper = json.loads(out)["tools"]["helper"]
    (archives / f"{helper['interpreter'][:16]}-{helper['resolution'][:16]}.tar.zst").unlink()
    code, out, err = job.restore("--no-build", "--format", "json", importtime=True)
    assert code == 0, err
    assert "toolcache.cli" in imported(err, full=True)
    # Nothing was taken before the full command ran (else lint and check would read "hit").
    statuses = {name: t["status"] for name, t in json.loads(out)["tools"].items()}
    assert statuses == {"lint": "restored", "check": "restored", "helper": "missing"}


def test_a_tampered_archive_is_refused_then_reported_by_the_full_command(
    tmp_path: Path, saved: tuple[Path, Path]
) -> None:
    path, archives = saved
    for archive in archives.iterdir():  # a file's bytes changed, the archive well formed
        packed = archive.read_bytes()
        data = bytearray(zstandard.ZstdDecompressor().decompressobj().decompress(packed))
        at = data.index(b"def main")
        data[at : at + 3] = b"DEF"
        archive.write_bytes(zstandard.ZstdCompressor().compress(bytes(data)))
    job = Job(tmp_path, "job", path, archives)
    assert job("plan", "-q")[0] == 0
    code, out, err = job.restore("--no-build", "--format", "json")
    assert code == 0, err
    assert {t["status"] for t in json.loads(out)["tools"].values()} == {"missing"}
    assert "sha256 mismatch" in err
    envs = Path(job.env["TOOLCACHE_CACHE_DIR"]) / "envs"
    assert [p for p in envs.rglob("*") if p.name.startswith(".restore-")] == []


def test_a_manifest_edited_after_plan_goes_to_the_full_command(
    tmp_path: Path, saved: tuple[Path, Path]
) -> None:
    path, archives = saved
    job = Job(tmp_path, "job", path, archives)
    assert job("plan", "-q")[0] == 0
    path.write_text(path.read_text().replace("run: lintme --check", "run: lintme --strict"))
    code, _, err = job.restore("--format", "json", importtime=True)
    assert code == 0, err
    assert "toolcache.cli" in imported(err, full=True)
    proc = toolcache("-m", "toolcache", "run", "-m", str(path), "check", cwd=path.parent,
                     env=job.env)  # fmt: skip
    assert proc.stdout.startswith("lintme ['--strict'] "), proc.stderr


def test_options_that_exclude_each_other_are_refused_on_every_fast_path(
    tmp_path: Path, saved: tuple[Path, Path]
) -> None:
    """With every record in place (plan's, restore's, each tool's cache-hit record), ``--locked
    --frozen`` is the same usage error the full command gives, never a run or a printed plan."""
    path, archives = saved
    job = Job(tmp_path, "job", path, archives)
    assert job("plan", "-q")[0] == 0
    assert job.restore("-q")[0] == 0
    for args in (
        ["plan", "--locked", "--frozen"],
        ["restore", "--from", str(archives), "--locked", "--frozen"],
    ):
        code, out, err = job(*args)
        assert (code, out) == (2, ""), (args, out, err)
        assert "exclude each other" in err
    proc = toolcache("-m", "toolcache", "run", "-m", str(path), "--locked", "--frozen", "lint",
                     cwd=path.parent, env=job.env)  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stdout
    assert "exclude each other" in proc.stderr
