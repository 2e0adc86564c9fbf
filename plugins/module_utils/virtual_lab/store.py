# -*- coding: utf-8 -*-
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
or order), never by position: reordering or inserting entries keeps every board's state, and
a changed entry (another fingerprint) rebuilds only that board. A board built fresh gets a new
random ``instance``, so records kept about it elsewhere (clusterctrl_eeprom's) can tell that
its state was reset.

**Nothing in the state file is trusted.** It must be a regular file of bounded size, of this
lab (it records the lab's path), and every field is type-checked; any problem is a LabError
naming the field, and nothing is written. The journal, lock and temporary files are opened
without following symbolic links and created owner-only (0600).

The journal (``<state file>.journal.jsonl``) has one JSON line per bus transaction, with
the run it belongs to, so tests can prove that a check-mode run sent no mutating command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    MAX_FILE_BYTES,
    FileTooLarge,
    exclusive_lock,
    open_private,
    parse_json,
    read_regular,
    remove_stale_temporaries,
    write_all,
    write_private,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import HAT_BUS
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.faults import FaultPlan
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.state_fields import Fields, StateError, check_mapping, describe
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200, HostI2CAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import (
    ControllerConfig,
    HatConfig,
    LabError,
    load_lab_file,
)

STATE_FORMAT = 2
STATE_KIND = 'picluster.clusterctrl virtual lab state'
# A state holds a few kilobytes per board; a lab file of at most 1 MiB cannot declare more than this.
MAX_STATE_BYTES = 8 * MAX_FILE_BYTES
# The log is folded into the state file (a checkpoint) once it is this long.
LOG_LIMIT = MAX_FILE_BYTES
MAX_BOARDS = 4096
MAX_LINES_PER_RECORD = 100000
INSTANCE = re.compile(r'[0-9a-f]{16}\Z')
DIGEST = re.compile(r'[0-9a-f]{64}\Z')


def journal_path(state_file: str) -> str:
    return state_file + '.journal.jsonl'


def log_path(state_file: str) -> str:
    """The write-ahead log of the state: one line per transaction since the state file was last written."""
    return state_file + '.log'


def new_instance() -> str:
    """The random id of a board state built fresh (16 hex digits)."""
    return secrets.token_hex(8)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


@dataclass
class LabController:
    """One emulated ClusterCTRL board in an open session.

    ``instance`` changes whenever the board's state is built fresh (new lab, changed entry,
    deleted state file): whatever is known about the board under an older instance is stale.
    """

    config: ControllerConfig
    firmware: ClusterCTRLFirmware
    smbus: EmulatedSMBus
    usb_path: str
    instance: str


@dataclass
class LabHat:
    """The emulated ClusterHAT (XRA1200 expander on the controller's bus 1) in an open session."""

    config: HatConfig
    chip: XRA1200
    smbus: EmulatedSMBus


@dataclass
class LabSession:
    """What a module sees while the lab is locked."""

    run_id: str
    check_mode: bool
    controllers: list
    hat: LabHat | None
    journal: BusJournal


@dataclass
class _SavedBoard:
    where: str  # where it was read: controllers[1]
    fingerprint: str
    instance: str
    firmware: ClusterCTRLFirmware


@dataclass
class _LogRecord:
    offset: int  # the journal's size before the lines
    lines: list  # the journal lines of the transaction (more after a failed write)
    boards: dict  # board key -> {firmware field: value}, the fields the transaction changed
    hat: dict  # chip field -> value


@dataclass
class _SavedState:
    """The state file and its log, checked: boards by key, the HAT, the log's journal lines."""

    text: str = ''  # the state file as read ('' when there is none)
    document: dict | None = None  # the state file as parsed, before the log
    controllers: dict = field(default_factory=dict)
    hat: tuple | None = None  # (fingerprint, XRA1200)
    log: list = field(default_factory=list)  # _LogRecord
    log_exists: bool = False


# ---------------------------------------------------------------------------- reading the state and its log

def _controller_entry(entry, where):
    fields = Fields(entry, where)
    key = fields.text('key')
    fingerprint = fields.text('fingerprint')
    instance = fields.text('instance')
    if not INSTANCE.match(instance):
        raise StateError(fields.path('instance'), 'expected 16 hexadecimal digits, got %s' % describe(instance))
    try:
        firmware = ClusterCTRLFirmware.from_dict(fields.get('firmware'))
    except StateError as exc:
        raise exc.inside(fields.path('firmware'))
    fields.finish()
    return key, _SavedBoard(where, fingerprint, instance, firmware)


def _hat_entry(entry, where):
    fields = Fields(entry, where)
    fingerprint = fields.text('fingerprint')
    try:
        chip = XRA1200.from_dict(fields.get('chip'))
    except StateError as exc:
        raise exc.inside(fields.path('chip'))
    fields.finish()
    return fingerprint, chip


def parse_state(document, text: str = '') -> _SavedState:
    """Check every field of a state document (its kind, format and lab already checked); StateError names a bad one."""
    fields = Fields(document)
    for name in ('format', 'kind', 'lab'):
        fields.get(name)
    saved = _SavedState(text=text, document=document)
    for index, entry in enumerate(fields.sequence('controllers', max_length=MAX_BOARDS)):
        key, board = _controller_entry(entry, 'controllers[%d]' % index)
        if key in saved.controllers:
            raise StateError(board.where + '.key', 'the key %s is also that of %s' % (describe(key), saved.controllers[key].where))
        saved.controllers[key] = board
    if fields.has('hat'):
        saved.hat = _hat_entry(fields.get('hat'), 'hat')
    fields.finish()
    return saved


def _log_record(document, where) -> _LogRecord:
    fields = Fields(document, where)
    boards = dict((key, check_mapping(path, delta)) for key, delta, path in fields.items('boards'))
    hat = check_mapping(fields.path('hat'), fields.get('hat')) if fields.has('hat') else {}
    journal = fields.mapping('journal')
    offset = journal.integer('offset')
    lines = journal.sequence('lines', max_length=MAX_LINES_PER_RECORD)
    for index, line in enumerate(lines):
        path = journal.path('lines[%d]' % index)
        if not isinstance(line, str) or '\n' in line:
            raise StateError(path, 'expected one journal line, got %s' % describe(line))
        try:
            if not isinstance(parse_json(line.encode('utf-8')), dict):
                raise ValueError('not a mapping')
        except (ValueError, UnicodeEncodeError):
            raise StateError(path, 'expected a journal line (a JSON mapping)')
    journal.finish()
    fields.finish()
    return _LogRecord(offset, list(lines), boards, hat)


def parse_log(raw: bytes, state_text: str):
    """The log's records, and whether it was written after ``state_text`` (else only its journal lines count).

    A line cut short by a kill (no newline at the end) is no record; StateError names a bad line.
    """
    chunks = raw.split(b'\n')[:-1]
    documents = []
    for number, chunk in enumerate(chunks, 1):
        try:
            documents.append(parse_json(chunk))
        except ValueError:
            raise StateError('line %d' % number, 'not JSON')
    if not documents:
        return [], False
    header = Fields(documents[0], 'line 1')
    digest = header.text('state')
    header.finish()
    if not DIGEST.match(digest):
        raise StateError('line 1.state', 'expected the SHA-256 of a state file, got %s' % describe(digest))
    records = [_log_record(document, 'line %d' % number) for number, document in enumerate(documents[1:], 2)]
    return records, digest == _digest(state_text)


def apply_log(document: dict, records: list) -> dict:
    """The state document with the boards' changes of the log applied (the document itself is left as it is)."""
    merged = dict(document)
    controllers = list(merged['controllers'])
    index = dict((entry['key'], position) for position, entry in enumerate(controllers))
    for number, record in enumerate(records, 2):
        for key, delta in record.boards.items():
            if key not in index:
                raise StateError('line %d.boards[%r]' % (number, key), 'no such board in the state file')
            entry = controllers[index[key]]
            controllers[index[key]] = dict(entry, firmware=dict(entry['firmware'], **delta))
        if record.hat:
            if 'hat' not in merged:
                raise StateError('line %d.hat' % number, 'the state file has no HAT')
            merged['hat'] = dict(merged['hat'], chip=dict(merged['hat']['chip'], **record.hat))
    merged['controllers'] = controllers
    return merged


# ---------------------------------------------------------------------------- building the boards

def _new_firmware(config):
    kwargs = dict(firmware=config.firmware, order=config.order, blank_eeprom=config.eeprom == 'blank', adc_raw=config.adc or None)
    if config.hats is not None:
        kwargs['da_hat_ports'] = config.hats
    if config.temperature_raw is not None:
        kwargs['temperature_raw'] = config.temperature_raw
    return ClusterCTRLFirmware(config.board_type, **kwargs)


def _adapter(lab_path, config, firmware, journal):
    try:
        faults = FaultPlan.from_dict(config.faults)
    except (TypeError, ValueError) as exc:
        raise LabError('virtual lab %s: controllers[%d]: faults: %s' % (lab_path, config.index, exc))
    return I2CTinyUsbAdapter.for_board(firmware, bus_number=config.bus, journal=journal, fault_plan=faults)


# ---------------------------------------------------------------------------- writing, transaction by transaction

class _SessionWriter:
    """Keeps the state, its log and the journal up to date with one open session, transaction by transaction.

    The log is the commit point of a transaction: one appended line holding the fields of the
    boards it changed and its journal line, written before the SMBus call returns. The journal
    line is appended next. The state file is rewritten (atomically) when the session starts with
    boards that differ from it, when it ends after any transaction, and whenever the log passes
    LOG_LIMIT; the log then starts again.
    """

    def __init__(self, lab: VirtualLab, session: LabSession, saved: _SavedState):
        self.lab = lab
        self.session = session
        self.state_file = lab.state_file
        self.journal_file = journal_path(lab.state_file)
        self.log_file = log_path(lab.state_file)
        self.saved = saved
        self.state_text = saved.text  # what the state file holds
        self.current = {}  # board key (None: the HAT) -> its firmware's (chip's) state, as last taken
        self.unlogged = {}  # board key -> {field: value} changed since the last log record
        self.unlogged_lines = []  # journal lines not yet in the log
        self.backlog = []  # journal lines in the log, not yet in the journal
        self.journal_size = 0  # the journal's size once the backlog is in
        self.journal_written = 0  # its size as written
        self.journal_fd = None
        self.log_fd = None
        self.log_size = 0
        self.log_torn = False
        self.journal_error = ''

    # ------------------------------------------------------------------ the session's life

    def start(self) -> None:
        """Put into the journal what a killed run kept out, then write the state if it differs from the file."""
        try:
            if self.saved.log or os.path.lexists(self.journal_file):
                self._recover_journal()  # also refuses a journal that is a symbolic link, FIFO...
        except OSError as exc:
            raise self._error('cannot write its journal %s: %s' % (self.journal_file, exc.strerror or exc)) from exc
        self._refresh()
        if self._document() != self.saved.document:
            self._write_state()
        if self.saved.log_exists:
            self._remove_log()

    def record(self, entry) -> None:
        """The journal hook: log the changed fields and the entry's line before the SMBus call returns."""
        self.unlogged_lines.append(json.dumps(dict(entry, run=self.session.run_id, check_mode=self.session.check_mode),
                                              sort_keys=True))
        self._refresh(entry['bus'])
        self._log()
        self._append_journal()
        if self.log_size > LOG_LIMIT and not self.backlog:
            with contextlib.suppress(LabError):  # the log keeps everything; the next checkpoint tries again
                self._checkpoint()

    def finish(self, exc) -> None:
        """Write the state; a failure never hides ``exc``, the error already under way."""
        self.session.journal.on_record = None
        try:
            self._refresh()
            if self.unlogged or self.unlogged_lines or self.log_size:
                self._checkpoint()
            self._append_journal()
            if self.backlog:
                raise self._error('cannot write its journal %s: %s; its last lines wait in %s for the next run'
                                  % (self.journal_file, self.journal_error, self.log_file))
            self._remove_log()
        except LabError as error:
            if exc is None:
                raise
            if isinstance(exc, Exception) and not isinstance(exc, LabError):
                raise LabError('%s; before that, the run had failed: %s' % (error, exc)) from exc
        finally:
            self.close()

    def close(self) -> None:
        for fd in (self.journal_fd, self.log_fd):
            if fd is not None:
                os.close(fd)
        self.journal_fd = self.log_fd = None

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
                delta = dict((name, value) for name, value in state.items()
                             if type(previous.get(name)) is not type(value) or previous[name] != value)
                if delta:
                    self.unlogged.setdefault(key, {}).update(delta)
            self.current[key] = state

    def _document(self) -> dict:
        """The state document of the boards as last taken."""
        controllers = [dict(key=c.config.key, fingerprint=c.config.fingerprint(), instance=c.instance, firmware=self.current[c.config.key])
                       for c in self.session.controllers]
        document = dict(format=STATE_FORMAT, kind=STATE_KIND, lab=self.lab.lab.path, controllers=controllers)
        if self.session.hat is not None:
            document['hat'] = dict(fingerprint=self.session.hat.config.fingerprint(), chip=self.current[None])
        return document

    # ------------------------------------------------------------------ the state file

    def _write_state(self) -> None:
        text = json.dumps(self._document(), sort_keys=True)
        if len(text) > MAX_STATE_BYTES:
            raise self._error('its state would be %d bytes, more than the %d a state file may have; the lab holds too many boards'
                              % (len(text), MAX_STATE_BYTES))
        try:
            write_private(self.state_file, text, sync=False)  # atomic: enough against a killed process
        except OSError as exc:
            raise self._error('cannot write its state file %s: %s' % (self.state_file, exc.strerror or exc)) from exc
        self.state_text = text

    def _checkpoint(self) -> None:
        """Write every board into the state file; the log then starts again (with the lines the journal still lacks)."""
        self._write_state()
        self.unlogged = {}
        self._committed(self.unlogged_lines)  # in the state's history now; the journal gets them next
        self.log_size = 0  # the next record starts a log for this state file
        if self.backlog:
            self._write_log({}, self.backlog, self.journal_written)

    # ------------------------------------------------------------------ the log

    def _log(self) -> None:
        """Append one record: the fields changed and the journal lines since the last record."""
        self._write_log(self.unlogged, self.unlogged_lines, self.journal_size)
        self.unlogged = {}
        self._committed(self.unlogged_lines)

    def _committed(self, lines) -> None:
        """``lines`` are in the log or the state: the journal's next lines."""
        self.backlog.extend(lines)
        self.journal_size += _size(lines)
        self.unlogged_lines = []

    def _write_log(self, changes, lines, offset) -> None:
        """Append a record (after the header naming the state file, when the log starts)."""
        record = dict(boards=dict((key, delta) for key, delta in changes.items() if key is not None),
                      journal=dict(lines=lines, offset=offset))
        if None in changes:
            record['hat'] = changes[None]
        data = (json.dumps(record, sort_keys=True) + '\n').encode('utf-8')
        if self.log_size == 0:
            data = (json.dumps(dict(state=_digest(self.state_text))) + '\n').encode('utf-8') + data
        try:
            if self.log_fd is None:
                self.log_fd = open_private(self.log_file, os.O_RDWR | os.O_APPEND)
            if self.log_torn or self.log_size == 0:
                os.ftruncate(self.log_fd, self.log_size)
            self.log_torn = True
            write_all(self.log_fd, data)
            self.log_torn = False
        except OSError as exc:
            raise self._error('cannot write the log of its state, %s: %s' % (self.log_file, exc.strerror or exc)) from exc
        self.log_size += len(data)

    def _remove_log(self) -> None:
        if self.log_fd is not None:
            os.close(self.log_fd)
            self.log_fd = None
        self.log_size = 0
        with contextlib.suppress(OSError):  # left behind, it is older than the state file: only its journal lines count
            os.unlink(self.log_file)

    # ------------------------------------------------------------------ the journal

    def _journal(self) -> int:
        if self.journal_fd is None:
            self.journal_fd = open_private(self.journal_file, os.O_RDWR | os.O_APPEND)
        return self.journal_fd

    def _append_journal(self) -> None:
        """Append the backlog; on failure it stays (the log has it), cut back before the next try."""
        if not self.backlog:
            return
        try:
            fd = self._journal()
            if os.fstat(fd).st_size != self.journal_written:
                os.ftruncate(fd, self.journal_written)  # an append failed part-way
            write_all(fd, ''.join(line + '\n' for line in self.backlog).encode('utf-8'))
        except OSError as exc:
            self.journal_error = exc.strerror or str(exc)
            return
        self.journal_written = self.journal_size
        self.backlog = []

    def _recover_journal(self) -> None:
        """Cut a line torn by a kill; append the log's lines that are not in place."""
        fd = self._journal()
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b'\n':
            size = _last_line_end(fd, size)
            os.ftruncate(fd, size)
        missing = []
        for record in self.saved.log:
            data = ''.join(line + '\n' for line in record.lines).encode('utf-8')
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
        self.journal_size = self.journal_written = size

    def _error(self, text: str) -> LabError:
        return LabError('virtual lab %s: %s' % (self.lab.lab.path, text))


def _size(lines) -> int:
    return sum(len(line.encode('utf-8')) + 1 for line in lines)


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


# ---------------------------------------------------------------------------- the lab

class VirtualLab(object):
    """A lab file plus its state; ``session()`` opens it for one module run."""

    def __init__(self, path):
        self.lab = load_lab_file(path)

    @property
    def state_file(self):
        return self.lab.state_file

    def _state_error(self, text):
        return LabError('virtual lab %s: %s' % (self.lab.path, text))

    def _read(self, path, limit, what):
        """The bytes of the state file or its log (None when missing), refused before reading unless a regular file."""
        try:
            return read_regular(path, limit, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except FileTooLarge:
            raise self._state_error('%s %s is larger than it can be (%d bytes); delete it to start the lab afresh' % (what, path, limit))
        except OSError as exc:
            raise self._state_error('cannot read %s %s: %s' % (what, path, exc.strerror or exc))

    def _load_state(self) -> _SavedState:
        """The state file (checked) with the changes its log holds from a run that was killed."""
        state_file = self.state_file
        raw = self._read(state_file, MAX_STATE_BYTES, 'its state file')
        saved = _SavedState() if raw is None else self._parse(raw)
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
            raise self._state_error('the log of its state, %s, does not fit the state file: %s; delete the log to go back to the '
                                    'state file (losing the changes of the run that was killed)' % (log_file, exc))
        saved.log = records
        saved.log_exists = True
        return saved

    def _parse(self, raw) -> _SavedState:
        state_file = self.state_file
        try:
            document = parse_json(raw)
        except ValueError:
            raise self._state_error('the state file %s is corrupt; delete it to start the lab afresh' % state_file)
        if not isinstance(document, dict) or document.get('kind') != STATE_KIND:
            raise self._state_error('%s is not a virtual lab state file, and the lab will not overwrite it: set state_file to '
                                    'another path, or delete the file if it is an old state of this lab' % state_file)
        if document.get('format') != STATE_FORMAT:
            raise self._state_error('the state file %s has format %s, not %d: another version of this collection wrote it; '
                                    'delete it to start the lab afresh' % (state_file, describe(document.get('format')), STATE_FORMAT))
        owner = document.get('lab')
        if owner != self.lab.path and not (isinstance(owner, str) and os.path.realpath(owner) == os.path.realpath(self.lab.path)):
            raise self._state_error('the state file %s belongs to the lab %s; give this lab its own state_file, or delete the '
                                    'state file to start this lab afresh' % (state_file, owner[:4096] if isinstance(owner, str) else describe(owner)))
        try:
            return parse_state(document, raw.decode('utf-8'))
        except StateError as exc:
            raise self._state_error('the state file %s is corrupt: %s; delete it to start the lab afresh' % (state_file, exc))

    def _controllers(self, saved: _SavedState, journal: BusJournal) -> list:
        controllers = []
        for config in self.lab.controllers:
            previous = saved.controllers.get(config.key)
            if previous is not None and previous.fingerprint == config.fingerprint():
                firmware, instance = previous.firmware, previous.instance
                if (firmware.board, firmware.firmware) != (config.board_type, config.firmware):
                    raise self._state_error('the state of %s is corrupt: %s.firmware: a %s with firmware %s, but the lab has a %s '
                                            'with firmware %s there; delete the state file to start the lab afresh'
                                            % (self.state_file, previous.where, firmware.board.value, firmware.firmware,
                                               config.board_type.value, config.firmware))
                firmware.reenumerate()  # a new run: a board reset in an earlier run is back on USB
            else:
                firmware, instance = _new_firmware(config), new_instance()
            smbus = EmulatedSMBus(_adapter(self.lab.path, config, firmware, journal))
            controllers.append(LabController(config, firmware, smbus, config.effective_usb_path, instance))
        return controllers

    def _hat(self, saved: _SavedState, journal: BusJournal):
        config = self.lab.hat
        if config is None:
            return None
        if saved.hat is not None and saved.hat[0] == config.fingerprint():
            chip = saved.hat[1]
            if (chip.version_string, chip.part) != (config.version, config.part):
                raise self._state_error('the state of %s is corrupt: hat.chip: an %s of a v%s HAT, but the lab has an %s of a '
                                        'v%s HAT; delete the state file to start the lab afresh'
                                        % (self.state_file, chip.part, chip.version_string, config.part, config.version))
        else:
            chip = XRA1200(config.version, part=config.part, pos_link_cut=config.pos_link_cut, wp_link_soldered=config.wp_link_soldered)
        return LabHat(config, chip, EmulatedSMBus(HostI2CAdapter.for_hat(chip, journal=journal)))

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
            raise LabError('virtual lab %s: the directory of its state file does not exist: %s' % (self.lab.path, directory))

        def lock_error(exc):
            return LabError('virtual lab %s: cannot create its lock file: %s' % (self.lab.path, exc.strerror or exc))

        with exclusive_lock(self.state_file, lock_error):
            with contextlib.suppress(OSError):
                remove_stale_temporaries(self.state_file)  # left by a run killed while writing
            saved = self._load_state()
            journal = BusJournal()
            run_id = '%d-%d-%s' % (os.getpid(), int(time.time() * 1000), secrets.token_hex(4))
            session = LabSession(run_id, check_mode, self._controllers(saved, journal), self._hat(saved, journal), journal)
            writer = _SessionWriter(self, session, saved)
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
