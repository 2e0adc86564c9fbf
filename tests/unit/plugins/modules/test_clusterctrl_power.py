# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""clusterctrl_power's main() on virtual labs: convergence, check/diff mode, failures midway."""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine import apply as engine_apply
from ansible_collections.picluster.clusterctrl.plugins.modules import clusterctrl_power
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import journal, run_module, write_lab

TRIPLE_STACK = 'controllers:\n  - {type: triple, order: 1}\n  - {type: stack, order: 2}\n'


def power(lab, **args):
    args.setdefault('power_on_delay', 0)
    return run_module(clusterctrl_power.main, virtual_lab=lab, **args)


def test_converges_then_reports_no_change(tmp_path):
    lab = write_lab(tmp_path, TRIPLE_STACK)
    result, code = power(lab, pis=['p1', 'p3'])
    assert code == 0 and result['changed'] is True
    assert result['pis']['p3'] == {'controller': 1, 'pi': 3, 'power': True, 'previous': False, 'changed': True}
    result, code = power(lab, pis=['p1', 'p3'])
    assert code == 0 and result['changed'] is False


def test_check_mode_predicts_and_sends_no_mutating_command(tmp_path):
    lab = write_lab(tmp_path, TRIPLE_STACK)
    result, code = power(lab, pis=['all'], state='off', _ansible_check_mode=True, _ansible_diff=True)
    assert code == 0 and result['changed'] is True
    assert result['diff']['before']['p4'] == 'on' and result['diff']['after']['p4'] == 'off'
    entries = journal(lab)
    assert entries and all(e['check_mode'] for e in entries)
    assert not [e for e in entries if e['mutating']]
    result, _code = power(lab, pis=['p4'], state='on')
    assert result['changed'] is False  # p4 is still on: check mode changed nothing


def test_power_on_delay_applies_between_power_ons_only(tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(engine_apply.time, 'sleep', sleeps.append)
    lab = write_lab(tmp_path, TRIPLE_STACK)
    power(lab, pis=['p1', 'p2', 'p3'], power_on_delay=0.7)
    assert sleeps == [0.7, 0.7]


def test_cycled_switches_off_waits_and_switches_on(tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(engine_apply.time, 'sleep', sleeps.append)
    lab = write_lab(tmp_path, TRIPLE_STACK)
    result, _code = power(lab, pis=['p4', 'p5'], state='cycled', off_time=2.5)
    assert result['changed'] is True and sleeps == [2.5]
    commands = [c['name'] for e in journal(lab) for c in e['commands'] if c['mutating']]
    assert commands == ['OFF', 'OFF', 'ON', 'ON']


def test_failure_midway_reports_what_was_changed(tmp_path):
    """A board that stops answering after the first power-on: the result lists p1 as changed."""
    # start-up read (1 call) + reset-detection marker (1) + 3 status reads (6) + ON p1 (2) = 10 calls; the 11th times out.
    lab = write_lab(tmp_path, 'controllers:\n  - {type: triple, order: 1, faults: {stop_after_calls: 10}}\n')
    result, code = power(lab, pis=['all'])
    assert code == 1 and result['failed'] is True
    assert result['changed'] is True
    assert result['pis']['p1']['changed'] is True and result['pis']['p1']['power'] is True
    # A timed-out write may have reached the board and no read can tell: uncertain, never "not done".
    assert result['pis']['p2']['changed'] is True and result['pis']['p2']['power'] is None
    assert 'ETIMEDOUT' in result['pis']['p2']['uncertain']
    assert result['pis']['p3']['changed'] is False and result['pis']['p3']['power'] is False
    assert result['taken'] == ['p1 power: on'] and [u['step'] for u in result['uncertain']] == ['p2 power: on']
    assert result['not_taken'] == ['p3 power: on']
    assert 'ETIMEDOUT' in result['msg'] and 'order 1' in result['msg']


def test_bad_names_fail_before_any_command(tmp_path):
    lab = write_lab(tmp_path, TRIPLE_STACK)
    result, code = power(lab, pis=['p1', 'p42'])
    assert code == 1 and 'p42 does not exist' in result['msg'] and result['changed'] is False
    assert not [e for e in journal(lab) if e['mutating']]


def test_a_board_that_restarts_midway_is_reported_not_mis_reported(tmp_path):
    """The Triple silently restarts (RAM from EEPROM) after the first power-on: the run must not claim success."""
    # start-up read + marker + 3 status reads + ON p1 = 10 calls; then the board restarts and is back at once.
    lab = write_lab(tmp_path, 'controllers:\n  - {type: triple, order: 1, faults: {reset_after_calls: 10, reset_absent_calls: 0}}\n')
    result, code = power(lab, pis=['all'])
    assert code == 1 and 'restarted during this run' in result['msg']
    assert result['pis']['p1']['changed'] is True  # what was sent is still reported
    write_lab(tmp_path, 'controllers:\n  - {type: triple, order: 1}\n')  # the fault gone; the board keeps its state
    result, code = power(lab, pis=['all'])
    assert code == 0 and all(p['power'] for p in result['pis'].values())
    assert result['pis']['p1']['changed'] is True  # the restart switched p1 off again; this run says so


def test_all_on_a_da_means_the_pis_of_its_clusterhats(tmp_path):
    """A DA with one ClusterHAT (mux port 1): `all` is its 4 Pis; a Pi of an empty port is refused before any command."""
    lab = write_lab(tmp_path, 'controllers:\n  - {type: da, order: 1, hats: [1]}\n')
    result, code = power(lab, pis=['all'])
    assert code == 0 and sorted(result['pis']) == ['p5', 'p6', 'p7', 'p8']
    assert all(p['power'] for p in result['pis'].values())
    result, code = power(lab, pis=['p5', 'p1'], state='off')
    assert code == 1 and 'Pi p1 is on mux port 0 of the controller with order 1 (ClusterCTRL DA), where no ClusterHAT answered' in result['msg']
    assert result['pis'] == {} and result['changed'] is False
