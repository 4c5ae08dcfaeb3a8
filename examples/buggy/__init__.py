"""Copies of the textbook network (examples/textbook_numpy.py), each with one classic bug planted.

Each module overrides one step of ``TextbookMLP``, says in its docstring which diagnosis id the
verifier should give, and exposes ``make``:  refbp verify --target examples.buggy.<module>:make
"""
