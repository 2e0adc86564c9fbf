# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The write-ahead log of the virtual lab's state (``<state file>.log``).

After each bus transaction, before the module's SMBus call returns, one line is appended to
the log: the fields of the boards the transaction changed and its journal line (with the
journal's size before it). The log line is the commit point: a run killed at any point
(SIGTERM from a task timeout, SIGKILL) loses nothing a board would have kept, and the next
session applies the log to the state file. The log's first line holds the SHA-256 of the state
file it follows, so a log older than the state file (a kill between writing the state file and
removing the log) only gives back its journal lines. A line cut short by a kill is no record.

The log is opened without following symbolic links and created owner-only (0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    MAX_FILE_BYTES,
    open_private,
    parse_json,
    write_all,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.state_fields import Fields, StateError, check_mapping, describe

# The log is folded into the state file (a checkpoint) once it is this long.
LOG_LIMIT = MAX_FILE_BYTES
MAX_LINES_PER_RECORD = 100000
DIGEST = re.compile(r'[0-9a-f]{64}\Z')


def log_path(state_file: str) -> str:
    """The write-ahead log of the state: one line per transaction since the state file was last written."""
    return state_file + '.log'


def state_digest(text: str) -> str:
    """The SHA-256 of a state file's text, as the log's first line names it."""
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


@dataclass
class LogRecord:
    """One transaction (or more, after a failed write) of the log, checked."""

    offset: int  # the journal's size before the lines
    lines: list  # the journal lines of the transaction (more after a failed write)
    boards: dict  # board key -> {firmware field: value}, the fields the transaction changed
    hat: dict  # chip field -> value


# ---------------------------------------------------------------------------- reading the log


def _log_record(document, where: str) -> LogRecord:
    fields = Fields(document, where)
    boards = dict((key, check_mapping(path, delta)) for key, delta, path in fields.items('boards'))
    hat = check_mapping(fields.path('hat'), fields.get('hat')) if fields.has('hat') else {}
    journal = fields.mapping('journal')
    offset = journal.integer('offset')
    lines = journal.sequence('lines', max_length=MAX_LINES_PER_RECORD)
    for index, line in enumerate(lines):
        path = journal.path(f'lines[{index}]')
        if not isinstance(line, str) or '\n' in line:
            raise StateError(path, f'expected one journal line, got {describe(line)}')
        try:
            if not isinstance(parse_json(line.encode('utf-8')), dict):
                raise ValueError('not a mapping')
        except (ValueError, UnicodeEncodeError):
            raise StateError(path, 'expected a journal line (a JSON mapping)')
    journal.finish()
    fields.finish()
    return LogRecord(offset, list(lines), boards, hat)


def parse_log(raw: bytes, state_text: str) -> tuple:
    """The log's records, and whether it was written after ``state_text`` (else only its journal lines count).

    A line cut short by a kill (no newline at the end) is no record; StateError names a bad line.
    """
    chunks = raw.split(b'\n')[:-1]
    documents = []
    for number, chunk in enumerate(chunks, 1):
        try:
            documents.append(parse_json(chunk))
        except ValueError:
            raise StateError(f'line {number}', 'not JSON')
    if not documents:
        return [], False
    header = Fields(documents[0], 'line 1')
    digest = header.text('state')
    header.finish()
    if not DIGEST.match(digest):
        raise StateError('line 1.state', f'expected the SHA-256 of a state file, got {describe(digest)}')
    records = [_log_record(document, f'line {number}') for number, document in enumerate(documents[1:], 2)]
    return records, digest == state_digest(state_text)


def apply_log(document: dict, records: list) -> dict:
    """The state document with the boards' changes of the log applied (the document itself is left as it is)."""
    merged = dict(document)
    controllers = list(merged['controllers'])
    index = dict((entry['key'], position) for position, entry in enumerate(controllers))
    for number, record in enumerate(records, 2):
        for key, delta in record.boards.items():
            if key not in index:
                raise StateError(f'line {number}.boards[{key!r}]', 'no such board in the state file')
            entry = controllers[index[key]]
            controllers[index[key]] = dict(entry, firmware=dict(entry['firmware'], **delta))
        if record.hat:
            if 'hat' not in merged:
                raise StateError(f'line {number}.hat', 'the state file has no HAT')
            merged['hat'] = dict(merged['hat'], chip=dict(merged['hat']['chip'], **record.hat))
    merged['controllers'] = controllers
    return merged


# ---------------------------------------------------------------------------- writing the log


class LogFile:
    """The log of one open session: records appended one by one, a record torn by a failed write cut before the next."""

    def __init__(self, path: str):
        self.path = path
        self.fd = None
        self.size = 0  # 0: the next record starts a log (header first) for the state file
        self.torn = False

    def append(self, state_text: str, changes: dict, lines: list, offset: int) -> None:
        """Append a record (after the header naming the state file ``state_text``, when the log starts); OSError on failure.

        ``changes`` maps a board key (None: the HAT) to its changed fields; ``lines`` are journal lines,
        ``offset`` the journal's size before them.
        """
        record = dict(boards=dict((key, delta) for key, delta in changes.items() if key is not None), journal=dict(lines=lines, offset=offset))
        if None in changes:
            record['hat'] = changes[None]
        data = (json.dumps(record, sort_keys=True) + '\n').encode('utf-8')
        if self.size == 0:
            data = (json.dumps(dict(state=state_digest(state_text))) + '\n').encode('utf-8') + data
        if self.fd is None:
            self.fd = open_private(self.path, os.O_RDWR | os.O_APPEND)
        if self.torn or self.size == 0:
            os.ftruncate(self.fd, self.size)
        self.torn = True
        write_all(self.fd, data)
        self.torn = False
        self.size += len(data)

    def restart(self) -> None:
        """The state file was written: the next record starts the log again."""
        self.size = 0

    def remove(self) -> None:
        self.close()
        self.size = 0
        with contextlib.suppress(OSError):  # left behind, it is older than the state file: only its journal lines count
            os.unlink(self.path)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
