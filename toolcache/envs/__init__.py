"""Cached tool environments: ``store`` (look up, ensure), ``build``, ``venv``, ``install``,
``unpacked``, ``receipt``, ``health``. Importing this package imports nothing else."""
