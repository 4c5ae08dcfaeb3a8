"""What every test session sets up, one job per module; tests/conftest.py wires them in."""
