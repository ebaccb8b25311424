"""Talking to package indexes: the simple API (PEP 503/691), files and metadata (PEP 658)."""
