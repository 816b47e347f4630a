"""Errors raised by the numerics core."""


class NumericsError(ValueError):
    """An integer operation was asked for something it cannot do exactly (message is user-facing)."""
