# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every file the clusterctrl modules write is owner-only, whatever the umask.

Lab state, journal and lock; the EEPROM record, its lock and the directories created for it.
"""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import make_private_dirs
from ansible_collections.picluster.clusterctrl.plugins.modules import clusterctrl_eeprom, clusterctrl_power
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import run_module, write_lab


@pytest.fixture
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize('umask', [0o000, 0o022, 0o002], indirect=True)
def test_files_written_are_owner_only(tmp_path, umask):
    lab = write_lab(tmp_path, 'controllers:\n  - {type: triple, order: 1}\n')
    os.chmod(lab, 0o600)
    record_dir = tmp_path / 'var' / 'lib' / 'picluster'
    record = str(record_dir / 'clusterctrl-eeprom.json')
    result, code = run_module(clusterctrl_power.main, virtual_lab=lab, pis=['p1'], power_on_delay=0)
    assert code == 0, result
    result, code = run_module(clusterctrl_eeprom.main, virtual_lab=lab, save=['power'], record=record)
    assert code == 0 and result['changed'] is True, result
    files = [lab + '.state.json', lab + '.state.json.journal.jsonl', lab + '.state.json.lock', record, record + '.lock']
    for path in files:
        assert mode(path) == 0o600, f'{path} is {mode(path):o} with umask {umask:03o}'
    directories = (record_dir, record_dir.parent, record_dir.parent.parent)
    for path in directories:
        assert mode(str(path)) == 0o700, f'{path} is {mode(str(path)):o} with umask {umask:03o}'
    leftovers = [name for name in os.listdir(str(tmp_path)) + os.listdir(str(record_dir)) if '.tmp.' in name]
    assert not leftovers
    print('\nreliability: umask %03o: %d files and %d directories written, all owner-only' % (umask, len(files), len(directories)))


def test_record_directory_made_by_a_parallel_fork_is_fine(tmp_path, monkeypatch):
    """Two forks saving to a new record directory at once: the one that loses the race to create it goes on."""
    target = str(tmp_path / 'a' / 'b')
    real_mkdir = os.mkdir

    def racing_mkdir(path, mode=0o777):
        real_mkdir(path, mode)  # the other fork
        real_mkdir(path, mode)  # this one: FileExistsError

    monkeypatch.setattr(os, 'mkdir', racing_mkdir)
    make_private_dirs(target)
    assert os.path.isdir(target)
