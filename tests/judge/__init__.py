"""The judge's self-checks: the oracle and the exact arbiter tested against each other."""
