# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The virtual lab's bus journal file (``<state file>.journal.jsonl``).

One JSON line per bus transaction, with the run it belongs to, so tests can prove that a
check-mode run sent no mutating command. A journal line is appended once the state's log
holds it (the log is the commit point): lines that cannot be appended wait in a backlog (the
log keeps them), and the next session puts back what a killed run kept out, after cutting a
line torn by the kill. The journal is opened without following symbolic links and created
owner-only (0600).
"""

from __future__ import annotations

import os

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import open_private, write_all


def journal_path(state_file: str) -> str:
    """The bus journal of the lab whose state is ``state_file``."""
    return state_file + '.journal.jsonl'


def lines_size(lines: list) -> int:
    """The bytes ``lines`` take in the journal (one newline each)."""
    return sum(len(line.encode('utf-8')) + 1 for line in lines)


def _journal_bytes(lines: list) -> bytes:
    return ''.join(line + '\n' for line in lines).encode('utf-8')


def _last_line_end(fd: int, size: int) -> int:
    """The offset just after the last newline before ``size`` (0 if none)."""
    end = size
    while end > 0:
        start = max(0, end - 65536)
        newline = os.pread(fd, end - start, start).rfind(b'\n')
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


class JournalFile:
    """The journal of one open session: lines committed (in the log or the state) are queued, then appended."""

    def __init__(self, path: str):
        self.path = path
        self.fd = None
        self.backlog = []  # journal lines in the log, not yet in the journal
        self.size = 0  # the journal's size once the backlog is in
        self.written = 0  # its size as written
        self.error = ''  # why the last append failed

    def _open(self) -> int:
        if self.fd is None:
            self.fd = open_private(self.path, os.O_RDWR | os.O_APPEND)
        return self.fd

    def queue(self, lines: list) -> None:
        """``lines`` are committed: the journal's next lines."""
        self.backlog.extend(lines)
        self.size += lines_size(lines)

    def flush(self) -> None:
        """Append the backlog; on failure it stays (the log has it), cut back before the next try."""
        if not self.backlog:
            return
        try:
            fd = self._open()
            if os.fstat(fd).st_size != self.written:
                os.ftruncate(fd, self.written)  # an append failed part-way
            write_all(fd, _journal_bytes(self.backlog))
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            return
        self.written = self.size
        self.backlog = []

    def recover(self, records: list) -> None:
        """Cut a line torn by a kill; append the lines of the log's ``records`` that are not in place (OSError on failure)."""
        fd = self._open()
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b'\n':
            size = _last_line_end(fd, size)
            os.ftruncate(fd, size)
        missing = []
        for record in records:
            data = _journal_bytes(record.lines)
            if not missing and record.offset + len(data) <= size and os.pread(fd, len(data), record.offset) == data:
                continue  # in place
            if not missing and record.offset <= size and data.startswith(os.pread(fd, size - record.offset, record.offset)):
                os.ftruncate(fd, record.offset)  # these very lines, cut short
                size = record.offset
            missing.append(data)
        if missing:
            data = b''.join(missing)
            write_all(fd, data)
            size += len(data)
        self.size = self.written = size

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
