"""The one error type for bad user configuration."""


class ConfigError(ValueError):
    """A config problem; ``str()`` is the single line shown to the user (file: key: expected)."""

    def __init__(self, file: str, key_path: str, expected: str) -> None:
        self.file, self.key_path, self.expected = file, key_path, expected
        where = f"{file}: {key_path}" if key_path else file
        super().__init__(f"{where}: {expected}")
