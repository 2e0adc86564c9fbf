# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: what a clusterctrl module intends to do, before it does it. Not a public API.

A module reads the boards once and builds a ``Plan``: the ``Item``s it reports on (a Pi's power,
a board setting, a board's saved EEPROM image), each with the value read (``before``), and the
``Step``s that change them, each with its target value (``after``) and the commands it sends. In
check mode the plan is the result; in a real run ``apply.apply`` carries the steps out one by
one and records for each whether it was taken, not taken, or may have been (``uncertain``).

A step planned after another sees the other's planned result (``Plan.expected``), so an EEPROM
save after power changes saves the planned power image, in check mode too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

# Step statuses.
PLANNED = 'planned'  # check mode: what a real run would do
TAKEN = 'taken'  # sent, and the board took it
NOT_TAKEN = 'not_taken'  # not sent (an earlier step failed), or refused before it reached the board
UNCERTAIN = 'uncertain'  # a write carrying it may have reached the board, and no read could tell


def onoff(value):
    """'on' / 'off' for a boolean state, None for an unknown one."""
    if value is None:
        return None
    return 'on' if value else 'off'


def as_is(value):
    return value


@dataclass
class Item:
    """One thing a module reports on.

    ``name`` keys it in the module's result group (``p5``, ``alert``), ``setting`` names the value
    compared (``power``; the result shows it under that key), ``fields`` say what the item is
    (controller, slot, ...) and are reported as they are. ``before`` is None where the board
    cannot report the value. ``fact`` identifies the value for cross-step
    planning: ``(board id, setting, slot)``.
    """

    name: str
    setting: str
    before: Any
    fields: dict = field(default_factory=dict)
    fact: tuple | None = None
    show: Callable[[Any], Any] = as_is
    diff_path: tuple | None = None
    steps: list = field(default_factory=list)
    notes: dict = field(default_factory=dict)  # the planner's own bookkeeping, never reported
    doubt: str | None = None  # why the value may no longer hold (its board restarted mid-run)

    @property
    def path(self):
        """Where diff mode shows the item: ``diff_path``, by default its name."""
        return self.diff_path or (self.name,)

    @property
    def planned(self):
        """The value once every step is done: the last step's target, else the value read."""
        return self.steps[-1].after if self.steps else self.before

    @property
    def changed(self):
        """True once a step may have changed the board (or would, in check mode)."""
        return any(step.status in (TAKEN, UNCERTAIN, PLANNED) for step in self.steps)

    def on_board(self, board) -> bool:
        return (self.fact is not None and self.fact[0] == id(board)) or any(step.board is board for step in self.steps)

    @property
    def after(self):
        """The value now: the last taken (or planned) step's target; None while a step is uncertain."""
        if self.doubt:
            return None
        value = self.before
        for step in self.steps:
            if step.status == UNCERTAIN:
                return None
            if step.status in (TAKEN, PLANNED):
                value = step.after
        return value

    @property
    def uncertain(self):
        reasons = [step.reason for step in self.steps if step.status == UNCERTAIN] + ([self.doubt] if self.doubt else [])
        return reasons[0] if reasons else None


@dataclass
class Step:
    """One change: ``send()`` issues ``commands`` to ``board``; ``after`` is the item's value once done.

    ``action`` marks a step that is always a change (a power cycle, a reset, a write-only LED):
    nothing was compared to plan it. ``read_back()``, where the board can report the value,
    settles an uncertain step. ``pause`` is a wait before sending, when a step before it was sent
    (the power-on stagger, a power cycle's off time).
    """

    item: Item
    after: Any
    send: Callable[[], Any]
    commands: list
    board: Any
    action: bool = False
    read_back: Callable[[], Any] | None = None
    pause: float = 0.0
    status: str = PLANNED
    reason: str | None = None

    @property
    def name(self):
        return f'{".".join(str(part) for part in self.item.path)} {self.item.setting}: {self.item.show(self.after)}'


@dataclass
class Plan:
    """Items per result group (``pis``, ``settings``, ``controllers``), steps in the order they run."""

    groups: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)
    finish: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    listed: set = field(default_factory=set)
    facts: dict = field(default_factory=dict)
    # What the planner holds until the run ends (a record's lock): closed after the plan is applied.
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def add_item(self, group: str, item: Item) -> Item:
        self.groups.setdefault(group, []).append(item)
        if item.fact is not None:
            self.facts[item.fact] = item
        return item

    def add_step(self, step: Step) -> Step:
        """Queue a step. A ClusterHAT that was never set up since power-up gets its first-run set-up
        (the official CLI's, spec §7.4) before its first write, as a step of its own."""
        if step.board.is_hat and step.item.setting != 'setup':
            self.hat_setup(step.board)
        step.item.steps.append(step)
        self.steps.append(step)
        return step

    def hat_setup(self, board):
        """Plan a ClusterHAT's first-run set-up, once, unless it was done since the HAT powered up.

        Before it the expander's pins are inputs: ALERT, hub, LED and write-protect hold no setting
        at all, so declaring one of them needs the set-up even where the value it will give matches.
        """
        fact = (id(board), 'setup', None)
        if fact in self.facts or board.driver.initialized():
            return
        item = self.add_item(
            'boards',
            Item(
                name=f'{board.controller_id}',
                setting='setup',
                before='needed',
                fact=fact,
                fields=dict(controller=board.controller_id),
                diff_path=('boards', f'{board.controller_id}', 'setup'),
            ),
        )
        self.add_step(Step(item, 'done', board.driver.initialize, ['first-run set-up (hub on, ALERT off, power from the POS link)'], board))

    def expected(self, board, setting, slot=None, read=None):
        """The value ``setting`` of ``board`` (and ``slot``) will have once the steps planned so far
        are done: a planned item's target, else what ``read()`` returns (the board as it is)."""
        item = self.facts.get((id(board), setting, slot))
        if item is not None:
            return item.planned
        return read() if read is not None else None
