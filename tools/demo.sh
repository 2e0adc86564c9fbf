#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The main job, with no hardware: the demo playbook converges a virtual lab (a ClusterCTRL
# Triple, order 1, and a Stack, order 2), shows the cluster, and is run again with --check to
# verify that nothing would change.
set -euo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

ensure_system_packages
ensure_venvs controller
stage_collection

DEMO="$WORK/demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"
cat > "$DEMO/lab.yml" <<'LAB'
controllers:
  - {type: triple, order: 1, firmware: "1.6"}
  - {type: stack, order: 2}
LAB
export PICLUSTER_VIRTUAL_LAB="$DEMO/lab.yml"
playbook=(ansible-playbook -i 'localhost,' -c local -e "ansible_python_interpreter=$VENV/bin/python")

log "1. converge the virtual lab $PICLUSTER_VIRTUAL_LAB"
"${playbook[@]}" picluster.clusterctrl.demo

log "2. the same playbook with --check: nothing would change"
"${playbook[@]}" --check picluster.clusterctrl.demo | tee "$DEMO/check.log"
grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' "$DEMO/check.log" || { echo "the --check run reported a change" >&2; exit 1; }
python "$ROOT/tests/utils/check_journals.py" "$DEMO"
