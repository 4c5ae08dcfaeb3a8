"""A target module that ends the process as it is imported (a script, not a library)."""

import sys

sys.exit(3)
