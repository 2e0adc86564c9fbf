# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The virtual lab's state file: one JSON document holding every board's RAM, EEPROM and pins.

**Boards are matched by identity**, the lab file's ``key`` (type and USB path, declared bus
or order), never by position: reordering or inserting entries keeps every board's state, and
a changed entry (another fingerprint) rebuilds only that board. A board built fresh gets a new
random ``instance``, so records kept about it elsewhere (clusterctrl_eeprom's) can tell that
its state was reset.

**Nothing in the state file is trusted.** It must be of this lab (it records the lab's path),
of this format, and every field is type-checked; any problem is a LabError (a StateError
from ``parse_state``) naming the field.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import MAX_FILE_BYTES, parse_json
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.state_fields import Fields, StateError, describe
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import lab_error

STATE_FORMAT = 2
STATE_KIND = 'picluster.clusterctrl virtual lab state'
# A state holds a few kilobytes per board; a lab file of at most 1 MiB cannot declare more than this.
MAX_STATE_BYTES = 8 * MAX_FILE_BYTES
MAX_BOARDS = 4096
INSTANCE = re.compile(r'[0-9a-f]{16}\Z')


def new_instance() -> str:
    """The random id of a board state built fresh (16 hex digits)."""
    return secrets.token_hex(8)


@dataclass
class SavedBoard:
    """One controller of the state file, checked."""

    where: str  # where it was read: controllers[1]
    fingerprint: str
    instance: str
    firmware: ClusterCTRLFirmware


@dataclass
class SavedState:
    """The state file and its log, checked: boards by key, the HAT, the log's journal lines."""

    text: str = ''  # the state file as read ('' when there is none)
    document: dict | None = None  # the state file as parsed, before the log
    controllers: dict = field(default_factory=dict)
    hat: tuple | None = None  # (fingerprint, XRA1200)
    log: list = field(default_factory=list)  # state_log.LogRecord
    log_exists: bool = False


def _controller_entry(entry, where: str) -> tuple:
    fields = Fields(entry, where)
    key = fields.text('key')
    fingerprint = fields.text('fingerprint')
    instance = fields.text('instance')
    if not INSTANCE.match(instance):
        raise StateError(fields.path('instance'), f'expected 16 hexadecimal digits, got {describe(instance)}')
    try:
        firmware = ClusterCTRLFirmware.from_dict(fields.get('firmware'))
    except StateError as exc:
        raise exc.inside(fields.path('firmware'))
    fields.finish()
    return key, SavedBoard(where, fingerprint, instance, firmware)


def _hat_entry(entry, where: str) -> tuple:
    fields = Fields(entry, where)
    fingerprint = fields.text('fingerprint')
    try:
        chip = XRA1200.from_dict(fields.get('chip'))
    except StateError as exc:
        raise exc.inside(fields.path('chip'))
    fields.finish()
    return fingerprint, chip


def parse_state(document, text: str = '') -> SavedState:
    """Check every field of a state document (its kind, format and lab already checked); StateError names a bad one."""
    fields = Fields(document)
    for name in ('format', 'kind', 'lab'):
        fields.get(name)
    saved = SavedState(text=text, document=document)
    for index, entry in enumerate(fields.sequence('controllers', max_length=MAX_BOARDS)):
        key, board = _controller_entry(entry, f'controllers[{index}]')
        if key in saved.controllers:
            raise StateError(board.where + '.key', f'the key {describe(key)} is also that of {saved.controllers[key].where}')
        saved.controllers[key] = board
    if fields.has('hat'):
        saved.hat = _hat_entry(fields.get('hat'), 'hat')
    fields.finish()
    return saved


def read_state(raw: bytes, state_file: str, lab_path: str) -> SavedState:
    """The state file ``raw`` of the lab ``lab_path``, checked; LabError says what is wrong and what to do."""
    try:
        document = parse_json(raw)
    except ValueError:
        raise lab_error(lab_path, f'the state file {state_file} is corrupt; delete it to start the lab afresh')
    if not isinstance(document, dict) or document.get('kind') != STATE_KIND:
        raise lab_error(
            lab_path,
            f'{state_file} is not a virtual lab state file, and the lab will not overwrite it: set state_file to '
            'another path, or delete the file if it is an old state of this lab',
        )
    if document.get('format') != STATE_FORMAT:
        raise lab_error(
            lab_path,
            f'the state file {state_file} has format {describe(document.get("format"))}, not {STATE_FORMAT}: '
            'another version of this collection wrote it; delete it to start the lab afresh',
        )
    owner = document.get('lab')
    if owner != lab_path and not (isinstance(owner, str) and os.path.realpath(owner) == os.path.realpath(lab_path)):
        owner_text = owner[:4096] if isinstance(owner, str) else describe(owner)
        raise lab_error(
            lab_path,
            f'the state file {state_file} belongs to the lab {owner_text}; give this lab its own state_file, or delete the state file to start this lab afresh',
        )
    try:
        return parse_state(document, raw.decode('utf-8'))
    except StateError as exc:
        raise lab_error(lab_path, f'the state file {state_file} is corrupt: {exc}; delete it to start the lab afresh')


def state_document(lab_path: str, controllers: list, hat, boards: dict) -> dict:
    """The state document of a session's ``controllers`` and ``hat`` (a LabHat or None), their states taken in ``boards``.

    ``boards`` maps a controller's key to its firmware's state, and None to the HAT chip's.
    """
    entries = [dict(key=c.config.key, fingerprint=c.config.fingerprint(), instance=c.instance, firmware=boards[c.config.key]) for c in controllers]
    document = dict(format=STATE_FORMAT, kind=STATE_KIND, lab=lab_path, controllers=entries)
    if hat is not None:
        document['hat'] = dict(fingerprint=hat.config.fingerprint(), chip=boards[None])
    return document
