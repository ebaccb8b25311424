"""The receipt: what an environment holds and which interpreter it was built with.

A JSON file at the environment's root, written last inside the temporary directory before it
is moved into place: an environment without a readable receipt of this format is not one. How
recently an environment was used lives in a separate empty file whose mtime is touched on each
use, so a cache hit never rewrites the receipt. Standard library only (``lookup`` reads it).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolcache import atomic

FORMAT = 1
FILENAME = "toolcache-receipt.json"
LAST_USED = "toolcache-last-used"


class ReceiptError(Exception):
    """A receipt is missing, unreadable or of another format; ``str()`` says which."""


@dataclass(frozen=True)
class BaseInterpreter:
    """The file the environment's ``python`` runs, as it was when the environment was built."""

    realpath: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, executable: Path) -> BaseInterpreter:
        real = os.path.realpath(executable)
        st = Path(real).stat()
        return cls(realpath=real, size=st.st_size, mtime_ns=st.st_mtime_ns)

    def changed(self) -> str | None:
        """Why this interpreter file is no longer the one recorded, or None."""
        try:
            st = Path(self.realpath).stat()
        except FileNotFoundError:
            return f"its base interpreter {self.realpath} is gone"
        except OSError as exc:
            return f"its base interpreter {self.realpath} cannot be read ({exc.strerror})"
        if (st.st_size, st.st_mtime_ns) != (self.size, self.mtime_ns):
            return f"its base interpreter {self.realpath} changed since it was built"
        return None


@dataclass(frozen=True)
class InstalledPackage:
    name: str
    version: str
    sha256: str  # of the locked file (the sdist's for a package built from one)


@dataclass(frozen=True)
class Receipt:
    interpreter_hash: str
    resolution_hash: str
    base: BaseInterpreter
    packages: tuple[InstalledPackage, ...]
    created: float  # seconds since the epoch

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "interpreter-hash": self.interpreter_hash,
            "resolution-hash": self.resolution_hash,
            "base-interpreter": {
                "realpath": self.base.realpath,
                "size": self.base.size,
                "mtime-ns": self.base.mtime_ns,
            },
            "packages": [
                {"name": p.name, "version": p.version, "sha256": p.sha256} for p in self.packages
            ],
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Receipt:
        base = data["base-interpreter"]
        return cls(
            interpreter_hash=str(data["interpreter-hash"]),
            resolution_hash=str(data["resolution-hash"]),
            base=BaseInterpreter(
                realpath=str(base["realpath"]),
                size=int(base["size"]),
                mtime_ns=int(base["mtime-ns"]),
            ),
            packages=tuple(
                InstalledPackage(str(p["name"]), str(p["version"]), str(p["sha256"]))
                for p in data["packages"]
            ),
            created=float(data["created"]),
        )


def write(env_dir: Path, receipt: Receipt) -> None:
    """Write the receipt into ``env_dir`` atomically (see ``toolcache.atomic``)."""
    text = json.dumps(receipt.to_json(), sort_keys=True, indent=1) + "\n"
    atomic.write_bytes(env_dir / FILENAME, text.encode("utf-8"))
    (env_dir / LAST_USED).touch()


def read(env_dir: Path) -> Receipt:
    """The receipt in ``env_dir``, or ReceiptError saying why there is none."""
    try:
        data = json.loads((env_dir / FILENAME).read_bytes())
    except FileNotFoundError:
        raise ReceiptError("it has no receipt (an unfinished or foreign directory)") from None
    except (OSError, ValueError) as exc:
        raise ReceiptError(f"its receipt cannot be read ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise ReceiptError(f"its receipt has format {found!r}, not {FORMAT}")
    try:
        return Receipt.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReceiptError(f"its receipt is incomplete (bad or missing {exc})") from None


def touch_last_used(env_dir: Path) -> None:
    """Record a use now; best effort (a read-only cache still runs its tools)."""
    path = env_dir / LAST_USED
    try:
        os.utime(path)
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            path.touch()
    except OSError:
        pass


def last_used(env_dir: Path) -> float | None:
    """When the environment was last used (or built), None when unknown."""
    try:
        return (env_dir / LAST_USED).stat().st_mtime
    except OSError:
        return None


def now() -> float:
    return time.time()
