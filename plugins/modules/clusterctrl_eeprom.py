#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: clusterctrl_eeprom
short_description: Persist what ClusterCTRL boards restore at power-up, writing their EEPROM only when needed
version_added: 0.1.0
description:
  - Saves to a ClusterCTRL board's EEPROM what it restores at power-up - the Pis' power state,
    the board's order, its LED settings, the Pis' USB boot state, or all of them - or writes
    the factory defaults.
  - The firmware cannot read its EEPROM back, and EEPROM cells wear out after about 100,000
    writes. So the module keeps a record, on the managed node, of what it last saved per
    board (identified by board type and USB path, or order when the USB path is unknown), and
    sends a save only when the image it would write differs from the record; the task
    reports a change exactly then.
  - "What can be known: the order, the Pis' power states and their USB boot states are read
    from the board, so saving them is idempotent. The LED enables (PWR, ACT, per-Pi) cannot be
    read back at all, so saving V(leds) always writes and reports a change."
  - "What cannot be known: a save made by other means (the official CLI, another controller, a
    deleted record) is not in the record; the next save of that item writes again, or use
    O(force=true)."
extends_documentation_fragment:
  - picluster.clusterctrl.clusterctrl
  - picluster.clusterctrl.attributes
  - picluster.clusterctrl.attributes.actiongroup_clusterctrl
  - picluster.clusterctrl.attributes.actionable
attributes:
  idempotent:
    support: partial
    details:
      - Saving V(order), V(power) and V(usbboot), and O(factory_reset), are idempotent. V(leds) cannot be
        read back and is written every run, as is everything with O(force=true).
options:
  controller:
    description: Order of the board. Without it, every ClusterCTRL board. The ClusterHAT has no settings EEPROM.
    type: str
  save:
    description:
      - What to persist. V(all) is what the firmware's SAVE writes (V(usbboot) only on the Single and
        Triple; V(power) not on the DA, which never restores it).
      - Mutually exclusive with O(factory_reset).
    type: list
    elements: str
    choices: [power, order, leds, usbboot, all]
  factory_reset:
    description:
      - Write the factory image (order 20, LEDs on, no Pi powered at start-up, USB boot enabled).
        The board keeps running with its current settings until its next reset or power-up.
    type: bool
    default: false
  force:
    description: Write even when the record says the EEPROM already holds this image.
    type: bool
    default: false
  record:
    description:
      - File on the managed node where the module records what it saved.
      - Default V(/var/lib/picluster/clusterctrl-eeprom.json); with O(virtual_lab), a file beside the lab's state.
    type: path
author:
  - picluster.clusterctrl contributors (@picluster)
seealso:
  - module: picluster.clusterctrl.clusterctrl_power
  - module: picluster.clusterctrl.clusterctrl_board
'''

EXAMPLES = r'''
- name: The running Pis come back on after a power cut
  picluster.clusterctrl.clusterctrl_eeprom:
    save: [power]

- name: Keep a new order of board 3
  picluster.clusterctrl.clusterctrl_eeprom:
    controller: 3
    save: [order]

- name: Back to factory settings at the next power-up
  picluster.clusterctrl.clusterctrl_eeprom:
    controller: 2
    factory_reset: true
'''

RETURN = r'''
controllers:
  description: One entry per board.
  returned: always
  type: list
  elements: dict
  contains:
    controller:
      description: Order of the board.
      type: int
      returned: always
    key:
      description: How the record identifies the board.
      type: str
      returned: always
    written:
      description: Items saved by this run (in check mode, items that would be); V(factory) for a factory reset.
      type: list
      elements: str
      returned: always
    unchanged:
      description: Items whose saved image already matched the record, so nothing was written.
      type: list
      elements: str
      returned: always
    image:
      description: The image saved (or already saved) per item. Power and USB boot are lists per Pi; LEDs are V(unknown).
      type: dict
      returned: always
    changed:
      description: Whether the board's EEPROM was (or would be) written.
      type: bool
      returned: always
record:
  description: Path of the record file.
  returned: always
  type: str
