# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Builds the Python packages from the collection's module_utils (see python/generate_packages.py)."""

import pathlib
import re
import sys

from setuptools import setup

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / 'python'))
import generate_packages  # noqa: E402  pylint: disable=wrong-import-position

GENERATED = HERE / 'build' / 'python-packages'
generate_packages.generate(GENERATED)
VERSION = re.search(r'^version:\s*(\S+)', (HERE / 'galaxy.yml').read_text(encoding='utf-8'), re.M).group(1)

setup(
    version=VERSION,
    package_dir={'': str(GENERATED.relative_to(HERE))},
    packages=list(generate_packages.PACKAGES),
    py_modules=[],
)
