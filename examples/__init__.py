"""Targets for `refbp verify --target examples.<module>:make`: see examples/README.md."""