'''

import contextlib
import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import (
    MUTUALLY_EXCLUSIVE,
    clusterctrl_argument_spec,
    open_cluster,
    record_if_taken,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    exclusive_lock,
    load_private_json,
    make_private_dirs,
    write_private,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.eeprom import (
    SAVE_METHODS,
    current_image,
    factory_image,
    items_for,
    needs_write,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, ClusterCTRLError

DEFAULT_RECORD = '/var/lib/picluster/clusterctrl-eeprom.json'
RECORD_FORMAT = 1


def board_key(board):
    where = board.usb_path or 'order-%d' % board.order
    return '%s@%s' % (board.driver.type.value, where)


class Record(object):
    """The record of what was saved per board: a JSON file, owner-only, replaced atomically."""

    def __init__(self, path):
        self.path = path
        self.boards = {}

    def load(self):
        data = load_private_json(self.path, RECORD_FORMAT, ClusterCTRLError, 'cannot read the EEPROM record %s' % self.path,
                                 'the EEPROM record %s is corrupt; delete it (the next saves then write again) or fix it' % self.path)
        if isinstance(data.get('boards'), dict):
            self.boards = data['boards']

    def saved(self, key):
        entry = self.boards.get(key)
        return dict(entry.get('saved') or {}) if isinstance(entry, dict) else {}

    def update(self, key, board, image):
        entry = self.boards.setdefault(key, {})
        entry.update(product=board.driver.type.product, order=board.order,
                     updated=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))
        entry.setdefault('saved', {}).update(image)
        write_private(self.path, json.dumps(dict(format=RECORD_FORMAT, boards=self.boards), indent=1, sort_keys=True))


def target_boards(cluster, controller):
    if controller is not None:
        board = cluster.board(controller)
        if board.is_hat:
            raise AddressingError('the ClusterHAT has no settings EEPROM: it starts from its solder links (POS, WP)')
        return [board]
    boards = [b for b in cluster.boards if not b.is_hat]
    if not boards:
        raise AddressingError('this cluster has no ClusterCTRL board')
    return boards


def plan(board, params, saved):
    """Return (items to write, items unchanged, image, saves to send) for one board; no bus writes."""
    driver = board.driver
    if params['factory_reset']:
        image = factory_image(driver)
        write = params['force'] or any(needs_write(item, value, saved) for item, value in image.items())
        return (['factory'] if write else []), ([] if write else ['factory']), image, (['factory'] if write else [])
    items = items_for(driver, params['save'])
    image = current_image(driver, items)
    write = [i for i in items if params['force'] or needs_write(i, image[i], saved)]
    unchanged = [i for i in items if i not in write]
    saves = ['all'] if len(write) > 1 and write == items_for(driver, ['all']) else write  # SAVE writes them all in one command
    return write, unchanged, image, saves


def main():
    module = AnsibleModule(
        argument_spec=clusterctrl_argument_spec(
            controller=dict(type='str'),
            save=dict(type='list', elements='str', choices=['power', 'order', 'leds', 'usbboot', 'all']),
            factory_reset=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            record=dict(type='path'),
        ),
        mutually_exclusive=MUTUALLY_EXCLUSIVE + [('save', 'factory_reset')],
        supports_check_mode=True,
    )
    params = module.params
    if not params['save'] and not params['factory_reset']:
        module.fail_json(msg='nothing to do: give save (a list of power, order, leds, usbboot, all) or factory_reset=true')
    results = []
    record_path = params['record']
    try:
        with open_cluster(module) as cluster:
            if record_path is None:
                record_path = cluster.lab_state_file + '.eeprom-record.json' if cluster.lab_state_file else DEFAULT_RECORD
            boards = target_boards(cluster, params['controller'])
            for board in boards:  # every board is checked before anything is written
                if not params['factory_reset']:
                    try:
                        items_for(board.driver, params['save'])
                    except ValueError as exc:
                        raise AddressingError('%s: %s' % (board.name, exc))
            record = Record(record_path)
            directory = os.path.dirname(record_path) or '.'
            if not module.check_mode and not os.path.isdir(directory):
                make_private_dirs(directory)
            with contextlib.nullcontext() if module.check_mode else exclusive_lock(record_path):
                if os.path.isdir(directory):
                    record.load()
                for board in boards:
                    key = board_key(board)
                    written, unchanged, image, saves = plan(board, params, record.saved(key))
                    entry = dict(controller=board.controller_id, key=key, written=[], unchanged=unchanged, image=image,
                                 changed=False, previous=record.saved(key))
                    results.append(entry)
                    if saves and not module.check_mode:
                        # A save the board took is a write, even unconfirmed; the record is then left as it was.
                        with record_if_taken(board.driver, lambda: entry.update(changed=True)):
                            for save in saves:
                                getattr(board.driver, SAVE_METHODS[save])()
                        record.update(key, board, image)
                    entry.update(written=written, changed=bool(saves))
    except (ClusterCTRLError, OSError) as exc:
        module.fail_json(msg=str(exc), changed=not module.check_mode and any(r['changed'] for r in results),
                         controllers=_public(results), record=record_path)
    result = dict(changed=any(r['changed'] for r in results), controllers=_public(results), record=record_path)
    if module._diff:
        result['diff'] = dict(before=dict((r['key'], r['previous']) for r in results),
                              after=dict((r['key'], dict(r['previous'], **r['image']) if r['changed'] else r['previous']) for r in results))
    module.exit_json(**result)


def _public(results):
    return [dict((k, v) for k, v in r.items() if k != 'previous') for r in results]


if __name__ == '__main__':
    main()
