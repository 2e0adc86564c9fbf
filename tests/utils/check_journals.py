# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The check-mode invariant, checked in one place for every integration target.

Every virtual lab of the integration run keeps a journal of bus transactions, each line
marked with whether its module ran in check mode. This script fails if any check-mode
line carries a mutating command, and reports how many check-mode runs and transactions it
saw, so a run that checked nothing is visible too.
Usage: check_journals.py LAB_DIR
"""

import glob
import json
import os
import sys


def main(lab_dir):
    journals = sorted(glob.glob(os.path.join(lab_dir, '*.journal.jsonl')))
    runs, lines, bad = set(), 0, []
    for path in journals:
        with open(path) as handle:
            for number, line in enumerate(handle, 1):
                entry = json.loads(line)
                if not entry.get('check_mode'):
                    continue
                runs.add((path, entry['run']))
                lines += 1
                if entry.get('mutating'):
                    bad.append('%s:%d %s' % (os.path.basename(path), number, line.strip()))
    print('check-mode invariant: %d journals, %d check-mode runs, %d check-mode transactions, %d mutating' % (len(journals), len(runs), lines, len(bad)))
    for item in bad:
        print('MUTATING IN CHECK MODE: ' + item)
    if not runs:
        print('no check-mode run was journaled: the invariant was not exercised')
        return 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
