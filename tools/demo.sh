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
stop_stale_broker "$DEMO/broker"
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

log "3. MQTT pin devices: a mosquitto broker and three virtual devices"
BROKER="$DEMO/broker"
python "$ROOT/tests/utils/mosquitto_broker.py" start --dir "$BROKER" --json "$DEMO/broker.json"
port=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$DEMO/broker.json")
PYTHONPATH="$COLLECTIONS" python -m ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices \
  --host 127.0.0.1 --port "$port" --count 3 --pins 8 --ready-file "$DEMO/devices.ready" > "$DEMO/devices.log" 2>&1 &
devices_pid=$!
stop_mqtt() {
  kill "$devices_pid" 2>/dev/null || true
  python "$ROOT/tests/utils/mosquitto_broker.py" stop --dir "$BROKER" || true
}
on_exit stop_mqtt
for _try in $(seq 100); do [ -e "$DEMO/devices.ready" ] && break; sleep 0.1; done
[ -e "$DEMO/devices.ready" ] || { cat "$DEMO/devices.log"; echo "the virtual devices did not start" >&2; exit 1; }
cat "$DEMO/devices.log"

log "4. converge the devices' pins"
"${playbook[@]}" -e "mqtt_port=$port" picluster.clusterctrl.demo_mqtt_pins

log "5. the same playbook with --check: nothing would change, only 'get' is published"
"${playbook[@]}" -e "mqtt_port=$port" --check picluster.clusterctrl.demo_mqtt_pins | tee "$DEMO/mqtt-check.log"
grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' "$DEMO/mqtt-check.log" || { echo "the --check run reported a change" >&2; exit 1; }
log "demo complete"
