# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: clusterctrl_eeprom's record of what it last saved to each board's EEPROM. Not a public API.

The firmware cannot read its EEPROM back, so the record is the only way to know whether a save
would change the saved image (spec §5.1). It is a JSON file, owner-only, replaced atomically,
and it carries a marker (``kind`` and ``format``): a file without it is not a record and is
never written, locked or given a temporary file beside it. ``Record.open()`` checks the file
first and only then takes the record's own lock, ``<record>.lock`` (a lock this process already
holds, such as a virtual lab's, is refused rather than waited for).

Entries are keyed by ``board_key``: the board type and its USB path (or its I2C bus when the
path is unknown), which no two boards share at a time, plus the lab ``instance`` of an emulated
board, which changes whenever the lab rebuilds that board's state, so a record never vouches for
an EEPROM the lab has since reset.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    exclusive_lock,
    load_json,
    make_private_dirs,
    write_private,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError

DEFAULT_RECORD = '/var/lib/picluster/clusterctrl-eeprom.json'
RECORD_FORMAT = 2
RECORD_KIND = 'picluster.clusterctrl eeprom record'


def board_key(board, instance: str | None = None) -> str:
    """How the record names a board: ``<type>@usb:<USB path>`` (``@bus:<bus>`` when the path is unknown).

    ``instance`` (default: the board's ``instance`` attribute, set for a virtual lab board) is
    appended as ``#<instance>``: a lab board rebuilt fresh gets a new instance and so a new entry.
    """
    if instance is None:
        instance = getattr(board, 'instance', None)
    where = f'usb:{board.usb_path}' if board.usb_path else f'bus:{board.bus}'
    key = f'{board.driver.type.value}@{where}'
    return f'{key}#{instance}' if instance else key


class Record:
    """The record of what was saved per board."""

    def __init__(self, path: str):
        self.path = path
        self.boards = {}
        self.loaded = False

    def _error(self, text: str) -> ClusterCTRLError:
        return ClusterCTRLError(f'the EEPROM record {self.path} {text}')

    def load(self) -> None:
        """Read the record; creates, locks and changes nothing. A missing record is empty.

        Raises ClusterCTRLError for a file that cannot be read, is not a record (no marker: it is
        never overwritten), or is a damaged record.
        """
        self.loaded = False
        try:
            document = load_json(self.path)
        except ValueError:
            raise self._error('is not a record of clusterctrl_eeprom (it is not JSON), so it is left alone: give record another path')
        except OSError as exc:
            raise self._error(f'cannot be read: {exc.strerror or exc}')
        boards = {}
        if document is not None:
            if not isinstance(document, dict) or document.get('kind') != RECORD_KIND:
                raise self._error('is not a record of clusterctrl_eeprom (it has no record marker), so it is left alone: give record another path')
            if document.get('format') != RECORD_FORMAT:
                raise self._error(
                    f'has format {json.dumps(document.get("format"))[:40]}, not {RECORD_FORMAT}: another version '
                    'of this collection wrote it; delete it (the next saves then write again)'
                )
            boards = document.get('boards')
            problem = _boards_problem(boards)
            if problem:
                raise self._error(f'is damaged ({problem}); delete it (the next saves then write again) or fix it')
        self.boards = boards
        self.loaded = True

    @contextlib.contextmanager
    def open(self, lock: bool = True):
        """Load the record and, when ``lock`` (outside check mode), hold its lock until the block ends.

        The file is checked to be a record (or missing) before its directory, lock or temporary
        file is created; under the lock it is read again, so parallel runs see each other's saves.
        """
        self.load()
        if not lock:
            yield self
            return
        directory = os.path.dirname(self.path) or '.'
        try:
            if not os.path.isdir(directory):
                make_private_dirs(directory)
        except OSError as exc:
            raise self._error(f'cannot be created: {exc.strerror or exc}') from exc

        def lock_error(exc):
            return self._error(f'cannot be locked: {exc.strerror or exc}')

        with exclusive_lock(self.path, lock_error):
            self.load()
            yield self

    def saved(self, key: str) -> dict:
        entry = self.boards.get(key)
        return dict(entry.get('saved') or {}) if isinstance(entry, dict) else {}

    def update(self, key: str, board, image: dict) -> None:
        """Record ``image`` (item -> saved value; ``unknown`` where a save may or may not have happened) and write the file."""
        if not self.loaded:
            raise self._error('was not read before this save: it is only written once it is known to be a record')
        entry = self.boards.setdefault(key, {})
        entry.update(
            product=board.driver.type.product,
            order=board.order,
            bus=board.bus,
            usb_path=board.usb_path,
            updated=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        )
        entry.setdefault('saved', {}).update(image)
        text = json.dumps(dict(kind=RECORD_KIND, format=RECORD_FORMAT, boards=self.boards), indent=1, sort_keys=True)
        try:
            write_private(self.path, text)
        except OSError as exc:
            raise self._error(f'cannot be written: {exc.strerror or exc}') from exc


def _boards_problem(boards) -> str:
    """What is wrong with a record's ``boards`` mapping, or '' when nothing is."""
    if not isinstance(boards, dict):
        return 'boards: expected a mapping'
    for key, entry in boards.items():
        if not isinstance(entry, dict):
            return f'boards[{key!r}]: expected a mapping'
        if not isinstance(entry.get('saved', {}), dict):
            return f'boards[{key!r}].saved: expected a mapping'
    return ''
