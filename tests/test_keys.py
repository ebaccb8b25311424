"""Canonical hashes: what changes a key and what must not."""

from __future__ import annotations

import subprocess
import sys

from toolcache import keys


def test_resolution_hash_ignores_order_and_duplicates() -> None:
    a = keys.resolution_hash([("black", "24.1", "aa"), ("click", "8.1", "bb")])
    b = keys.resolution_hash(
        [("click", "8.1", "bb"), ("black", "24.1", "aa"), ("click", "8.1", "bb")]
    )
    assert a == b
    assert len(a) == 64


def test_resolution_hash_changes_with_any_field() -> None:
    base = keys.resolution_hash([("black", "24.1", "aa")])
    assert keys.resolution_hash([("black", "24.2", "aa")]) != base
    assert keys.resolution_hash([("black", "24.1", "ab")]) != base
    assert keys.resolution_hash([("blac", "24.1", "aa")]) != base


def test_fields_are_delimited() -> None:
    """Joining without a separator would make ("ab", "c") and ("a", "bc") collide."""
    assert keys.resolution_hash([("ab", "1", "c")]) != keys.resolution_hash([("a", "b1", "c")])
    assert keys.cache_key("p-", ["ab", "c"]) != keys.cache_key("p-", ["a", "bc"])


def test_cache_key_shape() -> None:
    prefix = keys.restore_prefix("linux", "x86_64")
    assert prefix == "toolcache-v1-linux-x86_64-"
    key = keys.cache_key(prefix, ["i1/r1", "i2/r2", "i1/r1"])
    assert key.startswith(prefix)
    assert key == keys.cache_key(prefix, ["i2/r2", "i1/r1"])
    assert len(key) <= 512 and "," not in key
    assert keys.restore_prefix("linux", "x86_64", "my suffix,2") == (
        "toolcache-v1-linux-x86_64-my_suffix_2-"
    )


def test_env_id_uses_short_digests() -> None:
    assert keys.env_id("a" * 64, "b" * 64) == "a" * 16 + "/" + "b" * 16


def test_hash_identical_in_another_process() -> None:
    """No per-process salt (e.g. set ordering under PYTHONHASHSEED) reaches a hash."""
    code = (
        "from toolcache import keys;"
        "print(keys.inputs_hash({'requirements': ['b', 'a'], 'x': {'z': 1, 'y': [2, 1]}}))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outs) == 1
