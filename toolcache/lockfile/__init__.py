"""Lock files: the PEP 751 document (``document``), the targets it covers (``targets``),
choosing what to install from it for one interpreter (``selection``), and turning a manifest's
tool into a fresh lock (``planning``). Mutual exclusion between processes is ``toolcache.mutex``.
"""
