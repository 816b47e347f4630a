"""User-facing error types of the sweep and report stages, importable without pandas or Dask
(the command line catches them at start-up cost zero)."""


class StoreError(ValueError):
    """A sweep store cannot be used (message is user-facing)."""


class ReportError(ValueError):
    """Results that cannot be reported (message is user-facing)."""
