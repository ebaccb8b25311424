"""Environments as ``.tar.zst`` archives that can be restored on another machine, safely.

``contents`` (the embedded receipt listing every entry and its sha256, and the checks that
make an archive safe to extract), ``pack`` (write an archive of an environment), ``unpack``
(check and extract one into an empty folder), ``restore`` (unpack beside the cache entry,
relocate, health-check, publish). Importing this package imports nothing else.
"""
