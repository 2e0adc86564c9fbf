#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The main job, with no hardware: the demo playbook (the README's quick start) converges a
# virtual lab (a ClusterCTRL Triple, order 1, and a Stack, order 2) and three virtual MQTT
# devices on a private mosquitto broker, each in check mode, for real and for real again (which
# must change nothing), and stops what it started. The lab's journal then proves that the
# check-mode pass sent no command that changes a board.
set -euo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

ensure_system_packages
ensure_venvs controller
stage_collection

DEMO="$WORK/demo"
rm -rf "$DEMO" && mkdir -p "$DEMO"
cat > "$DEMO/inventory.yml" <<'INVENTORY'
clusterctrl_controllers:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
INVENTORY

log "the demo: a virtual lab and virtual MQTT devices, converged, then again with nothing to change"
ansible-playbook -i "$DEMO/inventory.yml" -e "demo_dir=$DEMO/lab" picluster.clusterctrl.demo | tee "$DEMO/demo.log"
grep -q 'the second real run changed nothing' "$DEMO/demo.log" || { echo "the demo did not verify its second run" >&2; exit 1; }

log "the check-mode pass sent no command that changes a board"
python "$ROOT/tests/utils/check_journals.py" "$DEMO/lab"
log "demo complete"
