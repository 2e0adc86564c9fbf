# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 9 ("Truth by construction"): one regression test per measured case, 1 to 10.

Each test fails on the code before the plan/apply engine (``git show HEAD:<file>``) and passes on
it; the docstring of each says what the old code did. The boards' true state is read straight from
the lab's state file (engine_lab.lab_truth), never through the module under test.

At the end: ENGINE BUGS found while writing these tests, each a test named ``test_engine_bug_*``. Those
whose docstring says "fails until fixed" fail on purpose (the fix proposed is in the docstring); the
others were fixed in the engine while these tests were written and are kept as regression tests.

Faults that the lab's random fault injection gives only by chance are made deterministic here by
wrapping the emulated adapter (``after_effect``): the transfer that executes a given command takes
effect on the board, then the call fails with EIO, as when the GET_STATUS stage of an i2c-tiny-usb
transfer is lost (spec §1.2, §1.8: EIO is a USB failure on kernels with kpatch-2019).
"""

from __future__ import annotations

import collections
import errno
import json
import os
import time

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils import _eeprom_record
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.protocol import PinInfo, PinMode
from ansible_collections.picluster.clusterctrl.plugins.modules import mqtt_pins
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.engine_lab import (
    SAVE_COMMANDS,
    TruthCheck,
    lab_truth,
    load_state,
    run,
)
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute, write_lab

TRIPLE = 'controllers:\n  - {type: triple, order: 1, firmware: "1.6"}\n'  # p1-p3, bus 10
TRIPLE_BUS = 10
POS_BITS = 0x30  # spec §5.1: EEPROM offset of the Pis' saved power states


@pytest.fixture
def after_effect(monkeypatch):
    """``after_effect(*names, times=None)``: a transfer that executes one of the commands ``names`` takes
    effect on the board, then fails with EIO (``times`` times at most; None: every time). Returns a
    Counter of the failures injected, by command name."""
    injected = collections.Counter()
    rules = {}
    original = I2CTinyUsbAdapter.transfer

    def transfer(self, addr, messages, op='i2c_rdwr', reg=None):
        results = original(self, addr, messages, op=op, reg=reg)
        entry = self.journal.entries[-1]
        for command in entry['commands']:
            limit = rules.get(command['name'], 0)
            if command['name'] in rules and (limit is None or injected[command['name']] < limit):
                injected[command['name']] += 1
                entry['error'] = 'EIO'  # the journal says what the driver saw
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        return results

    def arm(*names, times=None):
        rules.update({name: times for name in names})
        monkeypatch.setattr(I2CTinyUsbAdapter, 'transfer', transfer)
        return injected

    return arm


def executed(lines, name):
    """How many times the boards executed command ``name`` (journal)."""
    return sum(1 for line in lines for command in line['commands'] if command['name'] == name and command['status'] is not None)


def record_of(lab):
    with open(lab + '.state.json.eeprom-record.json') as handle:
        return json.load(handle)


# ---------------------------------------------------------------------------------------------
# Case 1: a write that took effect but errored on every retry is reported, never "not done"


def test_case1_write_that_took_effect_then_failed_every_retry_is_reported_as_taken(tmp_path, after_effect):
    """Old code: RetryingBus counted a write only once it succeeded, so ON that reached the board and then
    failed with EIO on all 5 attempts was reported ``changed: false, power: false`` while the Pi was on.
    Now the write counts as possibly taken (transport.RetryingBus.writes), and GET_PSTATUS (spec §3)
    settles it: the step is taken, the Pi reported on, the task fails saying why."""
    lab = write_lab(tmp_path, TRIPLE)
    injected = after_effect('ON')
    before = lab_truth(lab)
    result, lines = run('power', lab, dict(pis=['p2'], state='on', power_on_delay=0))
    after = lab_truth(lab)
    assert injected['ON'] == 5 and executed(lines, 'ON') == 5  # every retry reached the board
    assert after['pis'][(0, 2)]['power'] is True
    assert result['failed'] and 'EIO' in result['msg']
    assert result['changed'] is True
    assert result['pis']['p2']['power'] is True and result['pis']['p2']['changed'] is True
    assert result['taken'] == ['p2 power: on'] and result['uncertain'] == [] and result['not_taken'] == []
    assert not TruthCheck('power', {}, result, before, after).problems


def test_case1_write_that_took_effect_and_cannot_be_read_back_is_uncertain(tmp_path, after_effect):
    """The same with ALERT, which a ClusterCTRL cannot report (spec §10.3): the step may have been taken and
    no read can tell, so it is ``uncertain`` (value None, changed, the reason given), never "not done"."""
    lab = write_lab(tmp_path, TRIPLE)
    after_effect('ALERT_ON')
    result, _lines = run('board', lab, dict(controller='1', alert='on'))
    alert = result['settings']['alert']
    assert result['failed'] and result['changed'] is True
    assert alert['value'] is None and alert['changed'] is True and 'EIO' in alert['uncertain']
    assert [entry['step'] for entry in result['uncertain']] == ['alert value: on'] and result['taken'] == []


# ---------------------------------------------------------------------------------------------
# Case 2: an EEPROM save is never sent twice


def test_case2_save_is_not_retried_after_it_may_have_reached_the_board(tmp_path, after_effect):
    """Old code: SAVEPOS was retried on EIO like any command; one ``save: [power]`` wrote the same EEPROM
    cells 4-5 times (spec §5.1: cells wear out). Now SAVE* are never retried once they may have reached
    the board (protocol.ONCE_ONLY_COMMANDS): SAVEPOS executes once, the save is ``uncertain``, and the
    record says ``unknown`` for the power image, so the next run writes it again instead of guessing."""
    lab = write_lab(tmp_path, TRIPLE)
    run('power', lab, dict(pis=['p1'], state='on', power_on_delay=0))
    counts_before = load_state(lab)['controllers'][0]['firmware']['eeprom_write_counts'].get(str(POS_BITS), 0)
    injected = after_effect('SAVEPOS', times=1)
    result, lines = run('eeprom', lab, dict(save=['power']))
    counts_after = load_state(lab)['controllers'][0]['firmware']['eeprom_write_counts'].get(str(POS_BITS), 0)
    assert injected['SAVEPOS'] == 1 and executed(lines, 'SAVEPOS') == 1
    assert counts_after - counts_before == 1  # the POS cell written once
    assert result['failed'] and result['changed'] is True
    board = result['controllers'][0]
    assert board['image'] is None and 'EIO' in board['uncertain'] and board['written'] == ['power']
    (entry,) = record_of(lab)['boards'].values()
    assert entry['saved']['power'] == 'unknown'
    again, lines = run('eeprom', lab, dict(save=['power']))  # fault-free now: written again, once
    assert not again.get('failed') and again['changed'] is True and executed(lines, 'SAVEPOS') == 1


# ---------------------------------------------------------------------------------------------
# Case 3: the save reached the board, then the record could not be written


def test_case3_save_done_but_record_not_written_reports_the_save(tmp_path, monkeypatch):
    """Old code: SAVEPOS reached the board, then writing the record failed (disk full, permission denied)
    and the result said ``changed: false, written: []``. Now the save is taken whatever happens to the
    record afterwards: ``changed: true``, ``written: [power]``, and the failure names the record."""
    lab = write_lab(tmp_path, TRIPLE)

    def disk_full(path, text, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(_eeprom_record, 'write_private', disk_full)
    result, lines = run('eeprom', lab, dict(save=['power']))
    assert executed(lines, 'SAVEPOS') == 1
    assert result['failed'] and 'No space left on device' in result['msg'] and 'record' in result['msg']
    assert result['changed'] is True
    assert result['controllers'][0]['written'] == ['power'] and result['controllers'][0]['changed'] is True
    assert result['taken'] and result['uncertain'] == []


# ---------------------------------------------------------------------------------------------
# Case 4: clusterctrl_info and a board that restarts while it is read


def test_case4_info_never_mixes_states_from_before_and_after_a_restart(tmp_path):
    """Old code: clusterctrl_info ran without restart detection (read-only), so a Triple restarting in the
    middle of the read (lab fault ``reset_after_calls``, back at once) was reported with its pre-restart
    power states for the Pis read before it, silently (16 of 30 restart points). Now every module keeps a
    token in MODE (spec §2: never saved, 0 after any restart; driver ``detect_resets``): the read fails
    naming the board, or everything it reports is the board as it is."""
    detected = truthful = 0
    for reset_after in range(30):
        directory = tmp_path / f'r{reset_after}'
        directory.mkdir()
        lab = write_lab(directory, TRIPLE)
        run('power', lab, dict(pis=['p1', 'p3'], state='on', power_on_delay=0))  # RAM: on; EEPROM: off
        run('usbboot', lab, dict(pis=['p2'], state='off'))  # RAM: off; EEPROM: on (factory, §5.1)
        write_lab(directory, TRIPLE.replace('}', f', faults: {{reset_after_calls: {reset_after}, reset_absent_calls: 0}}}}'))
        result, _lines = run('info', lab, {}, check_mode=reset_after % 2 == 1)  # check mode too
        truth = lab_truth(lab)
        if result.get('failed'):
            assert 'restarted' in result['msg'] and 'order 1' in result['msg'], result['msg']
            detected += 1
            continue
        truthful += 1
        for name, pi in result['pis'].items():
            held = truth['pis'][truth['names'][name]]
            assert (pi['power'], pi['usbboot']) == (held['power'], held['usbboot']), (reset_after, name, pi, held)
    assert detected >= 10 and truthful >= 1, (detected, truthful)


# ---------------------------------------------------------------------------------------------
# Case 5: reset together with other settings


def test_case5_board_refuses_reset_combined_with_other_settings_before_sending_anything(tmp_path):
    """Old code: ``order: 9`` and ``reset: true`` in one task reported order 9, but the reset rebuilt RAM
    from EEPROM (spec §3 RESET, §5.2) and the board was back at order 1; the next task naming order 9
    failed. Now clusterctrl_board refuses the combination before anything is sent, in check mode too."""
    lab = write_lab(tmp_path, TRIPLE)
    before = lab_truth(lab)
    for check_mode in (True, False):
        result, lines = run('board', lab, dict(controller='1', order=9, reset=True), check_mode=check_mode)
        assert result['failed'] and 'reset cannot be combined' in result['msg'] and result['changed'] is False
        assert not [line for line in lines if line['mutating']]
    after = lab_truth(lab)
    assert after['boards'][0]['order'] == 1 and after['boards'][0]['boot_count'] == before['boards'][0]['boot_count']


# ---------------------------------------------------------------------------------------------
# Case 6: the ClusterHAT's first-run set-up is a step of its own


def test_case6_clusterhat_first_run_set_up_is_planned_and_reported(tmp_path):
    """Old code: clusterctrl_power on a ClusterHAT that was never set up ran the HAT's first-run set-up
    (spec §7.4: hub on, ALERT off, write-protect on, power from the POS link) silently. Now the set-up is
    a planned step of its own (group ``boards``, setting ``setup``), predicted in check mode, reported
    once, and only when a write needs it."""
    lab = write_lab(tmp_path, 'hat: {version: "2.5"}\n')
    check, lines = run('power', lab, dict(pis=['p1'], state='on', power_on_delay=0), check_mode=True)
    assert not [line for line in lines if line['mutating']]
    assert check['boards'] == {'hat': {'controller': 'hat', 'setup': 'done', 'previous': 'needed', 'changed': True}}
    assert [(step['target'], step['setting'], step['status']) for step in check['steps']] == [('hat', 'setup', 'planned'), ('p1', 'power', 'planned')]
    assert check['diff']['before']['boards']['hat']['setup'] == 'needed'
    assert lab_truth(lab)['boards']['hat']['initialized'] is False
    real, _lines = run('power', lab, dict(pis=['p1'], state='on', power_on_delay=0))
    assert real['boards'] == check['boards'] and real['diff'] == check['diff'] and real['changed'] is True
    assert [(step['target'], step['status']) for step in real['steps']] == [('hat', 'taken'), ('p1', 'taken')]
    truth = lab_truth(lab)['boards']['hat']
    assert truth['initialized'] and truth['hub'] and not truth['alert'] and truth['wp']
    again, _lines = run('power', lab, dict(pis=['p2'], state='on', power_on_delay=0))
    assert 'boards' not in again and [step['target'] for step in again['steps']] == ['p2']


def test_case6_no_set_up_when_nothing_is_written(tmp_path):
    """A declaration the HAT already meets writes nothing, so it does not set the HAT up either (clusterctrl_board
    reports the set-up as the same ``setup`` item when it does write)."""
    lab = write_lab(tmp_path, 'hat: {version: "2.5"}\n')
    result, lines = run('power', lab, dict(pis=['p1'], state='off', power_on_delay=0))  # POS link intact: off
    assert result['changed'] is False and result['steps'] == [] and 'boards' not in result
    assert not [line for line in lines if line['mutating']]
    result, _lines = run('board', lab, dict(controller='hat', alert='on'))
    assert result['boards']['hat']['setup'] == 'done' and result['steps'][0]['setting'] == 'setup'


# ---------------------------------------------------------------------------------------------
# Case 7: an EEPROM save after power changes saves the planned power image, in check mode too


@pytest.mark.parametrize(
    'saved_first, declared, save_expected',
    [
        # the record holds the current image; the declaration changes power: the check must say "changed"
        (False, 'on', True),
        # the record holds the image the declaration leads to: the check must say "unchanged"
        (True, 'on', False),
    ],
)
def test_case7_cluster_save_after_power_changes_saves_the_planned_image(tmp_path, saved_first, declared, save_expected):
    """Old code (converge playbook: clusterctrl_power, then clusterctrl_eeprom): under --check the save
    compared the power image before the planned power changes, so its diff showed the old image and its
    ``changed`` could be the opposite of the real run's. Now clusterctrl_cluster plans the save after the
    power steps (Plan.expected): check mode shows the planned image, the real run saves exactly it."""
    lab = write_lab(tmp_path, TRIPLE)
    if saved_first:
        run('power', lab, dict(pis=['p1'], state='on', power_on_delay=0))
        run('eeprom', lab, dict(save=['power']))  # record and EEPROM: [on, off, off]
        run('power', lab, dict(pis=['p1'], state='off', power_on_delay=0))  # RAM: [off, off, off]
    else:
        run('eeprom', lab, dict(save=['power']))  # record and EEPROM: [off, off, off]
    args = dict(config=dict(pis=dict(p1=dict(power=declared))), save=['power'], power_on_delay=0)
    check, lines = run('cluster', lab, args, check_mode=True)
    assert not [line for line in lines if line['mutating']]
    real, lines = run('cluster', lab, args)
    (predicted,) = check['saved'].values()
    assert predicted['image'] == {'power': [True, False, False]}
    assert check['saved'] == real['saved'] and check['diff'] == real['diff'] and check['changed'] == real['changed']
    (saved,) = real['saved'].values()
    assert saved['changed'] is save_expected and executed(lines, 'SAVEPOS') == int(save_expected)
    eeprom = lab_truth(lab)['boards'][0]['eeprom']
    assert eeprom[POS_BITS] == 0b001  # the planned image is the saved one


# ---------------------------------------------------------------------------------------------
# Case 8: save: [all] writes only when the saved image would change


def test_case8_cluster_save_all_writes_only_when_the_image_would_change(tmp_path):
    """Old code: the cluster_state role ran clusterctrl_eeprom ``save: [all]`` after converging, which wrote
    the EEPROM on every converge (the LED enables cannot be read back, spec §10.3). Now clusterctrl_cluster
    ``save: [all]`` writes only what would change (the LEDs not on their own account), and says so."""
    lab = write_lab(tmp_path, TRIPLE + '  - {type: single, order: 2}\n')
    args = dict(config=dict(pis=dict(p1=dict(power='on'), p4=dict(power='on', usbboot='off'))), save=['all'], power_on_delay=0)
    first, lines = run('cluster', lab, args)
    assert first['changed'] and executed(lines, 'SAVEPOS') == 2
    for _converge in range(2):
        again, lines = run('cluster', lab, args)
        assert again['changed'] is False and again['steps'] == []
        assert not [c for line in lines for c in line['commands'] if c['name'] in SAVE_COMMANDS]
        assert all(view['written'] == [] and view['changed'] is False for view in again['saved'].values())
    changed = dict(args, config=dict(pis=dict(p1=dict(power='off'), p4=dict(power='on', usbboot='off'))))
    third, lines = run('cluster', lab, changed)
    saves = [c['name'] for line in lines for c in line['commands'] if c['name'] in SAVE_COMMANDS]
    assert saves == ['SAVEPOS']
    assert sorted(view['written'] for view in third['saved'].values()) == [[], ['power']]


# ---------------------------------------------------------------------------------------------
# Case 9: mqtt_pins predicts what the devices do


def _pin(result, device, pin):
    return next(entry for entry in result['devices'][device]['pins'] if entry['pin'] == pin)


def _mqtt_args(broker, prefix, pins):
    return {'host': broker.host, 'port': broker.port, 'topic_prefix': prefix, 'timeout': 2, 'devices': [{'id': 'dev1', 'pins': pins}]}


def test_case9_mqtt_mode_change_without_state_is_predicted_as_the_device_does_it(broker, prefix, fleet_factory):
    """Old code: a pin going from ``input_pullup`` (reads high) to ``output`` without a ``state``: --check
    predicted high (the level read), the real run gave low (a pin becoming an output starts low; the
    module documents it). Now check mode predicts the level the device ends at."""
    fleet = fleet_factory(['dev1'], initial_mode='input_pullup')
    assert fleet.pins('dev1')[2] == PinInfo(2, int(PinMode.INPUT_PULLUP), 1)
    pins = [{'pin': 2, 'mode': 'output'}, {'pin': 3, 'mode': 'input_pulldown'}, {'pin': 4, 'mode': 'input'}]
    failed, check, _seconds = execute(mqtt_pins, _mqtt_args(broker, prefix, pins), check_mode=True, diff=True)
    assert not failed, check
    failed, real, _seconds = execute(mqtt_pins, _mqtt_args(broker, prefix, pins), diff=True)
    assert not failed, real
    for pin in (2, 3, 4):
        predicted, done = _pin(check, 'dev1', pin), _pin(real, 'dev1', pin)
        assert (predicted['mode'], predicted['state']) == (done['mode'], done['state']), (pin, predicted, done)
        assert fleet.pins('dev1')[pin].state == (1 if done['state'] == 'high' else 0)
    assert _pin(real, 'dev1', 2)['state'] == 'low'
    assert check['diff'] == real['diff'] and check['changed'] is real['changed'] is True


def test_case9_mqtt_pulse_reports_the_level_the_pin_reads_after_it(broker, prefix, fleet_factory):
    """Old code: after ``pulse_ms`` the result and the diff "after" said high (the pulse's level, as the
    device's first update confirmed it) while the pin read low once the pulse ended. Now they report the
    level the pin reads after the pulse, as check mode predicts it."""
    fleet = fleet_factory(['dev1'])
    execute(mqtt_pins, _mqtt_args(broker, prefix, [{'pin': 3, 'mode': 'output', 'state': 'low'}]))
    pulse = [{'pin': 3, 'mode': 'output', 'state': 'high', 'pulse_ms': 50}]
    failed, check, _seconds = execute(mqtt_pins, _mqtt_args(broker, prefix, pulse), check_mode=True, diff=True)
    assert not failed, check
    failed, real, _seconds = execute(mqtt_pins, _mqtt_args(broker, prefix, pulse), diff=True)
    assert not failed, real
    entry = _pin(real, 'dev1', 3)
    assert entry['pulsed'] is True and entry['changed'] is True
    deadline = time.monotonic() + 5  # wait for the pulse to end: a bound on the wait, not an assertion on time
    while fleet.pins('dev1')[3].state != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    reads = 'high' if fleet.pins('dev1')[3].state else 'low'
    assert reads == 'low'
    assert entry['state'] == reads and real['diff']['after']['dev1']['pin 3']['state'] == reads
    assert _pin(check, 'dev1', 3)['state'] == reads and check['diff'] == real['diff']


# ---------------------------------------------------------------------------------------------
# Case 10: one rule for `changed` on failure, in every module

FAILING = [
    ('power', dict(pis=['p1', 'p2', 'p3', 'p4'], state='on', power_on_delay=0)),
    ('usbboot', dict(pis=['p1', 'p2', 'p3'], state='off')),
    ('fan', dict(state='on')),
    ('board', dict(controller='1', alert='on', leds='on', power_led='off')),
    ('eeprom', dict(save=['all'])),
    (
        'cluster',
        dict(
            config=dict(pis=dict(p1=dict(power='on'), p2=dict(power='on', usbboot='off'), p4=dict(power='on')), boards={'1': dict(fan='on', alert='on')}),
            save=['power'],
            power_on_delay=0,
        ),
    ),
]


@pytest.mark.parametrize('module, args', FAILING, ids=[f[0] for f in FAILING])
def test_case10_changed_on_failure_follows_one_rule_in_every_module(tmp_path, module, args):
    """Old code: five formulas computed ``changed`` on failure across the modules, and a check-mode
    failure reported ``changed: false`` in one module and ``true`` in another. Now (engine run.py): a
    failure in check mode, or before the plan was complete, sent nothing: ``changed: false``; otherwise
    ``changed`` is true exactly when a step was taken or may have been; and every module's failure lists
    ``taken``, ``uncertain`` and ``not_taken``. The Triple (p1-p3) stops answering after 0, 1, 2, ...
    calls; a Stack (order 2, p4-p8) keeps answering."""
    failures = failed_after_a_step = 0
    for stop in range(0, 40, 2):
        for check_mode in (True, False):
            directory = tmp_path / f'{stop}-{check_mode}'
            directory.mkdir()
            text = 'controllers:\n  - {type: triple, order: 1, firmware: "1.6", faults: {stop_after_calls: %d}}\n  - {type: stack, order: 2}\n' % stop
            lab = write_lab(directory, text)
            result, lines = run(module, lab, args, check_mode=check_mode)
            if not result.get('failed'):
                continue
            failures += 1
            assert 'exception' not in result and 'triple' in result['msg'], result
            for key in ('taken', 'uncertain', 'not_taken', 'steps'):
                assert key in result, (module, stop, check_mode, key, result)
            ran = [c['name'] for line in lines for c in line['commands'] if c['mutating']]
            if check_mode:
                assert result['changed'] is False and result['taken'] == [] and result['uncertain'] == [], result
                assert not ran
            else:
                assert result['changed'] is bool(result['taken'] or result['uncertain']), (stop, result)
                assert not ran or result['changed'] is True, (stop, ran, result)
                failed_after_a_step += bool(result['taken'] or result['uncertain'])
    assert failures >= 6 and failed_after_a_step >= 1, (failures, failed_after_a_step)


# ---------------------------------------------------------------------------------------------
# ENGINE BUGS found while writing these tests (the property and fault tests found them first).


def test_engine_bug_hat_setting_declared_before_set_up_is_established(tmp_path):
    """ENGINE BUG (fixed: BoardPlanner.switch / .hub now plan ``plan.hat_setup``). A ClusterHAT with a plain
    XRA1200 (no pull-up register, spec §7.3) that was never set up: its pins are inputs, the write-protect
    line reads low, so the EEPROM is NOT write-protected. ``clusterctrl_board controller=hat wp=on`` compared
    with what the first-run set-up would make it (``effective_state``: WP on, spec §7.4), found nothing to do,
    wrote nothing, and reported ``wp: on``, ``changed: false``: the HAT stayed un-set-up and writable. The same
    for ``alert``, ``hub`` and ``leds``, in clusterctrl_cluster too. A declared HAT setting now plans the
    set-up: the declared value holds only once the set-up has made the pins outputs."""
    lab = write_lab(tmp_path, 'hat: {version: "2.5", part: xra1200}\n')
    before = lab_truth(lab)
    assert before['boards']['hat']['wp'] is False and before['boards']['hat']['initialized'] is False
    result, _lines = run('board', lab, dict(controller='hat', wp='on'))
    after = lab_truth(lab)
    assert not result.get('failed'), result
    assert after['boards']['hat']['wp'] is (result['settings']['wp']['value'] == 'on'), (
        f'reports wp {result["settings"]["wp"]["value"]!r}, the write-protect line reads {after["boards"]["hat"]["wp"]}'
    )


def test_engine_bug_values_set_before_a_detected_restart_are_not_reported_as_held(tmp_path):
    """ENGINE BUG (fixed: apply.py ``_doubt_board``, ``Item.doubt``). ``clusterctrl_power pis=[p1, p2] state=on``
    on a Triple that restarts (RAM rebuilt from EEPROM, spec §5.2; back on the bus at once) just as ON 2 is
    sent: ON 1 was taken, the restart switched p1 off again (its saved power state is off), ON 2 ran on the
    restarted board, and its status read found the MODE token gone (BoardResetError). The failure named the
    board, but ``pis.p1`` still reported ``power: true`` (step taken), not uncertain: a value the board no
    longer held. Now every item of a board that restarted (or left the bus) is uncertain, with the reason."""
    (tmp_path / 'dry').mkdir()
    dry = write_lab(tmp_path / 'dry', TRIPLE)  # the same run without the restart: which call sends ON 2
    _result, lines = run('power', dry, dict(pis=['p1', 'p2'], state='on', power_on_delay=0))
    on2 = next(number for number, line in enumerate(lines, 1) if any(c['name'] == 'ON' and c['args'][:1] == [2] for c in line['commands']))
    (tmp_path / 'lab').mkdir()
    lab = write_lab(tmp_path / 'lab', TRIPLE.replace('}', f', faults: {{reset_after_calls: {on2 - 1}, reset_absent_calls: 0}}}}'))
    result, _lines = run('power', lab, dict(pis=['p1', 'p2'], state='on', power_on_delay=0))
    truth = lab_truth(lab)
    assert result['failed'] and 'restarted' in result['msg'], result
    assert result['pis']['p1']['changed'] is True
    p1 = result['pis']['p1']
    assert p1.get('uncertain') or p1['power'] is truth['pis'][(0, 1)]['power'], (
        f'p1 reports power {p1["power"]} (not uncertain) after the restart; the board holds {truth["pis"][(0, 1)]["power"]}'
    )


def test_engine_bug_reset_that_failed_before_reaching_the_board_is_reported_as_done(tmp_path, monkeypatch):
    """DRIVER BUG (fixed: ``ClusterCTRLv2Driver._went_away`` probes the board before taking an error for the
    expected drop-off). ``clusterctrl_board reset=true`` whose RESET write fails with EIO before it reaches the
    board (a USB failure, spec §1.8): the board does not restart, yet the result said ``reset: true``, taken,
    and the task succeeded: ``_send_and_lose_device`` (RESET and HUB_CYCLE) took every error but ENXIO for
    "the device went away as expected". Found by test_engine_faults with other seeds (3, 7)."""
    lab = write_lab(tmp_path, TRIPLE)
    before = lab_truth(lab)
    original = I2CTinyUsbAdapter.transfer

    def transfer(self, addr, messages, op='i2c_rdwr', reg=None):
        if reg == 0x0D and bytes(messages[0][1])[1:] == bytes([0x0E]):  # RESET written to CMD (spec §2, §3)
            raise OSError(errno.EIO, os.strerror(errno.EIO))  # the USB transfer failed: nothing reached the board
        return original(self, addr, messages, op=op, reg=reg)

    monkeypatch.setattr(I2CTinyUsbAdapter, 'transfer', transfer)
    result, _lines = run('board', lab, dict(controller='1', reset=True))
    after = lab_truth(lab)
    assert after['boards'][0]['boot_count'] == before['boards'][0]['boot_count']  # the board did not restart
    reset = result['settings']['reset']
    assert reset.get('uncertain') or result.get('failed') or reset['value'] is not True, (
        f'reports reset {reset}, changed {result["changed"]}, failed {result.get("failed", False)}: the board did not restart'
    )


def test_engine_bug_hat_settings_reported_as_set_up_when_the_run_failed_before_its_set_up(tmp_path):
    """ENGINE BUG (fails until fixed). A ClusterHAT (XRA1200P) that was never set up, and a Triple that stops
    answering (ETIMEDOUT) when its ON is sent: ``clusterctrl_cluster`` with p5 (the Triple's Pi 1) on and the
    HAT's ``alert: off`` fails at the ON, before the HAT's set-up step (spec §7.4), which is not taken. The HAT's
    pins are still inputs: the ALERT line reads its pull-up, high. Yet ``settings['hat.alert']`` reports
    ``value: off``, ``changed: false``: what the set-up would have made it (``effective_state``), not what the
    HAT holds. (engine_lab.KNOWN_BUGS['hat_settings_without_set_up'] lets the fault test count these cases.)

    Proposed fix (engine/report.py or plan.py): while a ClusterHAT's set-up step is not taken, its settings
    items report no value (None) and say why (``uncertain``: "the ClusterHAT was not set up: its pins are
    inputs, spec §7.4"), like the items of a board that restarted (``Item.doubt``)."""
    layout = 'hat: {version: "2.5", part: xra1200p}\ncontrollers:\n  - {type: triple, order: 1, firmware: "1.6"%s}\n'
    args = dict(config=dict(pis=dict(p5=dict(power='on')), boards=dict(hat=dict(alert='off'))), power_on_delay=0)
    (tmp_path / 'dry').mkdir()
    dry = write_lab(tmp_path / 'dry', layout % '')  # the same run without the fault: which call of the Triple sends ON
    _result, lines = run('cluster', dry, args)
    calls = [line for line in lines if line['bus'] == TRIPLE_BUS]
    on = next(number for number, line in enumerate(calls, 1) if any(c['name'] == 'ON' for c in line['commands']))
    (tmp_path / 'lab').mkdir()
    lab = write_lab(tmp_path / 'lab', layout % f', faults: {{stop_after_calls: {on - 1}}}')
    before = lab_truth(lab)
    result, _lines = run('cluster', lab, args)
    after = lab_truth(lab)
    assert result['failed'] and 'ETIMEDOUT' in result['msg'], result
    assert after['boards']['hat']['initialized'] is False and after['boards']['hat']['alert'] is True
    assert result['boards']['hat']['setup'] == 'needed', result['boards']
    alert = result['settings']['hat.alert']
    assert alert.get('uncertain') or alert['value'] == 'on', (
        f'hat.alert reports {alert["value"]!r} (changed {alert["changed"]}); the HAT was not set up and its ALERT line reads high'
    )
    assert before['boards']['hat']['initialized'] is False
