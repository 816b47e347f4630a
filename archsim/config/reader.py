"""Safe YAML loading and a small typed, path-aware reader for config mappings.

Every problem becomes a :class:`ConfigError` that names the file, the key path
(``network.layers[2].kernel``) and what was expected; unknown keys get a
"did you mean" hint.
"""
from __future__ import annotations

import difflib
import math
import reprlib
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import ConfigError

_MISSING = object()
MAX_CONFIG_BYTES = 4 << 20
"""A config larger than this is refused unread (real ones are a few KiB)."""

_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxlist, _SHOW.maxdict, _SHOW.maxstring, _SHOW.maxother = 2, 6, 6, 60, 60
_SHOW.maxlong = 40


def show(value: Any) -> str:
    """A bounded repr for error messages: a YAML alias bomb or a huge value never floods a line."""
    return _SHOW.repr(value)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file with ``yaml.safe_load``; any I/O, encoding or syntax problem is a ConfigError."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(str(path), "", "is a folder, expected a YAML file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(str(path), "", f"file of {size:,} bytes; a config must be at most {MAX_CONFIG_BYTES:,}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read file ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(str(path), where, f"invalid YAML ({problem})") from None
    except RecursionError:
        raise ConfigError(str(path), "", "invalid YAML (nested too deeply)") from None


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", type(None): "nothing"}.get(type(value), type(value).__name__)


class Section:
    """A mapping inside a config file, read key by key; call :meth:`done` to reject leftovers."""

    def __init__(self, file: str, path: str, value: Any) -> None:
        self.file, self.path = file, path
        if not isinstance(value, dict):
            raise ConfigError(file, path or "(top level)", f"expected a mapping, got {_type_name(value)}")
        bad = next((k for k in value if not isinstance(k, (str, int))), None)
        if bad is not None:
            raise ConfigError(file, path or "(top level)", f"keys must be names, got {show(bad)}")
        self._value = value
        self._seen: set[str] = set()

    def key_path(self, key: str | int) -> str:
        """Dotted path of a child key."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, expected: str) -> ConfigError:
        """A ConfigError for ``key`` in this section."""
        return ConfigError(self.file, self.key_path(key), expected)

    def has(self, key: str) -> bool:
        """Whether the key is present."""
        return key in self._value

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """The value as written, or ``default``; a missing required key is an error."""
        self._seen.add(key)
        if key not in self._value:
            if default is _MISSING:
                unread = [str(k) for k in self._value if k not in self._seen]
                close = difflib.get_close_matches(key, unread, n=1)
                hint = f" (is '{close[0]}' a misspelling of it?)" if close else ""
                raise self.error(key, f"required key is missing{hint}")
            return default
        return self._value[key]

    def integer(self, key: str, default: Any = _MISSING, lo: int | None = None, hi: int | None = None) -> int:
        """An integer within [lo, hi]."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_type_name(value)} {show(value)}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
            raise self.error(key, f"expected an integer in {bounds}, got {value}")
        return value

    def number(self, key: str, default: Any = _MISSING, positive: bool = False,
               lo: float | None = None, hi: float | None = None) -> float:
        """A finite real number (ints accepted), optionally positive and within [lo, hi]."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_type_name(value)} {show(value)}")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self.error(key, f"expected a finite number, got {show(value)}")
        if positive and not value > 0:
            raise self.error(key, f"expected a positive number, got {value:g}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
            raise self.error(key, f"expected a number in {bounds}, got {value:g}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        """true or false."""
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_type_name(value)} {show(value)}")
        return value

    def string(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] | None = None) -> str:
        """A string, optionally one of ``choices``."""
        value = self.raw(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_type_name(value)} {show(value)}")
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.error(key, f"expected one of {', '.join(choices)}; got {show(value)}{hint}")
        return value

    def section(self, key: str, default: Any = _MISSING) -> "Section":
        """A nested mapping."""
        return Section(self.file, self.key_path(key), self.raw(key, default))

    def sections(self, key: str, default: Any = _MISSING) -> list["Section"]:
        """A list of mappings."""
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_type_name(value)}")
        return [Section(self.file, f"{self.key_path(key)}[{i}]", item) for i, item in enumerate(value)]

    def int_list(self, key: str, length: int, default: Any = _MISSING, lo: int = 1,
                 hi: int | None = None) -> tuple[int, ...]:
        """A list of ``length`` integers, each in [lo, hi]."""
        value = self.raw(key, default)
        ok = isinstance(value, list) and len(value) == length and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi) for v in value)
        if not ok:
            bounds = f">= {lo}" if hi is None else f"in {lo}..{hi}"
            raise self.error(key, f"expected a list of {length} integers {bounds}, got {show(value)}")
        return tuple(value)

    def done(self) -> None:
        """Reject keys that were never read (misspellings, unsupported options)."""
        for key in self._value:
            if key not in self._seen:
                close = difflib.get_close_matches(str(key), sorted(self._seen), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                known = ", ".join(sorted(self._seen))
                raise self.error(show(key).strip("'")[:60], f"unknown key{hint}; known keys here: {known}")


def checked(section: Section, key: str, value: Any, ok: Callable[[Any], bool], expected: str) -> Any:
    """Return ``value`` if ``ok(value)``, else raise an error for ``key``."""
    if not ok(value):
        raise section.error(key, f"{expected}, got {show(value)}")
    return value
