"""Resolution with resolvelib over the index finder."""
