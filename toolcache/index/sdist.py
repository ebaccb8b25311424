"""Core metadata of an sdist, built once through its PEP 517 backend in an isolated environment.

The build environment is created by ``build.env.DefaultIsolatedEnv`` (uv when available, else
pip); its requirements are installed by a command run here, with our indexes, find-links and
credentials passed through that command's environment only (``os.environ`` is never changed,
so builds can run in parallel threads). The resulting METADATA is stored beside the sdist's
content-addressed cache entry, keyed by its sha256, so a second request builds nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Literal

from toolcache import atomic, paths
from toolcache.errors import MetadataError
from toolcache.index import disk, urls
from toolcache.index.models import IndexSettings

_TAIL_LINES = 20
_BUILT_METADATA = "built.METADATA"


class SdistBuildError(MetadataError):
    """An sdist's backend failed; ``output`` holds the last lines it printed."""

    def __init__(self, filename: str, step: str, output: str) -> None:
        self.filename = filename
        self.step = step
        self.output = output
        message = f"building metadata for {filename} failed ({step})"
        super().__init__(f"{message}:\n{output}" if output else message)


def _uv_binary() -> str | None:
    try:
        import uv

        found: str = uv.find_uv_bin()
        return found
    except (ImportError, FileNotFoundError):
        return shutil.which(os.environ.get("UV") or "uv")


def tail(output: bytes | str | None, secrets: Collection[str]) -> str:
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output or ""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines[-_TAIL_LINES:])


def _inside(root: Path, name: str) -> bool:
    target = (root / name).resolve()
    return target == root or root in target.parents


