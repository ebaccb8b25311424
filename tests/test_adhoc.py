"""Ad hoc runs, the way ``uvx`` runs a package: ``run NAME@VERSION``, ``--from``, ``--with``, a
bare name the manifest does not have; locked into the cache, then served by the cache-hit path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_run import HEAVY, imported, toolcache

TOOL_MODULE = """\
import sys
from importlib import metadata


def main():
    have = sorted(d.metadata["Name"] + "==" + d.version for d in metadata.distributions())
    print("lintme", metadata.version("lintme"), sys.argv[1:], " ".join(have))
    return 0
"""


def fill(index: LocalIndex, dists: Dists) -> None:
    for version in ("1.0", "2.0"):
        index.add(
            dists.wheel(
                "lintme",
                version,
                requires=["helper"],
                extras={"fancy": ["plug"]},
                console_scripts={"lintme": "lintme:main", "lintme-other": "lintme:main"},
                files={"lintme/__init__.py": TOOL_MODULE},
            )
        )
    index.add(dists.wheel("helper", "2.0"))
    index.add(dists.wheel("helper", "3.0"))
    index.add(dists.wheel("plug", "0.5"))


@pytest.fixture
def project(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> Path:
    """A folder with no manifest (a repository root: nothing above it is searched)."""
    fill(local_index, dists)
    folder = tmp_path / "project"
    (folder / ".git").mkdir(parents=True)
    return folder


def env(index: LocalIndex) -> dict[str, str]:
    return {"TOOLCACHE_INDEX_URL": index.url}


def run(*args: str, cwd: Path, index: LocalIndex, importtime: bool = False) -> tuple[int, str, str]:
    flags = ("-X", "importtime") if importtime else ()
    proc = toolcache(*flags, "-m", "toolcache", "run", *args, cwd=cwd, env=env(index))
    return proc.returncode, proc.stdout, proc.stderr


def cache() -> Path:
    return Path(os.environ["TOOLCACHE_CACHE_DIR"])


def test_name_at_version_builds_then_hits_without_heavy_imports(
    project: Path, local_index: LocalIndex
) -> None:
    code, out, err = run("lintme@1.0", "--", "a.py", "-x", cwd=project, index=local_index)
    assert code == 0, err
    assert out.startswith("lintme 1.0 ['a.py', '-x'] ")
    assert "helper==3.0" in out
    # Locked into the cache, never into the project.
    (lock,) = (cache() / "adhoc").glob("*/pylock.toml")
    assert 'name = "lintme"\nversion = "1.0"' in lock.read_text()
    assert sorted(p.name for p in project.iterdir()) == [".git"]

    local_index.requests.clear()
    code, out, err = run("lintme@1.0", "b", cwd=project, index=local_index, importtime=True)
    assert code == 0
    assert out.startswith("lintme 1.0 ['b'] ")
    assert local_index.requests == []
    assert not imported(err) & set(HEAVY), imported(err) & set(HEAVY)
    ours = {m for m in imported(err, full=True) if m.startswith("toolcache")}
    assert "toolcache._hit" in ours
    assert ours <= {
        "toolcache",
        "toolcache.__main__",
        "toolcache._entry",
        "toolcache._hit",
        "toolcache.paths",
        "toolcache.runner",
    }

    # Another version is another lock and environment; @latest resolves the newest.
    code, out, err = run("lintme@latest", cwd=project, index=local_index)
    assert code == 0, err
    assert out.startswith("lintme 2.0 [] ")
    assert len(list((cache() / "adhoc").glob("*/pylock.toml"))) == 2


def test_from_with_extras_and_with(project: Path, local_index: LocalIndex) -> None:
    code, out, err = run(
        "--from", "lintme[fancy]==1.0", "--with", "helper==2.0", "lintme-other", "z",
        cwd=project, index=local_index,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("lintme 1.0 ['z'] ")
    assert "plug==0.5" in out and "helper==2.0" in out

    # The same command line again: the hit path; another --with is another environment.
    code, hit, err = run(
        "--from", "lintme[fancy]==1.0", "--with", "helper==2.0", "lintme-other", "z",
        cwd=project, index=local_index, importtime=True,
    )  # fmt: skip
    assert code == 0
    assert hit == out
    assert not imported(err) & set(HEAVY)
    code, out, err = run("--from", "lintme==1.0", "lintme", cwd=project, index=local_index)
    assert code == 0, err
    assert "plug" not in out and "helper==3.0" in out


def test_a_manifest_tool_keeps_its_meaning_and_other_names_run_ad_hoc(
    project: Path, local_index: LocalIndex
) -> None:
    (project / "tools.yaml").write_text(
        f"index-url: {local_index.url}\npython: {sys.executable}\n"
        "tools:\n  lintme:\n    from: lintme==1.0\n    run: lintme --from-manifest\n",
        encoding="utf-8",
    )
    for attempt in ("cold", "hit"):
        code, out, err = run("lintme", "a", cwd=project, index=local_index)
        assert code == 0, (attempt, err)
        assert out.startswith("lintme 1.0 ['--from-manifest', 'a'] "), attempt
    # A name the manifest does not have is the package of that name, as `uvx NAME`.
    (project / "tools.yaml").write_text(
        (project / "tools.yaml").read_text().replace("  lintme:", "  lint:"), encoding="utf-8"
    )
    for attempt in ("cold", "hit"):
        code, out, err = run("lintme", "b", cwd=project, index=local_index)
        assert code == 0, (attempt, err)
        assert out.startswith("lintme 2.0 ['b'] "), attempt
    # The manifest gains the name: the manifest's tool again, not last time's hit record.
    (project / "tools.yaml").write_text(
        (project / "tools.yaml").read_text() + "  lintme:\n    from: lintme==1.0\n",
        encoding="utf-8",
    )
    code, out, err = run("lintme", "c", cwd=project, index=local_index)
    assert code == 0, err
    assert out.startswith("lintme 1.0 ['c'] ")
    # --with is for ad hoc runs: beside a manifest's tool it is refused.
    code, out, err = run("--with", "plug", "lintme", cwd=project, index=local_index)
    assert code == 1
    assert "--with is for packages run ad hoc" in err


def test_an_unknown_package_is_one_line(project: Path, local_index: LocalIndex) -> None:
    code, out, err = run("nosuchtool@1.0", cwd=project, index=local_index)
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    first, *rest = err.strip().splitlines()
    assert first == "toolcache: error: no package named nosuchtool on the index"
    assert all(line.startswith("toolcache: error: hint: ") for line in rest), err


def test_a_bare_name_without_a_manifest_says_how_to_run_a_package(
    project: Path, local_index: LocalIndex
) -> None:
    code, _, err = run("lintme", cwd=project, index=local_index)
    assert code == 1
    assert "manifest not found" in err and "toolcache run lintme@latest" in err
    assert local_index.requests == []
