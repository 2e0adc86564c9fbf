# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: glue shared by the clusterctrl_* modules. Not a public API; it may change at any time.

It holds the common argument spec (kept in sync with doc_fragments/clusterctrl.py) and opens
the cluster a module works on: the boards of a virtual lab, or the real boards found on the bus
(clusterctrl/boards_open.py, which the clusterctrl command shares).
"""

from __future__ import annotations

import contextlib

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards_open import hardware_boards, lab_boards, parse_bus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cluster import Cluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.transport import SMBUS2_IMPORT_ERROR

__all__ = [
    'BOARD_ARGUMENT_SPEC',
    'BOARD_EXCLUSIVE',
    'MUTUALLY_EXCLUSIVE',
    'PIS_ARGUMENT_SPEC',
    'check_waits',
    'clusterctrl_argument_spec',
    'named_board',
    'open_cluster',
    'parse_bus',
]

SMBUS2_HINT = ' Install it on the managed node, for example with "apt install python3-smbus2" or "pip install smbus2".'


def clusterctrl_argument_spec(**extra):
    """The options of doc_fragments/clusterctrl.py, plus the module's own ``extra`` options."""
    spec = dict(
        virtual_lab=dict(type='path', fallback=(env_fallback, ['PICLUSTER_VIRTUAL_LAB'])),
        buses=dict(type='list', elements='str'),
    )
    spec.update(extra)
    return spec


# How a task names one board (doc fragment clusterctrl.board): its order or hat, its USB path, or its bus.
BOARD_ARGUMENT_SPEC = dict(
    controller=dict(type='str'),
    usb_path=dict(type='str'),
    bus=dict(type='str'),
)
BOARD_EXCLUSIVE = [('controller', 'usb_path', 'bus')]

PIS_ARGUMENT_SPEC = dict(pis=dict(type='list', elements='str', required=True), **BOARD_ARGUMENT_SPEC)


def named_board(cluster, params):
    """The board a task names by ``controller`` (order or hat), ``usb_path`` or ``bus``; None when it names none.

    By USB path or bus a board is found whatever the orders are, so boards that share an order
    (two new boards at the factory order) can be told apart and given orders of their own.
    """
    if params.get('usb_path') is not None:
        return cluster.board_at(usb_path=params['usb_path'])
    if params.get('bus') is not None:
        return cluster.board_at(bus=params['bus'])
    if params.get('controller') is not None:
        return cluster.board(params['controller'])
    return None


MUTUALLY_EXCLUSIVE = [('virtual_lab', 'buses')]

MAX_WAIT = 3600  # seconds: the longest power_on_delay or off_time accepted


def check_waits(module, *options):
    """Refuse NaN, infinity, negative or huge waits up front: they would crash or hang a run after its first switch."""
    for option in options:
        if not 0 <= module.params[option] <= MAX_WAIT:
            module.fail_json(msg=f'{option} must be 0 or more seconds, at most {MAX_WAIT}, got {module.params[option]}')


def _hardware_boards(module, handles):
    if SMBUS2_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib('smbus2', url='https://pypi.org/project/smbus2/') + SMBUS2_HINT, exception=repr(SMBUS2_IMPORT_ERROR))
    return hardware_boards(handles, module.params['buses'], warn=module.warn, detect_resets=True)


@contextlib.contextmanager
def open_cluster(module):
    """Yield the Cluster the module works on; its buses (or virtual lab) stay locked until the block ends.

    Every driver detects a board that restarts during the run (ClusterCTRLv2Driver's
    ``detect_resets``: a token in the MODE scratch register, at most one write per board, none
    when an earlier run's token is still there), read-only and check-mode runs included, so a
    restart is reported, never silently mixed into what was read.
    """
    lab_path = module.params['virtual_lab']
    if lab_path:
        # Imported only here: the emulator and PyYAML cost about 40 ms that a run on hardware does not need.
        from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab  # pylint: disable=import-outside-toplevel

        lab = VirtualLab(lab_path)
        with lab.session(check_mode=module.check_mode) as session:
            cluster = Cluster(lab_boards(session, detect_resets=True))
            cluster.lab_state_file = lab.state_file
            yield cluster
    else:
        handles = []
        try:
            yield Cluster(_hardware_boards(module, handles))
        finally:
            for handle in handles:
                handle.close()
