# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Killing a run at random points: the lab afterwards holds exactly what the journal says the boards did.

A child process does what a module does, over and over: it opens the lab, drives its boards with
ClusterCTRLv2Driver over the session's SMBus (switching random Pis on and off), and closes it. It is
killed with SIGTERM (an Ansible task timeout) or SIGKILL after a random delay. Then the lab is opened
again and

* every Pi's power equals what the journal's ON and OFF commands left it at;
* every command the child saw acknowledged is kept (only the one in flight at the kill may or may
  not have happened), as a real board keeps what it was told;
* no torn journal line, log or temporary file is left behind.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import time

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.journal_file import journal_path
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import LabError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.state_log import log_path
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab

LAB = 'controllers:\n  - {type: triple, order: 1}\n  - {type: stack, order: 2}\n'
SEED = 4242
RUNS = 60
POWER = {'ON': True, 'OFF': False}


def work(lab_path, seed, ready, acks):
    """The child: module-like runs until it is killed; each command is noted in ``acks`` before it is sent and once it returned."""
    rng = random.Random(seed)
    os.write(ready, b'.')
    while True:
        with VirtualLab(lab_path).session() as session:
            for _command in range(rng.randrange(1, 6)):
                controller = rng.choice(session.controllers)
                driver = ClusterCTRLv2Driver(controller.smbus, randomize_factory_order=False)
                pi = rng.randrange(1, driver.maxpi + 1)
                on = rng.random() < 0.5
                os.write(acks, b'send %d %d %d\n' % (controller.config.bus, pi, on))
                if on:
                    driver.power_on(pi)
                else:
                    driver.power_off(pi)
                os.write(acks, b'done\n')


