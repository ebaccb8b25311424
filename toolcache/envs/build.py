"""Build an environment from a lock, crash-safe: lock, look again, build beside, move into place.

1. Take the environment's lock (``envs/<interp16>/<res16>.lock``) and look again: another
   process may have built it meanwhile.
2. Build in ``envs/<interp16>/.tmp-<res16>-<random>``. Leftovers of killed builds are removed
   when their lock is free (ours: always, since we hold it; others: after an hour).
3. Create the virtual environment without pip and activate scripts (``toolcache.envs.venv``:
   written directly when ``venv``'s result is known, else by the interpreter's own ``venv``
   module). Meanwhile the lock's files download (each verified against its sha256
   by ``IndexClient.download``) and wheels are unpacked once into the cache
   (``toolcache.envs.unpacked``); a wheel already unpacked needs neither (nor, when all are,
   the HTTP client).
4. Turn sdists, and local project folders (keyed by the content hash of their sources),
   into wheels once per interpreter (PEP 517 through ``build``, in an isolated
   environment of the target interpreter), cached under ``files-v1/built``.
5. Install every wheel by hard-linking its unpacked files (see ``toolcache.envs.install``).
6. Write the receipt last, then rename the directory into place.

Nothing here resolves: the lock is the whole truth. Any failure, Ctrl-C included, removes the
temporary directory, so the cache is as it was apart from verified downloads and the trees
unpacked from them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from toolcache import atomic, host, keys, mutex, paths
from toolcache.envs import files as file_list
from toolcache.envs import health, install, unpacked, venv
from toolcache.envs import receipt as receipt_mod
from toolcache.envs.store import Environment, env_path, lookup
from toolcache.errors import ToolcacheError
from toolcache.index import disk

if TYPE_CHECKING:
    from toolcache.index.client import IndexClient
    from toolcache.index.models import IndexSettings
    from toolcache.interpreter import Interpreter
    from toolcache.lockfile.document import LockedPackage
    from toolcache.lockfile.selection import Selection

Progress = Callable[[str], None]
#: Called with a file's name and size (None when unknown) as its download starts. The context
#: it returns lasts as long as the download and gives the callback that is handed each chunk's
#: length (or None: nothing counts the bytes). Called from the download threads.
DownloadProgress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None] | None]]

#: A temporary directory whose lock is free is removed once it is this old (seconds).
STALE_AFTER = 3600.0
MAX_DOWNLOADS = 16
MAX_INSTALLS = 8
TMP_PREFIX = ".tmp-"


class BuildError(ToolcacheError):
    """An environment could not be built; ``step`` says where, ``detail`` what was seen."""

    def __init__(self, tool: str, step: str, detail: str) -> None:
        self.tool = tool
        self.step = step
        self.detail = detail
        super().__init__(f"cannot build the environment of {tool!r}: {step}: {detail}")


class MissingOffline(ToolcacheError):
    """``--offline`` and some of the lock's files are not in the cache."""

    def __init__(self, tool: str, missing: Sequence[str]) -> None:
        self.tool = tool
        self.missing = tuple(missing)
        super().__init__(
            f"--offline was given but the cache lacks files for {tool!r}: " + ", ".join(missing)
        )


def build(
    lock: Selection,
    interpreter: Interpreter,
    cache_root: Path,
    *,
    index_urls: Sequence[str] = (),
    offline: bool = False,
    progress: Progress | None = None,
    downloads: DownloadProgress | None = None,
) -> Environment:
    """Build (unless another process just did) the environment of ``lock`` and return it.

    ``progress`` is told each step; ``downloads`` sees each file downloaded.
    """
    say = progress or _quiet
    if str(interpreter.hash) != str(lock.interpreter):
        raise BuildError(
            lock.tool,
            "interpreter",
            f"{lock.path}: the packages were selected for interpreter {lock.interpreter[:16]}, "
            f"but {interpreter.describe()} is {interpreter.hash[:16]}",
        )
    target = env_path(cache_root, lock.interpreter, lock.resolution)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    lock_file = parent / f"{target.name}.lock"

    def waiting() -> None:
        say(f"waiting for another process building the environment of {lock.tool}")

    with mutex.exclusive(lock_file, on_wait=waiting):
        found = lookup(cache_root, lock.interpreter, lock.resolution)
        if found is not None:
            return found
        clean_temporaries(parent, holding=target.name)
        if target.exists() or target.is_symlink():
            say(f"replacing a broken environment: {health.check(target)}")
            atomic.discard(target, f"{TMP_PREFIX}{target.name}-old-")
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}-", dir=parent))
        try:
            built = _build_into(
                tmp,
                lock,
                interpreter=interpreter,
                cache_root=cache_root,
                index_urls=index_urls,
                offline=offline,
                say=say,
                downloads=downloads,
            )
            tmp.chmod(0o777 & ~atomic.UMASK)  # mkdtemp made it private; an environment is not
            try:
                tmp.rename(target)
            except OSError:
                found = lookup(cache_root, lock.interpreter, lock.resolution)
                if found is None:
                    raise
                return found  # someone published without our lock: theirs is as good
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    say(f"environment of {lock.tool} ready")
    return Environment.at(target, built)


