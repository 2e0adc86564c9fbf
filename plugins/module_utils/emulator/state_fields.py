# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Typed reading of a saved emulator state (JSON): every field checked, every mistake named by its path.

A saved state is read back from a file a user can edit, truncate or replace, so nothing in it is
trusted: ``Fields`` hands out one field at a time, checks its type and range, and raises
``StateError`` naming the field (``firmware.regs: expected a list of 15 integers 0-255, got ...``).
Each field has exactly one JSON type (an integer field refuses ``true`` and ``3.0``), every field
is required, and ``finish()`` refuses the fields nobody asked for.
"""

from __future__ import annotations

import contextlib

# Counters and sizes in a saved state stay far below this; anything bigger is not a state we wrote.
COUNTER_MAX = 2**53
_DESCRIBE_LIMIT = 40


class StateError(ValueError):
    """A field of a saved state that is missing, unknown, of the wrong type or out of range."""

    def __init__(self, where: str, problem: str):
        super().__init__(f'{where}: {problem}' if where else problem)
        self.where = where
        self.problem = problem

    def inside(self, prefix: str) -> StateError:
        """The same error with ``prefix`` in front of its path (``controllers[1].firmware`` + ``regs``)."""
        return StateError(join(prefix, self.where), self.problem)


def join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    if not name:
        return prefix
    return prefix + name if name.startswith('[') else f'{prefix}.{name}'


def describe(value) -> str:
    """A short account of a JSON value for a message: never the whole of a big or nested value."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, dict):
        return f'a mapping of {len(value)} key(s)'
    if isinstance(value, list):
        return f'a list of {len(value)} item(s)'
    text = repr(value)
    if len(text) > _DESCRIBE_LIMIT:
        text = text[:_DESCRIBE_LIMIT] + '...'
    kind = 'the string' if isinstance(value, str) else 'the number'
    return f'{kind} {text}'


def _only(values: list, kind: type) -> bool:
    """Every item is exactly of ``kind`` (for int: no bool); quick on long lists."""
    return set(map(type, values)) <= {kind}


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(where: str, value, low: int, high: int) -> int:
    if not is_int(value) or not low <= value <= high:
        raise StateError(where, f'expected an integer {low}-{high}, got {describe(value)}')
    return value


def check_bool(where: str, value) -> bool:
    if not isinstance(value, bool):
        raise StateError(where, f'expected true or false, got {describe(value)}')
    return value


def check_text(where: str, value, choices=None) -> str:
    if not isinstance(value, str):
        raise StateError(where, f'expected a string, got {describe(value)}')
    if choices is not None and value not in choices:
        raise StateError(where, f'expected one of {", ".join(choices)}, got {describe(value)}')
    return value


def check_list(where: str, value, length=None, max_length=None) -> list:
    if not isinstance(value, list) or (length is not None and len(value) != length) or (max_length is not None and len(value) > max_length):
        size = f'{length} ' if length is not None else ''
        bound = f' (at most {max_length})' if max_length is not None else ''
        raise StateError(where, f'expected a list of {size}items{bound}, got {describe(value)}')
    return value


def check_mapping(where: str, value) -> dict:
    if not isinstance(value, dict):
        raise StateError(where, f'expected a mapping, got {describe(value)}')
    return value


class Fields:
    """One JSON mapping of a saved state, read field by field."""

    def __init__(self, document, where: str = ''):
        if not isinstance(document, dict):
            raise StateError(where, f'expected a mapping, got {describe(document)}')
        self.document = document
        self.where = where
        self._read = set()

    def path(self, name: str) -> str:
        return join(self.where, name)

    def has(self, name: str) -> bool:
        return name in self.document

    def get(self, name: str):
        """The raw value of a required field."""
        if name not in self.document:
            raise StateError(self.path(name), 'missing')
        self._read.add(name)
        return self.document[name]

    def integer(self, name: str, low: int = 0, high: int = COUNTER_MAX) -> int:
        return check_int(self.path(name), self.get(name), low, high)

    def boolean(self, name: str) -> bool:
        return check_bool(self.path(name), self.get(name))

    def text(self, name: str, choices=None) -> str:
        return check_text(self.path(name), self.get(name), choices)

    def mapping(self, name: str) -> Fields:
        return Fields(self.get(name), self.path(name))

    def items(self, name: str) -> list:
        """The (key, value, path) of a mapping field whose keys the caller checks."""
        value = check_mapping(self.path(name), self.get(name))
        return [(key, item, self.path(f'{name}[{key!r}]')) for key, item in value.items()]

    def sequence(self, name: str, length=None, max_length=None) -> list:
        return check_list(self.path(name), self.get(name), length, max_length)

    def byte_list(self, name: str, length: int) -> bytearray:
        """A list of exactly ``length`` integers 0-255."""
        value = self.get(name)
        if isinstance(value, list) and len(value) == length and _only(value, int):
            with contextlib.suppress(ValueError):
                return bytearray(value)  # ValueError: a value out of 0-255
        raise StateError(self.path(name), f'expected a list of {length} integers 0-255, got {describe(value)}')

    def bool_list(self, name: str, length: int) -> list:
        value = self.get(name)
        if not isinstance(value, list) or len(value) != length or not _only(value, bool):
            raise StateError(self.path(name), f'expected a list of {length} true/false values, got {describe(value)}')
        return list(value)

    def int_list(self, name: str, low: int, high: int, max_length: int, unique: bool = False) -> list:
        value = self.get(name)
        if (
            not isinstance(value, list)
            or len(value) > max_length
            or not all(is_int(v) and low <= v <= high for v in value)
            or (unique and len(set(value)) != len(value))
        ):
            distinct = 'distinct ' if unique else ''
            raise StateError(self.path(name), f'expected a list of at most {max_length} {distinct}integers {low}-{high}, got {describe(value)}')
        return list(value)

    def finish(self) -> None:
        """Refuse the fields nobody read: a saved state has no field this code does not know."""
        extra = [key for key in self.document if key not in self._read]
        if extra:
            raise StateError(self.path(str(extra[0])), 'unknown field')
