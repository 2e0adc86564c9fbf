# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: carry out a Plan step by step, and know what was done. Not a public API.

A step counts as taken as soon as a write carrying it may have reached a board: the bus
counts every write that succeeded or failed other than by an address NAK (``RetryingBus.writes``).
When such a step then fails, it is ``uncertain``, with the error as the reason, never "not done";
where the board can report the value, one read settles it (taken, or not taken). After the first
failure no further step is sent. A board found restarted (or gone from the bus) makes every item of
it uncertain: what was read or set on it before may no longer hold. ``Plan.finish`` hooks (recording what was saved) run afterwards
in every real run, also after a failure, so they record what was taken and what may have been.
"""

from __future__ import annotations

import errno
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import BoardResetError, BusError, ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import NOT_TAKEN, TAKEN, UNCERTAIN, Plan

# A ClusterHAT's settings that exist only once its first-run set-up made their pins outputs (spec §7.4).
HAT_SETTINGS = ('alert', 'hub', 'leds', 'wp')


def _settle(step):
    """An uncertain step whose value the board can report: read it once and decide."""
    if step.read_back is None:
        return
    try:
        value = step.read_back()
    except ClusterCTRLError:
        return  # still unknown: the reason already says why
    step.status = TAKEN if value == step.after else NOT_TAKEN


def _restarted(exc) -> bool:
    """The board restarted (its MODE token is gone) or left the bus: its RAM was rebuilt from EEPROM."""
    return isinstance(exc, BoardResetError) or (isinstance(exc, BusError) and exc.errno == errno.ENODEV)


def _doubt_board(plan: Plan, board, reason: str) -> None:
    """Every value read or set on a board that restarted may no longer hold: each item of it says so."""
    for items in plan.groups.values():
        for item in items:
            if item.on_board(board):
                item.doubt = reason


def doubt_hats_not_set_up(plan: Plan) -> None:
    """A ClusterHAT whose first-run set-up was not (surely) done: its ALERT, hub, LED and write-protect
    pins are still inputs that hold no setting, so the values planned from the set-up are not reported.
    For every real run, also one whose planning failed."""
    for items in plan.groups.values():
        for setup in items:
            if setup.setting != 'setup' or not setup.steps or setup.steps[0].status == TAKEN:
                continue
            board = setup.steps[0].board
            for others in plan.groups.values():
                for item in others:
                    if item.fact and item.fact[0] == id(board) and item.fact[1] in HAT_SETTINGS:
                        item.doubt = f'{board.name} was not set up, so its {item.fact[1]} pin holds no setting yet'


def apply(plan: Plan):
    """Send the plan's steps in order; return the first error (ClusterCTRLError or OSError), or None."""
    error = None
    sent = False
    for step in plan.steps:
        if error is not None:
            step.status = NOT_TAKEN
            continue
        if step.pause and sent:
            time.sleep(step.pause)
        driver = step.board.driver
        before = driver.writes_accepted
        try:
            step.send()
        except ClusterCTRLError as exc:
            error = exc
            step.reason = str(exc)
            if driver.writes_accepted > before:
                step.status = UNCERTAIN
                _settle(step)
            else:
                step.status = NOT_TAKEN
            sent = sent or step.status != NOT_TAKEN
            if _restarted(exc):
                _doubt_board(plan, step.board, str(exc))
            continue
        step.status = TAKEN
        sent = True
    for hook in plan.finish:
        try:
            hook()
        except (ClusterCTRLError, OSError) as exc:
            error = error or exc
    return error