def _quiet(message: str) -> None:
    del message


def clean_temporaries(parent: Path, *, holding: str | None = None) -> list[Path]:
    """Remove leftovers of killed builds in ``parent``; return what was removed.

    A ``.tmp-<name>-*`` folder is removed when we hold ``<name>.lock`` (``holding``), or
    when it is older than ``STALE_AFTER`` and nobody holds its lock. Environments
    (``<res16>``) and wheels built from sdists (``built/.../<interp16>``) are laid out so.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        name = entry.name[len(TMP_PREFIX) :].split("-", 1)[0]
        path = Path(entry.path)
        if name != holding:
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if age < STALE_AFTER or mutex.is_locked(parent / f"{name}.lock"):
                continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _build_into(
    tmp: Path,
    lock: Selection,
    *,
    interpreter: Interpreter,
    cache_root: Path,
    index_urls: Sequence[str],
    offline: bool,
    say: Progress,
    downloads: DownloadProgress | None = None,
) -> receipt_mod.Receipt:
    if offline:
        missing = missing_offline(lock, interpreter, cache_root)
        if missing:
            raise MissingOffline(lock.tool, missing)
    count = len(lock.packages)
    say(f"creating the environment of {lock.tool} ({count} packages) with {interpreter.describe()}")
    found = {package: _present_tree(cache_root, package) for package in lock.packages}
    files = {package: tree for package, tree in found.items() if tree is not None}
    files.update((p, _local_file(lock, p)) for p in lock.packages if p.kind == "directory")
    needed = [package for package in lock.packages if package not in files]
    if not needed:  # every wheel is unpacked already: no HTTP client (nor its imports)
        layout = venv.create(interpreter, tmp, lock.tool)
    else:
        from toolcache.index.client import IndexClient

        with IndexClient(cache_root, offline=offline) as client:
            for url in index_urls:
                client.register(url)
            workers = max(1, min(MAX_DOWNLOADS, len(needed) + 1))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                venv_future = pool.submit(venv.create, interpreter, tmp, lock.tool)
                fetching = {
                    package: pool.submit(
                        _fetch_and_unpack, client, lock, package, cache_root, downloads
                    )
                    for package in needed
                }
                with _cancel_on_error(pool):
                    files.update((p, future.result()) for p, future in fetching.items())
                    layout = venv_future.result()
    trees: list[Path] = []
    for package in lock.packages:
        file = files[package]
        if package.kind in ("sdist", "directory"):  # built into a wheel (cached), then unpacked
            if package.kind == "sdist":
                say(f"building a wheel of {package.name} {package.version} from its sdist")
            make = wheel_from_sdist if package.kind == "sdist" else wheel_from_directory
            wheel = make(
                file,
                package.sha256,
                interpreter=interpreter,
                cache_root=cache_root,
                settings=_build_settings(lock, index_urls),
                offline=offline,
                tool=lock.tool,
            )
            file = unpacked.ensure(wheel, disk.sha256_file(wheel), cache_root).root
        trees.append(file)
    say(f"installing {len(trees)} packages")
    python = health.python_of(tmp)
    mode = install.link_mode()
    placed: list[install.Placed] = []
    # The threads overlap the files that are cloned or written (launchers, RECORD).
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_INSTALLS, len(trees)))) as pool:
        installs = [pool.submit(install.install_wheel, t, layout, python, mode=mode) for t in trees]
        with _cancel_on_error(pool):
            for future in installs:
                placed.extend(future.result())
    file_list.write(tmp, placed)
    made = receipt_mod.Receipt(
        interpreter_hash=lock.interpreter,
        resolution_hash=lock.resolution,
        base=receipt_mod.BaseInterpreter.of(interpreter.executable),
        packages=tuple(
            receipt_mod.InstalledPackage(p.name, p.version, p.sha256) for p in lock.packages
        ),
        created=receipt_mod.now(),
    )
    receipt_mod.write(tmp, made)
    return made


@contextlib.contextmanager
def _cancel_on_error(pool: ThreadPoolExecutor) -> Iterator[None]:
    try:
        yield
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise


def _local_file(lock: Selection, package: LockedPackage) -> Path:
    assert package.path is not None
    return (lock.path.parent / package.path).resolve()


def _fetch(
    client: IndexClient,
    lock: Selection,
    package: LockedPackage,
    downloads: DownloadProgress | None = None,
) -> Path:
    """The package's file, verified against the lock's sha256 (downloaded when needed)."""
    if package.url is not None:
        counting = (
            contextlib.nullcontext(None)
            if downloads is None
            else downloads(package.filename, package.size)
        )
        with counting as on_bytes:
            return client.download(
                package.url, package.sha256, filename=package.filename, on_bytes=on_bytes
            )
    if package.path is not None:
        return client.download(_local_file(lock, package).as_uri(), package.sha256)
    raise BuildError(lock.tool, "lock", f"{package.name} {package.version} has no url or path")


def _present_tree(cache_root: Path, package: LockedPackage) -> Path | None:
    """The wheel's tree unpacked in the cache, when it is there and its files still have the
    sizes its RECORD gives (then the wheel file is not needed: the tree was checked against
    it when it was unpacked). A damaged tree is removed, to be unpacked again."""
    if package.kind != "wheel":
        return None
    path = unpacked.tree_path(cache_root, package.sha256)
    tree = unpacked.load(path)
    if tree is None:
        return None
    if unpacked.check(tree) is None:
        return path
    with contextlib.suppress(OSError):
        atomic.discard(path, unpacked.TMP_PREFIX + "damaged-")
    return None


def _fetch_and_unpack(
    client: IndexClient,
    lock: Selection,
    package: LockedPackage,
    cache_root: Path,
    downloads: DownloadProgress | None = None,
) -> Path:
    """A wheel's tree unpacked in the cache (see ``toolcache.envs.unpacked``), or an sdist.

    A cached wheel that is not what its sha256 names (truncated, tampered) is removed and
    downloaded again, once."""
    file = _fetch(client, lock, package, downloads)
    if package.kind != "wheel":
        return file
    try:
        return unpacked.ensure(file, package.sha256, cache_root).root
    except unpacked.WheelMismatch:
        if package.url is None or not file.is_relative_to(paths.wheel_cache_dir(cache_root)):
            raise
        atomic.discard(file, unpacked.TMP_PREFIX + "damaged-")
        file = _fetch(client, lock, package, downloads)
        return unpacked.ensure(file, package.sha256, cache_root).root


def _cached_file(cache_root: Path, package: LockedPackage) -> Path:
    sha = package.sha256
    return paths.wheel_cache_dir(cache_root) / sha[:2] / sha / package.filename


def missing_offline(lock: Selection, interpreter: Interpreter, cache_root: Path) -> list[str]:
    """The lock's files an offline build would need but cannot find."""
    missing: list[str] = []
    for package in lock.packages:
        if package.path is not None and package.url is None:  # a local file or project folder
            local = _local_file(lock, package)
            if package.kind == "directory" and not local.is_dir():
                missing.append(f"{package.filename} (the folder {local})")
            elif package.kind != "directory" and not local.is_file():
                missing.append(f"{package.filename} (at {local})")
            continue
        if package.kind == "sdist" and _built_wheel(cache_root, package.sha256, interpreter):
            continue
        if _present_tree(cache_root, package) is not None:
            continue
        if not _cached_file(cache_root, package).is_file():
            missing.append(package.filename)
    return missing


