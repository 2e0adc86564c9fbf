# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ClusterCTRL firmware emulator; ``emulated_bus(board_type)`` stands in for ``SMBus(n)``."""

from .emulated_bus import emulated_bus

__all__ = ['emulated_bus']
