# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exceptions raised by the ClusterCTRL driver layer.

Every message names the board (and the command and Pi where there is one) so that a
playbook failure says what went wrong where, without a traceback.
"""

from __future__ import annotations

import errno as _errno


class ClusterCTRLError(Exception):
    """Base class of every error this driver layer raises."""


class AddressingError(ClusterCTRLError, ValueError):
    """A Pi, controller or bus named by the caller does not exist (raised before any bus traffic)."""


class NotSupportedError(ClusterCTRLError):
    """The board or its firmware has no such feature (raised before the command is sent)."""


class CommandError(ClusterCTRLError):
    """The firmware answered a command with a STATUS other than OK, or with an unusable result."""

    def __init__(self, board, command, status, pi=None, detail=None):
        self.board = board
        self.command = command
        self.status = status
        self.pi = pi
        where = f' for Pi {pi}' if pi is not None else ''
        text = f'{command}{where} failed on {board}: status 0x{status:02X}'
        if detail:
            text += f' ({detail})'
        super().__init__(text)


class BusError(ClusterCTRLError):
    """The I2C bus failed (after retries, where the error was transient)."""

    def __init__(self, board, operation, error, attempts=1):
        self.board = board
        self.operation = operation
        self.errno = getattr(error, 'errno', None)
        self.attempts = attempts
        name = _errno.errorcode.get(self.errno, str(self.errno)) if self.errno is not None else type(error).__name__
        tries = ' after %d attempts' % attempts if attempts > 1 else ''
        gone = '; the board is gone from the bus: it restarted, lost power or was unplugged' if self.errno == _errno.ENODEV else ''
        super().__init__('{}: I2C {} failed{}: {} ({}){}'.format(board, operation, tries, name, getattr(error, 'strerror', None) or error, gone))


class DiscoveryError(ClusterCTRLError):
    """Boards could not be found, or what was found is inconsistent (for example duplicate orders)."""


class BoardResetError(ClusterCTRLError):
    """A board restarted while a run was changing it (detected through the MODE register marker)."""