# --- sdists ------------------------------------------------------------------------------------


def built_dir(
    cache_root: Path,
    sdist_sha256: str,
    interpreter_hash: str,
    build_env: Mapping[str, str] | None = None,
) -> Path:
    """Where the wheel built from an sdist for an interpreter is kept:
    ``built/<sha[:2]>/<sha>/<interp16>``, or ``<interp16>_<env16>`` when environment variables
    that change what a backend builds are set (``build_env``; by default those of
    ``host.Host.build_variables`` in this process's environment, which the backend inherits:
    on macOS ``MACOSX_DEPLOYMENT_TARGET`` names the wheel's minimum macOS and ``ARCHFLAGS``
    its architectures, ``-arch arm64 -arch x86_64`` making it universal2)."""
    if build_env is None:
        build_env = host.current().build_environment(os.environ)
    name = interpreter_hash[: keys.PATH_DIGEST]
    if build_env:
        variables = keys.digest({"format": "toolcache-build-env/1", "variables": build_env})
        name += "_" + variables[: keys.PATH_DIGEST]
    sha = sdist_sha256
    return paths.wheel_cache_dir(cache_root) / "built" / sha[:2] / sha / name


def _built_wheel(cache_root: Path, sdist_sha256: str, interpreter: Interpreter) -> Path | None:
    folder = built_dir(cache_root, sdist_sha256, interpreter.hash)
    with contextlib.suppress(OSError):
        for child in folder.iterdir():
            if child.suffix == ".whl":
                return child
    return None


