"""One module per CLI subcommand, each with ``add_arguments(parser)`` and ``run(args) -> int``.

Heavy imports (JAX, pytest, matplotlib, scikit-learn) happen inside ``run`` only.
"""
