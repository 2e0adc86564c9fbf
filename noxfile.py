# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nox sessions of the collection, all defined by antsibull-nox from antsibull-nox.toml."""

# /// script
# dependencies = ["nox>=2025.02.09", "antsibull-nox"]
# ///

from __future__ import annotations

import sys

import nox

try:
    import antsibull_nox
except ImportError:
    print('You need to install antsibull-nox in the same Python environment as nox (tools/requirements-nox.txt).')
    sys.exit(1)


antsibull_nox.load_antsibull_nox_toml()


# Allow to run the noxfile with `python noxfile.py`, `pipx run noxfile.py`, or similar.
if __name__ == '__main__':
    nox.main()