def extract(archive: Path, dest: Path) -> None:
    """Unpack a ``.tar.gz`` or ``.zip`` sdist into ``dest``, refusing paths that escape it."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    name = archive.name
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for entry in zf.namelist():
                    if not _inside(root, entry):
                        raise MetadataError(f"{name}: member {entry!r} escapes the archive")
                zf.extractall(root)  # noqa: S202 - members checked above
            return
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(root, filter="data")
                return
            safe: list[tarfile.TarInfo] = []
            for member in tf.getmembers():
                if not _inside(root, member.name):
                    raise MetadataError(f"{name}: member {member.name!r} escapes the archive")
                if member.issym() or member.islnk():
                    link_base = (root / member.name).parent if member.issym() else root
                    if Path(member.linkname).is_absolute() or not _inside(
                        root, str(link_base.relative_to(root) / member.linkname)
                    ):
                        raise MetadataError(f"{name}: link {member.name!r} escapes the archive")
                if member.isfile() or member.isdir() or member.issym() or member.islnk():
                    safe.append(member)
            tf.extractall(root, members=safe)  # noqa: S202 - members checked above
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise MetadataError(f"cannot unpack {name}: {exc}") from None


def project_dir(root: Path) -> Path:
    if (root / "pyproject.toml").exists() or (root / "setup.py").exists():
        return root
    children = [c for c in root.iterdir() if c.is_dir()]
    if len(children) == 1:
        return children[0]
    raise MetadataError(f"{root.name}: no project directory in the sdist")


class SdistBuilder:
    """Builds (once) the core metadata of sdists, installing build requirements from
    ``settings``' indexes."""

    def __init__(
        self,
        settings: IndexSettings,
        cache_root: Path,
        *,
        offline: bool = False,
        installer: str | None = None,
    ) -> None:
        self.settings = settings
        self.cache_root = cache_root
        self.offline = offline
        self._uv = _uv_binary() if installer in (None, "uv") else None
        self.installer: Literal["uv", "pip"] = "uv" if self._uv else "pip"
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._secrets = tuple(
            creds[1]
            for url in (settings.index_url, *settings.extra_index_urls, *settings.find_links)
            if (creds := urls.split_credentials(url)[1]) is not None
        )

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def cached_path(self, sha256: str) -> Path:
        return paths.wheel_cache_dir(self.cache_root) / sha256[:2] / sha256 / _BUILT_METADATA

    def metadata(self, sdist: Path, sha256: str | None = None) -> bytes:
        """METADATA of the sdist at ``sdist`` (whose sha256 is computed when not given), or of
        a local project folder (``sha256`` its content hash, ``toolcache.local``), built once
        and kept under that hash."""
        if sha256 is None:
            sha256 = disk.sha256_file(sdist)
        cached = self.cached_path(sha256)
        with self._lock(sha256):
            with contextlib.suppress(OSError):
                return cached.read_bytes()
            data = self._build(sdist)
            atomic.write_bytes(cached, data)
            return data

    # -- building ------------------------------------------------------------------------

    def _build(self, sdist: Path) -> bytes:
        import build
        import build.env

        output: list[bytes] = []

        def runner(
            cmd: Sequence[str],
            cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None,
        ) -> None:
            env = {**os.environ, **(extra_environ or {})}
            proc = subprocess.run(
                cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
            )
            output.append(proc.stdout)
            if proc.returncode:
                raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)

        # pyproject-hooks re-raises the backend's own warnings (deprecated setup.py options and
        # the like) in this process; they are the package author's business, not the user's.
        import pyproject_hooks

        warnings.filterwarnings("ignore", category=pyproject_hooks.BuildBackendWarning)
        name = sdist.name
        with tempfile.TemporaryDirectory(prefix="toolcache-sdist-") as tmp:
            src = Path(tmp) / "src"
            if sdist.is_dir():  # a local project folder: its sources, never its build output
                from toolcache.local import copy_sources

                copy_sources(sdist, src)
                project = src
            else:
                extract(sdist, src)
                project = project_dir(src)
            try:
                with build.env.DefaultIsolatedEnv(installer=self.installer) as env:
                    builder = build.ProjectBuilder.from_isolated_env(env, project, runner=runner)
                    self.install_requirements(env, builder.build_system_requires, name)
                    self.install_requirements(env, builder.get_requires_for_build("wheel"), name)
                    meta_dir = Path(builder.metadata_path(Path(tmp) / "metadata"))
            except build.BuildBackendException as exc:
                cause = exc.exception
                text = b"".join(output)
                if isinstance(cause, subprocess.CalledProcessError) and not text:
                    text = cause.output or b""
                raise SdistBuildError(name, "backend", tail(text, self._secrets)) from None
            except build.BuildException as exc:
                raise SdistBuildError(name, "project", tail(str(exc), self._secrets)) from None
            except (OSError, RuntimeError) as exc:
                raise SdistBuildError(
                    name, "build environment", tail(str(exc), self._secrets)
                ) from None
            try:
                return (meta_dir / "METADATA").read_bytes()
            except OSError:
                raise SdistBuildError(name, "backend", "no METADATA was produced") from None

    def install_environ(self) -> dict[str, str]:
        """Environment for the installer: our indexes, find-links, exclude-newer, TLS."""
        s = self.settings
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if self.installer == "uv":
            env["UV_INDEX_URL"] = s.index_url
            env["UV_EXTRA_INDEX_URL"] = " ".join(s.extra_index_urls)
            env["UV_FIND_LINKS"] = ",".join(urls.to_url(f) for f in s.find_links)
            if s.exclude_newer is not None:
                env["UV_EXCLUDE_NEWER"] = s.exclude_newer.isoformat()
            if self.offline:
                env["UV_OFFLINE"] = "1"
            if not (os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")):
                env.setdefault("UV_SYSTEM_CERTS", "1")  # uv >= 0.9; older uv reads the next
                env.setdefault("UV_NATIVE_TLS", "1")
        else:
            env["PIP_INDEX_URL"] = s.index_url
            env["PIP_EXTRA_INDEX_URL"] = " ".join(s.extra_index_urls)
            env["PIP_FIND_LINKS"] = " ".join(urls.to_url(f) for f in s.find_links)
            if self.offline:
                env["PIP_NO_INDEX"] = "1"
        for key in ("UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
            if key in env and not env[key]:
                del env[key]
        return env

    def install_requirements(self, env: object, requirements: Collection[str], name: str) -> None:
        if not requirements:
            return
        python = str(getattr(env, "python_executable"))  # noqa: B009 - build is untyped here
        environ = self.install_environ()
        environ["VIRTUAL_ENV"] = str(getattr(env, "path"))  # noqa: B009
        if self._uv:
            cmd = [self._uv, "pip", "install", "--python", python, *sorted(requirements)]
        elif importlib.util.find_spec("pip") is not None:
            cmd = [sys.executable, "-m", "pip", "--python", python, "install"]
            cmd += ["--no-input", "--no-warn-script-location", *sorted(requirements)]
        else:
            cmd = [python, "-Im", "pip", "install", "--no-input", *sorted(requirements)]
        proc = subprocess.run(
            cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )
        if proc.returncode:
            raise SdistBuildError(
                name, "installing build requirements", tail(proc.stdout, self._secrets)
            )
