"""One module per command; each is a plain function called by ``cli``."""
