# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keeping an open virtual lab session durable, transaction by transaction.

After each bus transaction, before the module's SMBus call returns, the fields of the boards
it changed and its journal line go into the state's write-ahead log (state_log.py, the commit
point), then the journal line into the journal (journal_file.py). A run that ends writes the
state file (atomic replace, no fsync: enough against a killed process) and removes the log. A
log that cannot be written fails the SMBus call with a LabError; the state file is still
written when the run ends.
"""

from __future__ import annotations

import contextlib
import json
import os

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import write_private
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import HAT_BUS
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.journal_file import JournalFile, journal_path
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import LabError, LabFile, lab_error
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.session import LabSession
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.state_file import MAX_STATE_BYTES, SavedState, state_document
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.state_log import LOG_LIMIT, LogFile, log_path


class SessionWriter:
    """Keeps the state, its log and the journal up to date with one open session, transaction by transaction.

    The log is the commit point of a transaction: one appended line holding the fields of the
    boards it changed and its journal line, written before the SMBus call returns. The journal
    line is appended next. The state file is rewritten (atomically) when the session starts with
    boards that differ from it, when it ends after any transaction, and whenever the log passes
    LOG_LIMIT; the log then starts again.
    """

    def __init__(self, lab: LabFile, session: LabSession, saved: SavedState):
        self.lab = lab
        self.session = session
        self.state_file = lab.state_file
        self.journal = JournalFile(journal_path(lab.state_file))
        self.log = LogFile(log_path(lab.state_file))
        self.saved = saved
        self.state_text = saved.text  # what the state file holds
        self.current = {}  # board key (None: the HAT) -> its firmware's (chip's) state, as last taken
        self.unlogged = {}  # board key -> {field: value} changed since the last log record
        self.unlogged_lines = []  # journal lines not yet in the log

    # ------------------------------------------------------------------ the session's life

    def start(self) -> None:
        """Put into the journal what a killed run kept out, then write the state if it differs from the file."""
        try:
            if self.saved.log or os.path.lexists(self.journal.path):
                self.journal.recover(self.saved.log)  # also refuses a journal that is a symbolic link, FIFO...
        except OSError as exc:
            raise self._error(f'cannot write its journal {self.journal.path}: {exc.strerror or exc}') from exc
        self._refresh()
        if self._document() != self.saved.document:
            self._write_state()
        if self.saved.log_exists:
            self.log.remove()

    def record(self, entry) -> None:
        """The journal hook: log the changed fields and the entry's line before the SMBus call returns."""
        self.unlogged_lines.append(json.dumps(dict(entry, run=self.session.run_id, check_mode=self.session.check_mode), sort_keys=True))
        self._refresh(entry['bus'])
        self._log()
        self.journal.flush()
        if self.log.size > LOG_LIMIT and not self.journal.backlog:
            with contextlib.suppress(LabError):  # the log keeps everything; the next checkpoint tries again
                self._checkpoint()

    def finish(self, exc) -> None:
        """Write the state; a failure never hides ``exc``, the error already under way."""
        self.session.journal.on_record = None
        try:
            self._refresh()
            if self.unlogged or self.unlogged_lines or self.log.size:
                self._checkpoint()
            self.journal.flush()
            if self.journal.backlog:
                raise self._error(
                    f'cannot write its journal {self.journal.path}: {self.journal.error}; its last lines wait in {self.log.path} for the next run'
                )
            self.log.remove()
        except LabError as error:
            if exc is None:
                raise
            if isinstance(exc, Exception) and not isinstance(exc, LabError):
                raise LabError(f'{error}; before that, the run had failed: {exc}') from exc
        finally:
            self.close()

    def close(self) -> None:
        self.journal.close()
        self.log.close()

    # ------------------------------------------------------------------ the boards

    def _boards(self, bus=None):
        """(key, state) of every board (only those on ``bus``): a controller's firmware, the HAT's chip (key None)."""
        for controller in self.session.controllers:
            if bus is None or controller.config.bus == bus:
                yield controller.config.key, controller.firmware.to_dict()
        if self.session.hat is not None and (bus is None or bus == HAT_BUS):
            yield None, self.session.hat.chip.to_dict()

    def _refresh(self, bus=None) -> None:
        """Take the boards' current state (only those on ``bus``); what changed since it was last taken is unlogged."""
        for key, state in self._boards(bus):
            previous = self.current.get(key)
            if previous is not None:
                delta = dict((name, value) for name, value in state.items() if type(previous.get(name)) is not type(value) or previous[name] != value)
                if delta:
                    self.unlogged.setdefault(key, {}).update(delta)
            self.current[key] = state

    def _document(self) -> dict:
        """The state document of the boards as last taken."""
        return state_document(self.lab.path, self.session.controllers, self.session.hat, self.current)

    # ------------------------------------------------------------------ the state file

    def _write_state(self) -> None:
        text = json.dumps(self._document(), sort_keys=True)
        if len(text) > MAX_STATE_BYTES:
            raise self._error(f'its state would be {len(text)} bytes, more than the {MAX_STATE_BYTES} a state file may have; the lab holds too many boards')
        try:
            write_private(self.state_file, text, sync=False)  # atomic: enough against a killed process
        except OSError as exc:
            raise self._error(f'cannot write its state file {self.state_file}: {exc.strerror or exc}') from exc
        self.state_text = text

    def _checkpoint(self) -> None:
        """Write every board into the state file; the log then starts again (with the lines the journal still lacks)."""
        self._write_state()
        self.unlogged = {}
        self._committed()  # in the state's history now; the journal gets them next
        self.log.restart()  # the next record starts a log for this state file
        if self.journal.backlog:
            self._write_log({}, self.journal.backlog, self.journal.written)

    # ------------------------------------------------------------------ the log

    def _log(self) -> None:
        """Append one record: the fields changed and the journal lines since the last record."""
        self._write_log(self.unlogged, self.unlogged_lines, self.journal.size)
        self.unlogged = {}
        self._committed()

    def _committed(self) -> None:
        """The unlogged lines are in the log or the state: the journal's next lines."""
        self.journal.queue(self.unlogged_lines)
        self.unlogged_lines = []

    def _write_log(self, changes: dict, lines: list, offset: int) -> None:
        try:
            self.log.append(self.state_text, changes, lines, offset)
        except OSError as exc:
            raise self._error(f'cannot write the log of its state, {self.log.path}: {exc.strerror or exc}') from exc

    def _error(self, text: str) -> LabError:
        return lab_error(self.lab.path, text)
