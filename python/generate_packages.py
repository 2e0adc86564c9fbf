# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Python distribution's packages, generated from the collection's module_utils: one source.

``clusterctrl`` (driver, ClusterHAT, discovery, emulator, virtual lab, the ``clusterctrl`` command)
and ``mqtt_device_cluster`` (asyncio DeviceCluster, the synchronous client, virtual devices) are the
files of ``plugins/module_utils`` copied as they are, except for one thing: the collection's absolute
import prefix is replaced by the package's name. ``check`` proves that a built tree is exactly that.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULE_UTILS = ROOT / 'plugins' / 'module_utils'
INITS = pathlib.Path(__file__).resolve().parent / 'init'
PREFIX = 'ansible_collections.picluster.clusterctrl.plugins.module_utils.'

# package name -> source in module_utils (a folder, or one file as a module)
PACKAGES = {
    'clusterctrl': 'clusterctrl',
    'clusterctrl.emulator': 'emulator',
    'clusterctrl.virtual_lab': 'virtual_lab',
    'mqtt_device_cluster': 'mqtt',
}
MODULES = {'clusterctrl._private_file': '_private_file.py'}
# What the collection's import paths become in the packages (longest first).
IMPORTS = sorted(
    ((PREFIX + source.replace('.py', '').replace('/', '.'), package) for package, source in list(PACKAGES.items()) + list(MODULES.items())),
    key=lambda pair: -len(pair[0]),
)
_IMPORT = re.compile(r'\b' + re.escape(PREFIX) + r'[A-Za-z_][\w.]*')


def rewrite(text: str) -> str:
    """The collection's absolute imports become the packages' own names."""

    def replace(match):
        name = match.group(0)
        for old, new in IMPORTS:
            if name == old or name.startswith(old + '.'):
                return new + name.removeprefix(old)
        raise ValueError(f'{name} is not part of the Python packages: add it to PACKAGES or MODULES')

    return _IMPORT.sub(replace, text)


def sources():
    """(path inside the build tree, source file or None, template or None) for every generated file."""
    out = []
    for package, folder in PACKAGES.items():
        target = pathlib.Path(*package.split('.'))
        for source in sorted((MODULE_UTILS / folder).glob('*.py')):
            if source.name != '__init__.py':
                out.append((target / source.name, source))
        init = INITS / target / '__init__.py'
        out.append((target / '__init__.py', init if init.exists() else MODULE_UTILS / folder / '__init__.py'))
    for module, source in MODULES.items():
        out.append((pathlib.Path(*module.split('.')).with_suffix('.py'), MODULE_UTILS / source))
    return out


def expected(source: pathlib.Path) -> str:
    text = source.read_text(encoding='utf-8') if source.exists() else ''
    return text if source.is_relative_to(INITS) else rewrite(text)


def generate(dest: pathlib.Path) -> list:
    """Write the packages into ``dest``; return the files written."""
    written = []
    for target, source in sources():
        path = dest / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected(source), encoding='utf-8')
        written.append(path)
    return written


def check(installed: pathlib.Path) -> list:
    """Differences between the packages found under ``installed`` (site-packages) and the collection's code."""
    problems = []
    for target, source in sources():
        path = installed / target
        if not path.exists():
            problems.append(f'{target}: missing')
        elif path.read_text(encoding='utf-8') != expected(source):
            problems.append(f'{target}: differs from {source.relative_to(ROOT)}')
    return problems


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('generate', 'check'):
        sys.exit('usage: generate_packages.py generate DEST | check SITE_PACKAGES')
    where = pathlib.Path(sys.argv[2])
    if sys.argv[1] == 'generate':
        shutil.rmtree(where, ignore_errors=True)
        print(f'{len(generate(where))} files written to {where}')
    else:
        found = check(where)
        print('\n'.join(found) or f"the installed packages in {where} are the collection's code, imports aside")
        sys.exit(1 if found else 0)
