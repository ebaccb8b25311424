"""Cached tool environments: ``store`` (look up, ensure), ``build``, ``install``, ``receipt``,
``health``. Importing this package imports nothing else."""