def start_child(lab_path, seed, acks_path):
    ready, announce = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.close(ready)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            work(lab_path, seed, announce, os.open(acks_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        finally:
            os._exit(1)
    os.close(announce)
    assert os.read(ready, 1) == b'.'
    os.close(ready)
    return pid


def acknowledged(acks_path, known):
    """``known`` updated with the commands that returned; the one in flight at the kill ((bus, pi), on) or None."""
    in_flight = None
    with open(acks_path) as handle:
        for line in handle.read().splitlines():
            if line.startswith('send '):
                _word, bus, pi, on = line.split()
                in_flight = ((int(bus), int(pi)), on == '1')
            elif line == 'done' and in_flight is not None:
                known[in_flight[0]] = in_flight[1]
                in_flight = None
    os.unlink(acks_path)
    return in_flight


def journal_power(state_file, start):
    """{(bus, pi): on} after replaying the journal's executed ON/OFF commands, from ``start``."""
    power = dict(start)
    with open(journal_path(state_file), 'rb') as handle:
        data = handle.read()
    assert not data or data.endswith(b'\n'), 'a torn journal line'
    for line in data.decode('utf-8').splitlines():
        entry = json.loads(line)
        for command in entry['commands']:
            if command['name'] in POWER and command['status'] is not None:
                power[(entry['bus'], command['args'][0])] = POWER[command['name']]
    return power


def lab_power(lab_path):
    with VirtualLab(lab_path).session(check_mode=True) as session:
        return dict(((c.config.bus, pi), c.firmware.pi_power(pi)) for c in session.controllers for pi in range(1, c.firmware.spec.maxpi + 1))


def test_runs_killed_at_random_points_lose_nothing_the_journal_shows(tmp_path):
    lab_path = str(tmp_path / 'lab.yml')
    with open(lab_path, 'w') as handle:
        handle.write(LAB)
    with VirtualLab(lab_path).session() as session:
        for controller in session.controllers:
            ClusterCTRLv2Driver(controller.smbus, randomize_factory_order=False).power_all_off()
    state_file = VirtualLab(lab_path).state_file
    start = lab_power(lab_path)
    assert journal_power(state_file, start) == start
    known = dict(start)  # what the boards were told, as far as the child saw it acknowledged
    acks_path = str(tmp_path / 'acks')
    rng = random.Random(SEED)
    counts = dict(SIGTERM=0, SIGKILL=0, log_left=0, journal_lines=0, in_flight_kept=0)
    problems = []
    for run in range(RUNS):
        signum = signal.SIGTERM if run % 2 else signal.SIGKILL
        pid = start_child(lab_path, SEED + run, acks_path)
        time.sleep(rng.uniform(0.0, 0.06))
        os.kill(pid, signum)
        _pid, status = os.waitpid(pid, 0)
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signum):
            problems.append('run %d: the child ended otherwise (status %r)' % (run, status))
        counts[signal.Signals(signum).name] += 1
        counts['log_left'] += os.path.exists(log_path(state_file))
        actual = lab_power(lab_path)  # opening the lab puts back what the kill kept out
        expected = journal_power(state_file, start)
        if actual != expected:
            problems.append(
                'run %d (%s): the lab has %s, the journal says %s'
                % (run, signal.Signals(signum).name, sorted(k for k, v in actual.items() if v), sorted(k for k, v in expected.items() if v))
            )
        in_flight = acknowledged(acks_path, known)
        lost = sorted(k for k, v in known.items() if actual[k] != v and not (in_flight and in_flight[0] == k))
        if lost:
            problems.append('run %d (%s): acknowledged commands lost for %s' % (run, signal.Signals(signum).name, lost))
        if in_flight is not None and actual[in_flight[0]] == in_flight[1]:
            counts['in_flight_kept'] += 1
        known = dict(actual)
        leftovers = [name for name in os.listdir(str(tmp_path)) if '.tmp.' in name or name.endswith('.log')]
        if leftovers:
            problems.append('run %d: left %s' % (run, leftovers))
    with open(journal_path(state_file)) as handle:
        counts['journal_lines'] = sum(1 for _line in handle)
    print(
        '\nkill test: %d runs killed (%d SIGTERM, %d SIGKILL), %d of them in the middle of a session (a log to apply), '
        '%d with the command in flight already kept; %d journal lines; %d mismatches'
        % (RUNS, counts['SIGTERM'], counts['SIGKILL'], counts['log_left'], counts['in_flight_kept'], counts['journal_lines'], len(problems))
    )
    assert not problems, '\n'.join(problems)
    assert counts['log_left'] > 0  # the kills did land in the middle of runs


def fill_the_disk(lab_path, limit, report):
    """The child: files may not grow past ``limit`` bytes (RLIMIT_FSIZE: EFBIG, as a full disk gives ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    rng = random.Random(SEED)
    try:
        for _run in range(500):
            with VirtualLab(lab_path).session() as session:
                for _command in range(5):
                    controller = rng.choice(session.controllers)
                    driver = ClusterCTRLv2Driver(controller.smbus, randomize_factory_order=False)
                    pi = rng.randrange(1, driver.maxpi + 1)
                    (driver.power_on if rng.random() < 0.5 else driver.power_off)(pi)
    except LabError as exc:
        os.write(report, str(exc).encode())
    else:
        os.write(report, b'no error')


def test_a_full_disk_fails_cleanly_and_loses_nothing(tmp_path):
    lab_path = str(tmp_path / 'lab.yml')
    with open(lab_path, 'w') as handle:
        handle.write(LAB)
    state_file = VirtualLab(lab_path).state_file
    start = lab_power(lab_path)
    limit = os.path.getsize(state_file) + 4000  # the state fits; the journal and the log soon do not
    report, announce = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(report)
            fill_the_disk(lab_path, limit, announce)
        finally:
            os._exit(0)
    os.close(announce)
    message = os.read(report, 4096).decode()
    os.close(report)
    _pid, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and message.startswith(f'virtual lab {lab_path}: cannot write '), message
    assert 'File too large' in message
    actual = lab_power(lab_path)  # the next run (with room again) puts back what the full disk kept out of the journal
    assert actual == journal_power(state_file, start)
    assert not os.path.exists(log_path(state_file))
    print('\nfull disk: the run failed with {!r}; the lab and its journal agree afterwards'.format(message.split(': ', 1)[1][:200]))
