# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from a host this machine cannot reach, unless a copy is
cached in ~/.ansible/test/cache/get_pip_<version>.py. tools/test.sh installs this file there:
it bootstraps pip from the interpreter's own ensurepip, then installs what ansible-test asked
for (usually a pinned pip) from the package index the machine's pip configuration names.
"""

import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap()
# ensurepip points PIP_CONFIG_FILE at /dev/null, which would hide the machine's index settings.
os.environ.pop('PIP_CONFIG_FILE', None)
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
