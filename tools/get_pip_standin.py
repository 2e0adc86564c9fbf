# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from a host this machine cannot reach, unless a copy is
cached in ~/.ansible/test/cache/get_pip_<version>.py. tools/setup.sh installs this file there.
ansible-test runs it once in every virtual environment it creates (one per sanity test and
Python version, one for the unit tests), asking for a pinned pip ("pip==24.2").

The pinned pip is installed once per Python version and request, next to this file
(pip-<hash of the request>-cp<python>), by the pip wheel the interpreter bundles (run from the
wheel, as get-pip.py runs its embedded copy); each new environment gets a .pth file that puts that
installation on its path. Installing pip into every environment cost about 6 CPU-seconds each,
more than most sanity venvs' own requirements, some 80 times in a run of the version matrix. pip installs what ansible-test asks for into the environment that
runs it, wherever pip itself lives. An interpreter that bundles no pip wheel gets pip the usual
way: ensurepip, then the pinned version.
"""

import ensurepip
import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig

os.environ.pop('PIP_CONFIG_FILE', None)
# ansible-test asks for pip only; setuptools and wheel are left to what the requirements name.
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
packages = sorted(a for a in args if not a.startswith('-'))
options = [a for a in args if a.startswith('-')]
bundled = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))

if not bundled or not packages:
    ensurepip.bootstrap()
    sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))

label = hashlib.sha256(' '.join(packages).encode()).hexdigest()[:16]  # what ansible-test asked for
shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), f'pip-{label}-cp{sys.version_info[0]}{sys.version_info[1]}')
complete = os.path.join(shared, '.complete')
with open(shared + '.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # ansible-test runs may create environments at the same time
    if not os.path.exists(complete):
        shutil.rmtree(shared, ignore_errors=True)
        status = subprocess.call([sys.executable, os.path.join(bundled[-1], 'pip'), 'install', '--no-deps', '--target', shared] + options + packages)
        if status:
            sys.exit(status)
        open(complete, 'w').close()

purelib = sysconfig.get_paths()['purelib']
# Read first (path files are read in name order): the .pth files installed with pip (setuptools' distutils-precedence.pth) then work.
with open(os.path.join(purelib, '00-ansible-test-shared-pip.pth'), 'w') as pth:
    pth.write(shared + '\n')
for installed in glob.glob(os.path.join(shared, '*.pth')):
    shutil.copy(installed, purelib)
