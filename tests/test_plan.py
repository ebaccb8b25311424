"""``toolcache plan`` end to end: a real index on 127.0.0.1, a real interpreter, the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.pylock import Pylock, is_valid_pylock_path

from tests.conftest import Dists
from tests.support.index import LocalIndex

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


def fill_index(index: LocalIndex, dists: Dists) -> None:
    index.add(dists.wheel("lintme", "1.0", requires=["helper>=1"]))
    index.add(dists.wheel("lintme", "2.0", requires=["helper>=2", "colorish; extra == 'color'"]))
    index.add(dists.wheel("helper", "1.5"))
    index.add(dists.wheel("helper", "2.1"))
    index.add(dists.wheel("helper", "3.0b1"))  # a prerelease: never chosen unasked
    index.add(dists.wheel("colorish", "0.3"))
    index.add(dists.wheel("fmtme", "0.9", requires=["helper<3"]))


def write_manifest(folder: Path, index_url: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tools.yaml"
    path.write_text(f"index-url: {index_url}\npython: {sys.executable}\n{body}", encoding="utf-8")
    return path


TOOLS = """\
tools:
  lint:
    from: lintme[color]
  fmt:
    from: fmtme
    with: [lintme<2]
  lint-again: lintme[color]
"""


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def plan_json(manifest: Path, cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = cli("plan", "-m", str(manifest), "--format", "json", cwd=cwd, env=env)
    return dict(json.loads(proc.stdout))


def test_plan_locks_and_reports(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> None:
    fill_index(local_index, dists)
    manifest = write_manifest(tmp_path / "project", local_index.url, TOOLS)
    doc = plan_json(manifest, tmp_path)

    # The versioned document's shape is a contract with CI scripts: pinned here.
    assert doc["version"] == 1
    assert sorted(doc) == ["cache-path", "key", "restore-prefix", "tools", "version"]
    assert all(
        sorted(t)
        == sorted(
            [
                "python",
                "interpreter",
                "resolution",
                "environment",
                "lock",
                "lock-status",
                "packages",
                # Added for plan --explain (version 1 gains keys, never loses or changes one).
                "interpreter-fields",
                "inputs",
            ]
        )
        for t in doc["tools"].values()
    )
    tools = doc["tools"]
    assert tools["lint"]["packages"] == [
        {"name": "colorish", "version": "0.3"},
        {"name": "helper", "version": "2.1"},
        {"name": "lintme", "version": "2.0"},
    ]
    assert tools["fmt"]["packages"] == [
        {"name": "fmtme", "version": "0.9"},
        {"name": "helper", "version": "2.1"},
        {"name": "lintme", "version": "1.0"},
    ]
    # Two tools that resolve the same share one environment.
    assert tools["lint"]["environment"] == tools["lint-again"]["environment"]
    assert tools["lint"]["resolution"] == tools["lint-again"]["resolution"]
    assert tools["lint"]["resolution"] != tools["fmt"]["resolution"]
    cache = Path(os.environ["TOOLCACHE_CACHE_DIR"])
    interp, res = tools["lint"]["interpreter"], tools["lint"]["resolution"]
    assert tools["lint"]["environment"] == str(cache / "envs" / interp[:16] / res[:16])

    key = doc["key"]
    assert key.startswith(doc["restore-prefix"])
    assert doc["restore-prefix"].startswith("toolcache-v1-")
    assert len(key) <= 512 and "," not in key
    assert doc["cache-path"] == str(cache / "archives")

    for name in ("lint", "fmt", "lint-again"):
        lock_path = Path(tools[name]["lock"])
        assert lock_path == manifest.parent / "tools.lock" / f"pylock.{name}.toml"
        assert is_valid_pylock_path(lock_path)
        data = tomllib.loads(lock_path.read_text(encoding="utf-8"))
        pylock = Pylock.from_dict(data)  # valid PEP 751
        assert [p.name for p in pylock.packages] == [p["name"] for p in tools[name]["packages"]]
        for package in pylock.packages:
            assert package.wheels and package.wheels[0].hashes["sha256"]


def test_fresh_lock_makes_no_request_and_stale_lock_is_noticed(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill_index(local_index, dists)
    manifest = write_manifest(tmp_path / "p", local_index.url, TOOLS)
    first = plan_json(manifest, tmp_path)
    local_index.requests.clear()

    again = plan_json(manifest, tmp_path)
    assert local_index.requests == []
    assert {t["lock-status"] for t in first["tools"].values()} == {"locked"}
    assert {t.pop("lock-status") for t in again["tools"].values()} == {"fresh"}
    for t in first["tools"].values():
        del t["lock-status"]
    assert again == first

    # A new release does not move a fresh lock; --upgrade takes it.
    local_index.add(dists.wheel("helper", "2.2"))
    assert plan_json(manifest, tmp_path)["tools"]["lint"]["packages"][1]["version"] == "2.1"
    proc = cli("plan", "-m", str(manifest), "--format", "json", "--upgrade", cwd=tmp_path)
    assert json.loads(proc.stdout)["tools"]["lint"]["packages"][1]["version"] == "2.2"

    # Changing the manifest makes the lock stale: --locked refuses in one line.
    manifest.write_text(manifest.read_text().replace("lintme<2", "lintme<1.5"))
    proc = cli("plan", "-m", str(manifest), "--locked", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "tools.lock/pylock.fmt.toml is out of date for tool 'fmt'" in proc.stderr
    assert "requirements" in proc.stderr
    # --frozen uses it as it is.
    proc = cli("plan", "-m", str(manifest), "--frozen", "--format", "json", cwd=tmp_path)
    assert json.loads(proc.stdout)["tools"]["fmt"]["lock-status"] == "frozen"


def test_keys_and_locks_identical_across_machines(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """Two "runners": different working dir, cache root, HOME and interpreter path."""
    fill_index(local_index, dists)
    real_python = Path(sys.executable).resolve()
    results = []
    for runner in ("a", "b"):
        root = tmp_path / runner
        bindir = root / "bin"
        bindir.mkdir(parents=True)
        # The same interpreter reached by another path, as on another runner.
        (bindir / "python3").symlink_to(real_python)
        body = TOOLS.replace("tools:\n", "tools:\n", 1)
        project = root / "work" / "checkout"
        manifest = project / "tools.yaml"
        project.mkdir(parents=True)
        manifest.write_text(
            f"index-url: {local_index.url}\npython: {bindir / 'python3'}\n{body}", encoding="utf-8"
        )
        home = root / "home"
        home.mkdir()
        env = {"HOME": str(home), "TOOLCACHE_CACHE_DIR": str(root / "cache")}
        doc = plan_json(manifest, project, env)
        locks = {name: Path(t["lock"]).read_bytes() for name, t in sorted(doc["tools"].items())}
        results.append((doc, locks))
    (doc_a, locks_a), (doc_b, locks_b) = results
    assert doc_a["key"] == doc_b["key"]
    assert doc_a["restore-prefix"] == doc_b["restore-prefix"]
    for name in doc_a["tools"]:
        for field in ("interpreter", "resolution", "packages"):
            assert doc_a["tools"][name][field] == doc_b["tools"][name][field]
    assert locks_a == locks_b
    assert str(tmp_path) not in "".join(v.decode() for v in locks_a.values())


def test_github_format_writes_outputs_and_summary(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill_index(local_index, dists)
    manifest = write_manifest(tmp_path / "p", local_index.url, TOOLS)
    outputs, summary = tmp_path / "out.txt", tmp_path / "summary.md"
    env = {"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    cli("plan", "-m", str(manifest), "--format", "github", cwd=tmp_path, env=env)
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    doc = json.loads(values["plan"])
    assert values["key"] == doc["key"]
    assert values["restore-prefix"] == doc["restore-prefix"]
    assert values["tools"] == "lint fmt lint-again"
    text = summary.read_text()
    assert "| lint |" in text and doc["key"] in text


def test_unsatisfiable_and_unreachable_are_one_line(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill_index(local_index, dists)
    manifest = write_manifest(
        tmp_path / "p",
        local_index.url,
        "tools:\n  x:\n    from: fmtme\n    with: ['lintme>=2', 'helper<2']\n",
    )
    proc = cli("plan", "-m", str(manifest), cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "lintme==2.0 depends on helper>=2" in proc.stderr
    assert "helper<2" in proc.stderr

    dead = write_manifest(tmp_path / "q", "http://127.0.0.1:9/simple", "tools:\n  x: fmtme\n")
    proc = cli(
        "plan", "-m", str(dead), cwd=tmp_path, check=False, env={"TOOLCACHE_HTTP_RETRIES": "0"}
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("toolcache: error:")]
    assert errors == [
        "toolcache: error: could not reach http://127.0.0.1:9/simple/fmtme/: "
        "[Errno 111] Connection refused (after 1 attempt)"
    ]


def test_unknown_interpreter_is_one_line(tmp_path: Path) -> None:
    manifest = tmp_path / "tools.yaml"
    manifest.write_text("tools:\n  x:\n    from: fmtme\n    python: '2.5'\n")
    proc = cli("plan", "-m", str(manifest), cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "no Python interpreter found for '2.5'" in proc.stderr


def test_described_target_resolves_for_another_machine(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("native", "1.0", tag="cp312-cp312-manylinux_2_28_x86_64"))
    local_index.add(dists.wheel("native", "2.0", tag="cp312-cp312-manylinux_2_34_x86_64"))
    manifest = write_manifest(tmp_path / "p", local_index.url, "tools:\n  n: native\n")
    proc = cli(
        "plan", "-m", str(manifest), "--format", "json",
        "--python-version", "3.12", "--platform", "x86_64-manylinux_2_28",
        cwd=tmp_path,
    )  # fmt: skip
    doc = json.loads(proc.stdout)
    assert doc["tools"]["n"]["packages"] == [{"name": "native", "version": "1.0"}]
    assert doc["tools"]["n"]["python"] == "CPython 3.12.x on x86_64-manylinux_2_28 (described)"
    assert doc["key"].startswith("toolcache-v1-linux-x86_64-")


def test_described_target_key_names_its_platform(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill_index(local_index, dists)
    manifest = write_manifest(tmp_path / "p", local_index.url, "tools:\n  x: fmtme\n")
    args = ("plan", "-m", str(manifest), "--format", "json", "--python-version", "3.13")
    mac = json.loads(cli(*args, "--platform", "aarch64-apple-darwin", cwd=tmp_path).stdout)
    win = json.loads(cli(*args, "--platform", "windows", cwd=tmp_path).stdout)
    assert mac["restore-prefix"] == "toolcache-v1-darwin-arm64-"
    assert win["restore-prefix"] == "toolcache-v1-win32-amd64-"
    assert mac["tools"]["x"]["lock-status"] != "frozen"


def test_credentials_never_in_output_or_lock(tmp_path: Path, dists: Dists) -> None:
    with LocalIndex(tmp_path / "idx", username="ci", password="s3cr3t-token") as index:
        index.add(dists.wheel("fmtme", "0.9"))
        url = index.url.replace("http://", "http://ci:s3cr3t-token@")
        manifest = write_manifest(tmp_path / "p", url, "tools:\n  x: fmtme\n")
        proc = cli("plan", "-m", str(manifest), "--format", "json", cwd=tmp_path)
        lock_text = (manifest.parent / "tools.lock" / "pylock.x.toml").read_text()
    assert "s3cr3t-token" not in proc.stdout + proc.stderr + lock_text
    assert json.loads(proc.stdout)["tools"]["x"]["packages"] == [
        {"name": "fmtme", "version": "0.9"}
    ]


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
def test_same_pins_as_uv(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> None:
    fill_index(local_index, dists)
    manifest = write_manifest(tmp_path / "p", local_index.url, TOOLS)
    doc = plan_json(manifest, tmp_path)
    reqs = tmp_path / "req.in"
    reqs.write_text("fmtme\nlintme<2\n")
    proc = subprocess.run(
        ["uv", "pip", "compile", str(reqs), "--index-url", local_index.url, "--no-cache",
         "--python", sys.executable, "--no-header", "--no-annotate", "--quiet"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    uv_pins = [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
    ours = [f"{p['name']}=={p['version']}" for p in doc["tools"]["fmt"]["packages"]]
    assert ours == uv_pins


def test_find_links_relative_to_manifest(tmp_path: Path, local_index: LocalIndex) -> None:
    project = tmp_path / "project"
    from tests.support.dists import build_wheel

    build_wheel(project / "wheels", "localtool", "1.2")
    manifest = write_manifest(
        project, local_index.url, "find-links: [wheels]\ntools:\n  x: localtool\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    doc = plan_json(manifest, elsewhere)
    assert doc["tools"]["x"]["packages"] == [{"name": "localtool", "version": "1.2"}]
    data = tomllib.loads((project / "tools.lock" / "pylock.x.toml").read_text())
    (package,) = data["packages"]
    assert package["wheels"][0]["path"] == "../wheels/localtool-1.2-py3-none-any.whl"
    assert data["tool"]["toolcache"]["inputs"]["find-links"] == ["wheels"]


_PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def _pyenv_python(minor: str) -> Path | None:
    found = sorted(_PYENV.glob(f"3.{minor}.*/bin/python3.{minor}"))
    return found[-1] if found else None


@pytest.mark.skipif(
    _pyenv_python("12") is None or _pyenv_python("13") is None, reason="needs pyenv 3.12 and 3.13"
)
def test_lock_is_the_same_whichever_interpreter_path_order_finds(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """Two interpreters satisfy `python: "3"`: whichever PATH lists first, the lock is fresh
    and its bytes are the same; each gets the environment of its own interpreter."""
    fill_index(local_index, dists)
    dirs = {}
    for minor in ("12", "13"):
        folder = tmp_path / f"py{minor}"
        folder.mkdir()
        real = _pyenv_python(minor)
        assert real is not None
        (folder / "python3").symlink_to(real)
        dirs[minor] = str(folder)
    project = tmp_path / "p"
    project.mkdir()
    manifest = project / "tools.yaml"
    manifest.write_text(f"index-url: {local_index.url}\npython: '3'\ntools:\n  x: fmtme\n")
    base_path = os.environ["PATH"]
    first = plan_json(
        manifest, project, {"PATH": os.pathsep.join([dirs["12"], dirs["13"], base_path])}
    )
    assert first["tools"]["x"]["python"].startswith("CPython 3.12")
    lock_bytes = (project / "tools.lock" / "pylock.x.toml").read_bytes()
    proc = cli(
        "plan", "-m", str(manifest), "--locked", "--format", "json", cwd=project,
        env={"PATH": os.pathsep.join([dirs["13"], dirs["12"], base_path])},
    )  # fmt: skip
    second = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert second["tools"]["x"]["python"].startswith("CPython 3.13")
    assert second["tools"]["x"]["lock-status"] == "fresh"
    assert second["tools"]["x"]["interpreter"] != first["tools"]["x"]["interpreter"]
    assert (project / "tools.lock" / "pylock.x.toml").read_bytes() == lock_bytes


def test_relative_interpreter_path_is_relative_to_the_manifest(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill_index(local_index, dists)
    project = tmp_path / "project"
    (project / "py" / "bin").mkdir(parents=True)
    (project / "py" / "bin" / "python3").symlink_to(Path(sys.executable).resolve())
    manifest = project / "tools.yaml"
    manifest.write_text(
        f"index-url: {local_index.url}\npython: ./py/bin/python3\ntools:\n  x: fmtme\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    doc = plan_json(manifest, elsewhere)
    assert doc["tools"]["x"]["python"].endswith(str(project / "py" / "bin" / "python3"))
