"""Errors raised by the data sub-package."""


class DataError(Exception):
    """A data set could not be found, read or verified.

    The message is the single line shown to the user: it names the file or folders
    involved and, where possible, says how to fix the problem.
    """
