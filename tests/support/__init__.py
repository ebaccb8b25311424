"""Real parts for tests: wheels and sdists built in place, and a package index on 127.0.0.1."""
