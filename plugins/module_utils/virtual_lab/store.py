# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The virtual lab's persistent state: emulated boards that outlive one module run.

A session locks the lab (an exclusive ``flock`` on ``<state file>.lock``), loads every
board's RAM, EEPROM and pins from the state file (or builds it fresh from the lab file) and
hands out one emulated SMBus per board. Parallel forks therefore queue on the lock and lose
no update.

**Every transaction is kept as a real board keeps it.** After each bus transaction, before
the module's SMBus call returns, one line is appended to the state's log (``<state file>.log``):
the fields of the boards the transaction changed and its journal line (with the journal's size
before it); then the journal line is appended to the journal. The log line is the commit point:
a run killed at any point (SIGTERM from a task timeout, SIGKILL) loses nothing a board would
have kept, and the next session applies the log, appends the journal lines a kill kept out,
cuts a torn last line, and writes the state file. A run that ends writes the state file
(atomic replace, no fsync: enough against a killed process) and removes the log; the log's
first line holds the SHA-256 of the state file it follows, so a log older than the state file
(a kill between the two) only gives back its journal lines. A log that cannot be written fails
the SMBus call with a LabError; the state file is still written when the run ends.

**Boards are matched by identity**, the lab file's ``key`` (type and USB path, declared bus
or order), never by position (state_file.py).

**Nothing in the state file is trusted.** It must be a regular file of bounded size, of this
lab (it records the lab's path), and every field is type-checked; any problem is a LabError
naming the field, and nothing is written. The journal, lock and temporary files are opened
without following symbolic links and created owner-only (0600).

The jobs live apart: the state document in state_file.py, its write-ahead log in
state_log.py, the bus journal in journal_file.py, the session's boards in session.py, and
keeping them durable transaction by transaction in session_writer.py.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    FileTooLarge,
    exclusive_lock,
    read_regular,
    remove_stale_temporaries,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.state_fields import StateError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import LabError, lab_error, load_lab_file
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.session import LabSession, open_controllers, open_hat
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.session_writer import SessionWriter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.state_file import (
    MAX_STATE_BYTES,
    SavedState,
    parse_state,
    read_state,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.state_log import LOG_LIMIT, apply_log, log_path, parse_log


class VirtualLab:
    """A lab file plus its state; ``session()`` opens it for one module run."""

    def __init__(self, path):
        self.lab = load_lab_file(path)

    @property
    def state_file(self) -> str:
        return self.lab.state_file

    def _state_error(self, text: str) -> LabError:
        return lab_error(self.lab.path, text)

    def _read(self, path: str, limit: int, what: str):
        """The bytes of the state file or its log (None when missing), refused before reading unless a regular file."""
        try:
            return read_regular(path, limit, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except FileTooLarge:
            raise self._state_error(f'{what} {path} is larger than it can be ({limit} bytes); delete it to start the lab afresh')
        except OSError as exc:
            raise self._state_error(f'cannot read {what} {path}: {exc.strerror or exc}')

    def _load_state(self) -> SavedState:
        """The state file (checked) with the changes its log holds from a run that was killed."""
        state_file = self.state_file
        raw = self._read(state_file, MAX_STATE_BYTES, 'its state file')
        saved = SavedState() if raw is None else read_state(raw, state_file, self.lab.path)
        log_file = log_path(state_file)
        raw_log = self._read(log_file, LOG_LIMIT + MAX_STATE_BYTES, 'the log of its state,')
        if raw_log is None:
            return saved
        try:
            records, current = parse_log(raw_log, saved.text)
            if current and saved.document is not None:
                merged = parse_state(apply_log(saved.document, records), saved.text)
                merged.document = saved.document
                saved = merged
        except StateError as exc:
            raise self._state_error(
                f'the log of its state, {log_file}, does not fit the state file: {exc}; delete the log to go back '
                'to the state file (losing the changes of the run that was killed)'
            )
        saved.log = records
        saved.log_exists = True
        return saved

    @contextlib.contextmanager
    def session(self, check_mode=False):
        """Lock the lab and yield a LabSession; every transaction is kept as it happens (see the module doc).

        ``check_mode`` is recorded in every journal line of the run, so that one check over all
        journals can prove no check-mode run sent a mutating command. A state that cannot be
        written raises LabError (from the SMBus call, or on leaving); an error already under way
        when leaving is never replaced by it.
        """
        directory = os.path.dirname(self.state_file)
        if not os.path.isdir(directory):
            raise self._state_error(f'the directory of its state file does not exist: {directory}')

        def lock_error(exc):
            return self._state_error(f'cannot create its lock file: {exc.strerror or exc}')

        with exclusive_lock(self.state_file, lock_error):
            with contextlib.suppress(OSError):
                remove_stale_temporaries(self.state_file)  # left by a run killed while writing
            saved = self._load_state()
            journal = BusJournal()
            run_id = f'{os.getpid()}-{int(time.time() * 1000)}-{secrets.token_hex(4)}'
            session = LabSession(run_id, check_mode, open_controllers(self.lab, saved, journal), open_hat(self.lab, saved, journal), journal)
            writer = SessionWriter(self.lab, session, saved)
            try:
                writer.start()
            except BaseException:
                writer.close()
                raise
            journal.on_record = writer.record
            failure = None
            try:
                yield session
            except BaseException as exc:
                failure = exc
                raise
            finally:
                writer.finish(failure)
