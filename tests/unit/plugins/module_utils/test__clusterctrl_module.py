# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The modules' hardware path (no virtual lab): discovery, buses opened with the real smbus2 and
locked, reset detection. Only the OS boundary is replaced: i2c-dev's ioctl answered by the
emulator, the sysfs scan and the device-tree HAT probe by their results."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest

pytest.importorskip('smbus2')
pytest.importorskip('ansible')  # the Python 3.9 venv of Debian 12's libraries has no ansible-core

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl import boards_open  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_dev import I2cDevEndpoint  # noqa: E402
from ansible_collections.picluster.clusterctrl.plugins.modules import clusterctrl_info, clusterctrl_power  # noqa: E402
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute  # noqa: E402


@pytest.fixture
def hardware(monkeypatch):
    """A Triple (order 1) on I2C bus 7 at USB path 1-1.1, reached through the real smbus2 class."""
    firmware = ClusterCTRLFirmware('triple', order=1)
    adapter = I2CTinyUsbAdapter.for_board(firmware, bus_number=7)
    endpoint = I2cDevEndpoint()
    with endpoint.patch_smbus2():
        monkeypatch.setattr(boards_open, 'open_smbus', lambda bus: endpoint.smbus2_bus(adapter))
        monkeypatch.setattr(boards_open, 'find_clusterctrl_buses', lambda: [(7, '1-1.1')])
        monkeypatch.setattr(boards_open, 'detect_clusterhat', lambda: None)
        yield firmware, adapter


def test_power_on_hardware_converges_with_reset_detection(hardware):
    firmware, adapter = hardware
    failed, result, _seconds = execute(clusterctrl_power, dict(pis=['p2'], power_on_delay=0))
    assert not failed and result['pis']['p2'] == {'controller': 1, 'pi': 2, 'power': True, 'previous': False, 'changed': True}
    assert firmware.outputs()['pi_power'][2] is True
    calls = [(e['op'], e['reg']) for e in adapter.journal.to_list()]
    assert calls[:2] == [('read_i2c_block_data', 0x00), ('write_byte_data', 0x03)]  # identity, then the reset token in MODE


def test_info_on_hardware_sends_no_mutating_command_and_reuses_the_reset_token(hardware):
    """clusterctrl_info detects a restart too (issue 9): the first run on a board writes a token into MODE,
    the scratch register no command reads and no save keeps (spec §2); a later run finds it and writes nothing."""
    _firmware, adapter = hardware
    failed, result, _seconds = execute(clusterctrl_info, {})
    assert not failed and result['controllers'][0]['usb_path'] == '1-1.1' and result['controllers'][0]['bus'] == 7
    tokens = [e for e in adapter.journal.to_list() if e['op'] == 'write_byte_data' and e['reg'] == 0x03]
    assert len(tokens) == 1 and not [e for e in adapter.journal.to_list() if e['mutating']]
    before = len(adapter.journal.to_list())
    failed, result, _seconds = execute(clusterctrl_info, {})
    assert not failed
    assert not [e for e in adapter.journal.to_list()[before:] if e['reg'] == 0x03]  # the token is still there: not written again


def test_a_second_run_waits_for_the_bus_lock(hardware):
    """Two runs on one controller queue on an flock of the bus device instead of interleaving."""
    holder = os.open(os.devnull, os.O_RDWR)  # the emulated bus device is /dev/null: lock it as another run would
    fcntl.flock(holder, fcntl.LOCK_EX)
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(result=execute(clusterctrl_power, dict(pis=['p1'], power_on_delay=0))))
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive()  # blocked on the lock
    fcntl.flock(holder, fcntl.LOCK_UN)
    os.close(holder)
    worker.join(10)
    assert not worker.is_alive()
    failed, result, _seconds = outcome['result']
    assert not failed and result['pis']['p1']['changed'] is True
