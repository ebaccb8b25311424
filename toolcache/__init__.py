"""toolcache: developer tools resolved once, locked, cached by interpreter and resolution hash.

This module imports nothing so that the cache-hit path of ``toolcache run`` stays cheap.
"""

__version__ = "0.1.0"
