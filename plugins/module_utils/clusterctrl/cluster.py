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
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import FACTORY_ORDER


class Board:
    """One discovered board: its driver, where it sits (bus, USB path) and its first global number."""

    def __init__(self, driver, bus, usb_path=None, instance=None):
        self.driver = driver
        self.bus = bus
        self.usb_path = usb_path
        self.instance = instance  # a virtual lab board's state instance: new whenever its state is built afresh
        self.first = None  # global number of its Pi 1, set by Cluster
        self._absent = None

    @property
    def where(self):
        """Where the board is, for messages: its bus and, when known, its USB path."""
        return f'bus {self.bus}' + (f', USB path {self.usb_path}' if self.usb_path else '')

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
            return f'the {self.driver.type.product}'
        return f'the controller with order {self.order} ({self.driver.type.product})'

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
        return f'p{self.first + slot - 1}'

    def pi_usb_path(self, slot, controller_hops=None):
        """Like 'clusterctrl getpath' (spec §8.4): the board's USB path without the controller's own hops (GETPATH 0;
        ``controller_hops`` when already read), plus Pi ``slot``'s hops. None when the path cannot be known."""
        if self.usb_path is None or self.driver.spec.paths is None:
            return None
        if controller_hops is None:
            controller_hops = self.driver.get_path(0)
        parts = self.usb_path.split('.')
        if controller_hops:
            parts = parts[: -len(controller_hops)]
        return '.'.join(parts + [str(h) for h in self.driver.get_path(slot)])


PiAddress = namedtuple('PiAddress', 'name number board slot')

HAT_TYPE = 'clusterhat'
HAT_TYPE_NAME = 'hat'
_GLOBAL_NAME = re.compile(r'^p([0-9]+)$')
_SLOT = re.compile(r'^[0-9]+$')


class Cluster:
    """Boards sorted and numbered as the official CLI does."""

    def __init__(self, boards):
        hats = [b for b in boards if b.is_hat]
        if len(hats) > 1:
            raise DiscoveryError('more than one ClusterHAT found; a controller Pi carries at most one')
        self.boards = sorted(boards, key=lambda b: (not b.is_hat, b.order, b.usb_path or '', str(b.bus)))
        by_order = {}
        for board in self.boards:
            if not board.is_hat:
                by_order.setdefault(board.order, []).append(board)
        # Boards sharing an order (spec §11 fact 66) are kept, so that they can be named by USB path or bus
        # and given their own orders; everything that numbers Pis or names a board by order refuses them.
        self.clashes = {order: group for order, group in sorted(by_order.items()) if len(group) > 1}
        self.lab_state_file = None  # set when the boards are a virtual lab's
        number = 1
        for board in self.boards:
            board.first = number
            number += board.maxpi
        self.size = number - 1

    def clash_message(self):
        """What is wrong with clashing orders, every board named, and the task that fixes it."""
        clashes = '; '.join(
            f'order {order} is used by ' + ' and '.join(f'{b.driver.type.product} ({b.where})' for b in group) for order, group in self.clashes.items()
        )
        free = next(n for n in range(1, 256) if n not in {b.order for b in self.boards if not b.is_hat})
        example = next(iter(self.clashes.values()))[0]
        by = f"usb_path: '{example.usb_path}'" if example.usb_path else f"bus: '{example.bus}'"
        fix = f'one board at a time: "picluster.clusterctrl.clusterctrl_board: {{{by}, order: {free}}}"'
        if FACTORY_ORDER in self.clashes:
            fix = (
                'in one task, every board still at the factory order 20 numbered by ascending USB path: '
                '"picluster.clusterctrl.clusterctrl_board: {assign_orders: true}", or ' + fix
            )
        return (
            f'ClusterCTRL boards must have distinct orders, as the official clusterctrl CLI requires: {clashes}. '
            f'Give each board its own order ({fix}); clusterctrl_info lists every board with its bus and USB path.'
        )

    def require_distinct_orders(self):
        """Raise unless every ClusterCTRL board has its own order (Pi numbering and naming by order need it)."""
        if self.clashes:
            raise DiscoveryError(self.clash_message())

    def board_at(self, usb_path=None, bus=None):
        """The board at a USB path or on a bus: works whatever the orders are."""
        if usb_path is not None:
            found = [b for b in self.boards if b.usb_path == str(usb_path).strip()]
            what = f'USB path {usb_path}'
        else:
            found = [b for b in self.boards if str(b.bus) == str(bus).strip()]
            what = f'bus {bus}'
        if len(found) != 1:
            present = '; '.join(f'{b.driver.type.product} ({b.where})' for b in self.boards) or 'none'
            raise AddressingError(f'no single board is at {what}; boards present: {present}')
        return found[0]

    def board(self, controller):
        """The board a user names: ``hat``, or an order (int or digits)."""
        text = str(controller).strip().lower()
        if text != HAT_TYPE_NAME:
            self.require_distinct_orders()
        if text == HAT_TYPE_NAME:
            for board in self.boards:
                if board.is_hat:
                    return board
            raise AddressingError('controller "hat" was named, but this cluster has no ClusterHAT')
        if not _SLOT.match(text):
            raise AddressingError(f'controller must be a board order (1 to 255) or "hat", got {controller!r}')
        for board in self.boards:
            if not board.is_hat and board.order == int(text):
                return board
        present = ', '.join(str(b.order) for b in self.boards if not b.is_hat) or 'none'
        raise AddressingError(f'no ClusterCTRL board has order {text}; orders present: {present}')

    def all_pis(self, allow_clashes=False):
        """Every Pi; with ``allow_clashes`` also when orders clash (names then follow USB path order: provisional)."""
        if not allow_clashes:
            self.require_distinct_orders()
        return [PiAddress(board.pi_name(slot), board.first + slot - 1, board, slot) for board in self.boards for slot in range(1, board.maxpi + 1)]

    def by_number(self, number):
        for board in self.boards:
            if board.first <= number < board.first + board.maxpi:
                slot = number - board.first + 1
                return PiAddress(board.pi_name(slot), number, board, slot)
        raise AddressingError(f'Pi p{number} does not exist: this cluster has p1 to p{self.size}')

    def resolve(self, pis, controller=None, board=None):
        """Turn user names into PiAddress tuples, sorted by global number, without duplicates.

        Without ``controller`` or ``board``: each entry is ``all`` or a global name ``pN``.
        With ``controller`` (a board's order, or ``hat``) or ``board`` (a Board): each entry is
        ``all`` or a slot number 1..MAXPI of that board.
        """
        if not pis:
            raise AddressingError('no Pis named: give "all", global names like p1, or slots with controller')
        self.require_distinct_orders()
        found = {}
        if board is None and controller is not None:
            board = self.board(controller)
        boards = self.boards if board is None else [board]
        controller = None if board is None else board.controller_id
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
                    raise AddressingError(f'unknown Pi name {entry!r}: use "all" or global names p1 to p{self.size} (or set controller to use slot numbers)')
                addr = self.by_number(int(match.group(1)))
            else:
                board = boards[0]
                if not _SLOT.match(text) or not 1 <= int(text) <= board.maxpi:
                    raise AddressingError(f'Pi {entry!r} does not exist on {board.name}: its Pis are 1 to {board.maxpi}')
                slot = int(text)
                addr = PiAddress(board.pi_name(slot), board.first + slot - 1, board, slot)
            if addr.slot in addr.board.absent_slots:
                raise AddressingError(f'Pi {addr.name} is on mux port {(addr.slot - 1) // 4} of {addr.board.name}, where no ClusterHAT answered')
            found[addr.number] = addr
        return [found[n] for n in sorted(found)]