def _build_settings(lock: Selection, index_urls: Sequence[str]) -> IndexSettings:
    """Indexes for build requirements: those given (with credentials), else the lock's."""
    from toolcache.index.models import DEFAULT_INDEX_URL, IndexSettings

    inputs = lock.inputs
    if index_urls:
        index, extra = index_urls[0], tuple(index_urls[1:])
    else:
        index = str(inputs.get("index-url") or DEFAULT_INDEX_URL)
        extra = tuple(str(u) for u in inputs.get("extra-index-urls") or ())
    # Recorded relative to the manifest's folder, which holds the lock folder.
    manifest_dir = lock.path.parent.parent
    links = tuple(
        link if "://" in str(link) else str((manifest_dir / str(link)).resolve())
        for link in inputs.get("find-links") or ()
    )
    return IndexSettings(index_url=index, extra_index_urls=extra, find_links=links)


def wheel_from_sdist(
    sdist: Path,
    sha256: str,
    *,
    interpreter: Interpreter,
    cache_root: Path,
    settings: IndexSettings,
    offline: bool,
    tool: str,
) -> Path:
    """The wheel built from ``sdist`` for ``interpreter``: from the cache, else built once."""
    cached = _built_wheel(cache_root, sha256, interpreter)
    if cached is not None:
        return cached
    folder = built_dir(cache_root, sha256, interpreter.hash)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with mutex.exclusive(folder.with_name(folder.name + ".lock")):
        cached = _built_wheel(cache_root, sha256, interpreter)
        if cached is not None:
            return cached
        clean_temporaries(folder.parent, holding=folder.name)
        staging = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{folder.name}-", dir=folder.parent))
        try:
            _pep517_wheel(
                sdist,
                interpreter=interpreter,
                cache_root=cache_root,
                settings=settings,
                offline=offline,
                out_dir=staging,
                tool=tool,
            )
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    found = _built_wheel(cache_root, sha256, interpreter)
    if found is None:
        raise BuildError(tool, f"building {sdist.name}", "the backend produced no wheel")
    return found


def wheel_from_directory(
    folder: Path,
    content_hash: str,
    *,
    interpreter: Interpreter,
    cache_root: Path,
    settings: IndexSettings,
    offline: bool,
    tool: str,
) -> Path:
    """The wheel built from a local project folder (``toolcache.local``) for ``interpreter``,
    cached like an sdist's under the content hash of its sources, which must still be the one
    the lock recorded: sources edited since are never installed under the old hash."""
    cached = _built_wheel(cache_root, content_hash, interpreter)
    if cached is not None:
        return cached
    from toolcache.local import content_hash as hash_of

    try:
        now = hash_of(folder)
    except OSError as exc:
        raise BuildError(tool, f"reading {folder}", str(exc)) from None
    if now != content_hash:
        raise BuildError(
            tool,
            f"building {folder}",
            "its sources changed since the lock was written; run `toolcache lock`",
        )
    return wheel_from_sdist(
        folder,
        content_hash,
        interpreter=interpreter,
        cache_root=cache_root,
        settings=settings,
        offline=offline,
        tool=tool,
    )


def _pep517_wheel(
    sdist: Path,
    *,
    interpreter: Interpreter,
    cache_root: Path,
    settings: IndexSettings,
    offline: bool,
    out_dir: Path,
    tool: str,
) -> None:
    """Build a wheel of ``sdist`` into ``out_dir`` with the sdist's backend, run by
    ``interpreter`` in a fresh environment holding only the build requirements."""
    import build as pep517

    from toolcache.index import sdist as sdist_mod

    reqs = sdist_mod.SdistBuilder(settings, cache_root, offline=offline)
    output: list[bytes] = []

    def runner(
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(extra_environ or {})
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )
        output.append(proc.stdout)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)

    step = f"building a wheel of {sdist.name}"
    with tempfile.TemporaryDirectory(prefix="toolcache-wheel-") as scratch:
        source = Path(scratch) / "src"
        if sdist.is_dir():  # a local project folder: a copy of its sources
            from toolcache.local import copy_sources

            copy_sources(sdist, source)
        else:
            sdist_mod.extract(sdist, source)
        project = sdist_mod.project_dir(source)
        env_dir = Path(scratch) / "env"
        venv.create(interpreter, env_dir, tool)
        python = health.python_of(env_dir)
        env = SimpleNamespace(python_executable=str(python), path=str(env_dir))
        try:
            builder = pep517.ProjectBuilder(project, python_executable=str(python), runner=runner)
            reqs.install_requirements(env, builder.build_system_requires, sdist.name)
            reqs.install_requirements(env, builder.get_requires_for_build("wheel"), sdist.name)
            builder.build("wheel", out_dir)
        except pep517.BuildBackendException:
            raise BuildError(tool, step, sdist_mod.tail(b"".join(output), ())) from None
        except pep517.BuildException as exc:
            raise BuildError(tool, step, str(exc)) from None
