# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Several boards seen as one cluster, numbered the way the official CLI numbers them.

Spec §8.3: a ClusterHAT's Pis come first (p1..p4); then controllers sort by ascending ORDER,
each contributing MAXPI consecutive global numbers; two controllers with the same ORDER are
an error (spec §11 fact 66). A Pi is named globally (``p5``) or board-relative
(``controller: 2`` with ``pis: [1, 3]``; ``controller: hat`` for the ClusterHAT).
Resolution happens before any command is sent, so a bad name changes nothing.
"""

from __future__ import annotations

import re
from collections import namedtuple

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, DiscoveryError


class Board(object):
    """One discovered board: its driver, where it sits (bus, USB path) and its first global number."""

    def __init__(self, driver, bus, usb_path=None):
        self.driver = driver
        self.bus = bus
        self.usb_path = usb_path
        self.first = None  # global number of its Pi 1, set by Cluster
        self._absent = None

    @property
    def order(self):
        return self.driver.order

    @property
    def is_hat(self):
        return self.driver.type.value == HAT_TYPE

    @property
    def controller_id(self):
        """How users name this board: ``hat`` for the ClusterHAT, else its order."""
        return HAT_TYPE_NAME if self.is_hat else self.order

    @property
    def name(self):
        if self.is_hat:
            return 'the %s' % self.driver.type.product
        return 'the controller with order %d (%s)' % (self.order, self.driver.type.product)

    @property
    def maxpi(self):
        return self.driver.maxpi

    @property
    def label(self):
        return self.driver.label

    @property
    def absent_slots(self):
        """Slots with nothing behind them: on a DA, the Pis of mux ports where no ClusterHAT answered
        its boot scan (one read of EXISTS, spec §2; cached). Empty on every other board."""
        if self._absent is None:
            self._absent = set()
            if self.driver.spec.gpio == 'E':
                ports = self.driver.hats_present()
                self._absent = set(slot for slot in range(1, self.maxpi + 1) if (slot - 1) // 4 not in ports)
        return self._absent

    def pi_name(self, slot):
        return 'p%d' % (self.first + slot - 1)


PiAddress = namedtuple('PiAddress', 'name number board slot')

HAT_TYPE = 'clusterhat'
HAT_TYPE_NAME = 'hat'
_GLOBAL_NAME = re.compile(r'^p([0-9]+)$')
_SLOT = re.compile(r'^[0-9]+$')


class Cluster(object):
    """Boards sorted and numbered as the official CLI does."""

    def __init__(self, boards):
        hats = [b for b in boards if b.is_hat]
        if len(hats) > 1:
            raise DiscoveryError('more than one ClusterHAT found; a controller Pi carries at most one')
        by_order = {}
        for board in boards:
            if not board.is_hat:
                by_order.setdefault(board.order, []).append(board)
        clashes = ['order %d is used by %s' % (order, ' and '.join('%s (bus %s)' % (b.driver.type.product, b.bus) for b in group))
                   for order, group in sorted(by_order.items()) if len(group) > 1]
        if clashes:
            raise DiscoveryError('ClusterCTRL boards must have distinct orders, as the official clusterctrl CLI requires: %s. '
                                 'Give each board its own order (clusterctrl_board, or "clusterctrl setorder" then "saveorder").'
                                 % '; '.join(clashes))
        self.boards = sorted(boards, key=lambda b: (not b.is_hat, b.order))
        self.lab_state_file = None  # set when the boards are a virtual lab's
        number = 1
        for board in self.boards:
            board.first = number
            number += board.maxpi
        self.size = number - 1

    def board(self, controller):
        """The board a user names: ``hat``, or an order (int or digits)."""
        text = str(controller).strip().lower()
        if text == HAT_TYPE_NAME:
            for board in self.boards:
                if board.is_hat:
                    return board
            raise AddressingError('controller "hat" was named, but this cluster has no ClusterHAT')
        if not _SLOT.match(text):
            raise AddressingError('controller must be a board order (1 to 255) or "hat", got %r' % (controller,))
        for board in self.boards:
            if not board.is_hat and board.order == int(text):
                return board
        raise AddressingError('no ClusterCTRL board has order %s; orders present: %s'
                              % (text, ', '.join(str(b.order) for b in self.boards if not b.is_hat) or 'none'))

    def all_pis(self):
        return [PiAddress(board.pi_name(slot), board.first + slot - 1, board, slot)
                for board in self.boards for slot in range(1, board.maxpi + 1)]

    def by_number(self, number):
        for board in self.boards:
            if board.first <= number < board.first + board.maxpi:
                slot = number - board.first + 1
                return PiAddress(board.pi_name(slot), number, board, slot)
        raise AddressingError('Pi p%d does not exist: this cluster has p1 to p%d' % (number, self.size))

    def resolve(self, pis, controller=None):
        """Turn user names into PiAddress tuples, sorted by global number, without duplicates.

        Without ``controller``: each entry is ``all`` or a global name ``pN``.
        With ``controller`` (a board's order): each entry is ``all`` or a slot number 1..MAXPI.
        """
        if not pis:
            raise AddressingError('no Pis named: give "all", global names like p1, or slots with controller')
        found = {}
        boards = self.boards if controller is None else [self.board(controller)]
        for entry in pis:
            text = str(entry).strip().lower()
            if text == 'all':  # every Pi that exists: not those of a DA's empty mux ports
                for board in boards:
                    for slot in sorted(set(range(1, board.maxpi + 1)) - board.absent_slots):
                        addr = PiAddress(board.pi_name(slot), board.first + slot - 1, board, slot)
                        found[addr.number] = addr
                continue
            if controller is None:
                match = _GLOBAL_NAME.match(text)
                if not match:
                    raise AddressingError('unknown Pi name %r: use "all" or global names p1 to p%d '
                                          '(or set controller to use slot numbers)' % (entry, self.size))
                addr = self.by_number(int(match.group(1)))
            else:
                board = boards[0]
                if not _SLOT.match(text) or not 1 <= int(text) <= board.maxpi:
                    raise AddressingError('Pi %r does not exist on %s: its Pis are 1 to %d' % (entry, board.name, board.maxpi))
                slot = int(text)
                addr = PiAddress(board.pi_name(slot), board.first + slot - 1, board, slot)
            if addr.slot in addr.board.absent_slots:
                raise AddressingError('Pi %s is on mux port %d of %s, where no ClusterHAT answered'
                                      % (addr.name, (addr.slot - 1) // 4, addr.board.name))
            found[addr.number] = addr
        return [found[n] for n in sorted(found)]
