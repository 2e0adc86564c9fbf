# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""clusterctrl_info's main() on virtual labs."""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.modules import clusterctrl_info
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import journal, run_module, write_lab


def test_reads_every_board_and_pi_without_mutating(tmp_path):
    lab = write_lab(tmp_path, 'controllers:\n  - {type: stack, order: 2}\n  - {type: triple, order: 1, firmware: "1.5"}\n  - {type: da, order: 3, hats: [1]}\n')
    result, code = run_module(clusterctrl_info.main, virtual_lab=lab)
    assert code == 0 and result['changed'] is False
    assert [c['order'] for c in result['controllers']] == [1, 2, 3]
    triple = result['controllers'][0]
    assert triple['fan'] == {'supported': True, 'readable': False, 'requested': None, 'running': None, 'cooling_requests': None}
    assert result['pis']['p4']['power'] is True  # the Stack's factory EEPROM powers its Pis at boot
    assert result['pis']['p9']['power'] is None  # DA port 0 holds no HAT
    assert result['pis']['p13']['power'] is False  # DA port 1 does
    assert len(result['pis']) == 3 + 5 + 32
    assert not [e for e in journal(lab) if e['mutating']]


def test_unreadable_lab_fails_clearly(tmp_path):
    result, code = run_module(clusterctrl_info.main, virtual_lab=str(tmp_path / 'nope.yml'))
    assert code == 1 and 'cannot read the lab file' in result['msg']
