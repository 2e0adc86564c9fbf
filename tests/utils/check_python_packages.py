# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Python distribution as its users get it (issue 11): built as wheel and sdist, installed into fresh
venvs of the oldest and newest Python, and used the way the README's "Python users" section shows.

Usage: check_python_packages.py CHECKOUT WORKDIR PYTHON [PYTHON ...]
For each PYTHON: a fresh venv with the wheel (with the ``async`` extra), then
* the installed packages are the collection's module_utils, imports aside (python/generate_packages.py);
* the earlier driver API runs on an emulated Triple in place of ``SMBus(3)``;
* ``clusterctrl --lab LAB on p2`` then ``status`` prints ``p2:1``, ``p1:0`` and a ``ctrl_bus:`` line;
* every example of the README's "Python users" section runs as it stands (``python`` blocks with the
  venv's Python, ``sh`` blocks with its ``bin`` on PATH), the asyncio one against a real mosquitto and the
  virtual devices (``python -m mqtt_device_cluster.virtual_devices``): config, update, a 200 ms pulse,
  and an update after the pulse that shows the reverted level.
Also ``pip install CHECKOUT`` into one more fresh venv (the first PYTHON) runs the driver example.
Prints one line per check and a final ``N passed, M failed`` line.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time

DRIVER_EXAMPLE = r"""
from clusterctrl.driver import ClusterCTRLv2Driver as Driver
from clusterctrl.emulator import emulated_bus
hat = Driver(emulated_bus('triple'))
assert hat.fw_version and hat.min_pi and hat.max_pi and len(list(hat.pis())) == 3 and hat.max_adc == 1, hat
print('type', hat.type)
hat.power_on(1)
hat.power_on(hat.min_pi)
hat.power_on(id=2)
assert hat.power_status(2) is True
kelvin = hat.read_temp()
assert isinstance(kelvin, int) and 250 <= kelvin <= 400, kelvin
for method in ('power_all_on', 'power_all_off', 'eeprom_save_powerstate', 'get_order', 'set_order', 'alert_on', 'alert_off',
               'led_on', 'led_off', 'fan_on', 'fan_off', 'fan_status', 'hub_on', 'hub_off', 'hub_reset', 'usbboot_on',
               'usbboot_off', 'usbboot_status', 'eeprom_reset', 'eeprom_save_order', 'eeprom_save_all'):
    assert callable(getattr(hat, method)), method
print('driver example ok, temperature', kelvin, 'K')
"""


def readme_examples(checkout: pathlib.Path) -> list:
    """The ```python and ```sh blocks of the README's "Python users" section (install commands aside), in order."""
    text = (checkout / 'README.md').read_text(encoding='utf-8')
    section = text.split('\n## Python users\n', 1)[1].split('\n## ', 1)[0]
    blocks = re.findall(r'^```(python|sh)\n(.*?)^```', section, re.M | re.S)
    return [(kind, code) for kind, code in blocks if 'pip install' not in code]


def run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, check=False, **kwargs)


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, result):
        ok = result.returncode == 0
        print(f'{"ok    " if ok else "FAILED"} {name}')
        if not ok:
            print(result.stdout[-3000:], result.stderr[-3000:])
        self.passed += ok
        self.failed += not ok
        return ok


def fresh_venv(python, where, *requirements):
    run([python, '-m', 'venv', where]).check_returncode()
    pip = [f'{where}/bin/python', '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
    return run(pip + list(requirements))


def main(checkout, work, pythons):
    checkout, work = pathlib.Path(checkout), pathlib.Path(work)
    work.mkdir(parents=True, exist_ok=True)
    checks = Checks()
    dist = work / 'dist'
    if not checks.check('build wheel and sdist', run([sys.executable, '-m', 'build', '--outdir', dist, checkout])):
        return checks
    wheel = next(dist.glob('*.whl'))
    sdist = next(dist.glob('*.tar.gz'))
    listing = run(['tar', 'tzf', sdist]).stdout
    checks.check(
        'the sdist carries the collection code it builds from',
        subprocess.CompletedProcess([], 0 if '/plugins/module_utils/clusterctrl/driver.py' in listing else 1, listing, ''),
    )
    broker = work / 'broker'
    info = work / 'broker.json'
    started = run([sys.executable, checkout / 'tests' / 'utils' / 'mosquitto_broker.py', 'start', '--dir', broker, '--json', info])
    if not checks.check('start mosquitto', started):
        return checks
    try:
        port = json.loads(info.read_text())['port']
        for python in pythons:
            version = run([python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).stdout.strip()
            venv = work / f'venv-{version}'
            if not checks.check(f'Python {version}: install the wheel with [async]', fresh_venv(python, venv, f'{wheel}[async]')):
                continue
            bindir = venv / 'bin'
            site = run([bindir / 'python', '-c', 'import clusterctrl, pathlib; print(pathlib.Path(clusterctrl.__file__).parent.parent)']).stdout.strip()
            checks.check(
                f'Python {version}: the installed packages are the collection code',
                run([sys.executable, checkout / 'python' / 'generate_packages.py', 'check', site]),
            )
            checks.check(f'Python {version}: driver example', run([bindir / 'python', '-c', DRIVER_EXAMPLE], cwd=work))
            lab = work / f'lab-{version}.yml'
            lab.write_text('controllers:\n  - {type: triple, order: 1}\n')
            on = run([bindir / 'clusterctrl', '--lab', lab, 'on', 'p2'])
            status = run([bindir / 'clusterctrl', '--lab', lab, 'status'])
            lines = status.stdout.splitlines()
            status = subprocess.CompletedProcess(
                [],
                0 if on.returncode == 0 and 'p2:1' in lines and 'p1:0' in lines and any(line.startswith('ctrl_bus:') for line in lines) else 1,
                status.stdout,
                on.stderr + status.stderr,
            )
            checks.check(f'Python {version}: clusterctrl --lab on p2, status', status)
            devices = subprocess.Popen(
                [bindir / 'python', '-m', 'mqtt_device_cluster.virtual_devices', '--port', str(port), '--ids', 'device123', '--pins', '16'],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                time.sleep(1.5)
                env = dict(os.environ, MQTT_PORT=str(port), PATH=f'{bindir}{os.pathsep}{os.environ["PATH"]}')
                examples = readme_examples(checkout)
                if not examples:
                    checks.check(f'Python {version}: README Python examples found', subprocess.CompletedProcess([], 1, '', 'none found'))
                for number, (kind, code) in enumerate(examples, 1):
                    where = work / f'readme-{version}-{number}'
                    where.mkdir()
                    command = [bindir / 'python', '-c', code] if kind == 'python' else ['bash', '-euo', 'pipefail', '-c', code]
                    checks.check(f'Python {version}: README Python users example {number} ({kind})', run(command, cwd=where, env=env))
            finally:
                devices.terminate()
                devices.wait(10)
        checkout_venv = work / 'venv-checkout'
        if checks.check('pip install <checkout> into a fresh venv', fresh_venv(pythons[0], checkout_venv, checkout)):
            checks.check('driver example from the checkout install', run([checkout_venv / 'bin' / 'python', '-c', DRIVER_EXAMPLE], cwd=work))
    finally:
        run([sys.executable, checkout / 'tests' / 'utils' / 'mosquitto_broker.py', 'stop', '--dir', broker])
    return checks


if __name__ == '__main__':
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    result = main(sys.argv[1], sys.argv[2], sys.argv[3:])
    print(f'{result.passed} passed, {result.failed} failed')
    sys.exit(1 if result.failed else 0)
