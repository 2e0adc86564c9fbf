#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs every test of the collection, setting up whatever a fresh machine lacks:
#   sanity       ansible-test sanity (Python 3.12, ansible-core 2.21), no ignore file
#   units        unit tests, newest smbus2 and paho-mqtt 2.x (Python 3.12)
#   units-py39   library unit tests on Python 3.9 with smbus2 0.4.2 and paho-mqtt 1.6.1 (Debian 12)
#   integration  ansible-test integration: virtual labs and a real mosquitto broker
#   check-mode   no check-mode run of any integration target sent a mutating command: every lab
#                journal (ClusterCTRL) and the broker's log (no config/set from a check-mode client)
#   lint         ansible-lint, production profile, on roles and playbooks
#   changelog    antsibull-changelog lint
#   build        ansible-galaxy collection build and ansible-doc of every module
# Usage: tools/test.sh [stage ...]   (default: all stages)
set -uo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

ensure_system_packages || exit 1
ensure_venvs with-compat || exit 1
ensure_get_pip || exit 1
stage_collection

RUN="$WORK/test-run"
stop_stale_broker "$RUN/broker"
rm -rf "$RUN" && mkdir -p "$RUN/labs"
passed=() failed=()

stage_sanity() {
  (cd "$STAGE" && ansible-test sanity --python 3.12 --requirements --color no 2>&1 | grep -v -E '^(Collecting|  Downloading|Installing|Successfully|WARNING: Location|Looking in|Processing|Attempting|Found existing|Uninstalling|Requirement| *━)'; exit "${PIPESTATUS[0]}")
}

stage_units() {
  # PICLUSTER_COMPAT_PYTHON: the playbook test also runs mqtt_pins on Python 3.9 with paho-mqtt 1.6.1.
  (cd "$STAGE" && PYTHONPATH="$COLLECTIONS" PICLUSTER_COMPAT_PYTHON="$COMPAT_VENV/bin/python" python -m pytest tests/unit -q -p no:cacheprovider)
}

stage_units_py39() {
  (cd "$STAGE" && PYTHONPATH="$COLLECTIONS" "$COMPAT_VENV/bin/python" -m pytest tests/unit/plugins/module_utils -q -p no:cacheprovider)
}

stage_integration() {
  local broker="$RUN/broker" rc
  python "$STAGE/tests/utils/mosquitto_broker.py" start --dir "$broker" --json "$RUN/broker.json" || return 1
  on_exit "python '$STAGE/tests/utils/mosquitto_broker.py' stop --dir '$broker' >/dev/null 2>&1"  # also when interrupted
  python - "$RUN/broker.json" "$RUN/labs" "$STAGE/tests/integration/integration_config.yml" <<'PY'
import json, sys
broker = json.load(open(sys.argv[1]))
with open(sys.argv[3], 'w') as out:
    json.dump({'picluster_lab_dir': sys.argv[2], 'mqtt_host': broker.get('host', '127.0.0.1'), 'mqtt_port': broker['port']}, out)
PY
  (cd "$STAGE" && ansible-test integration --python 3.12 --color no)
  rc=$?
  python "$STAGE/tests/utils/mosquitto_broker.py" stop --dir "$broker"
  return $rc
}

stage_check_mode() {
  local rc=0
  if [ ! -d "$RUN/labs" ] || [ ! -d "$RUN/broker" ]; then
    echo "check-mode checks what the integration stage of the same run left: run it with integration"
    return 1
  fi
  python "$STAGE/tests/utils/check_journals.py" "$RUN/labs" || rc=1
  python "$STAGE/tests/utils/check_broker_log.py" "$RUN/broker" || rc=1
  return $rc
}

stage_lint() {
  (cd "$STAGE" && ansible-lint --offline roles playbooks)
}

stage_changelog() {
  (cd "$STAGE" && antsibull-changelog lint)
}

stage_build() {
  local module
  (cd "$STAGE" && ansible-galaxy collection build --force --output-path "$RUN/dist") || return 1
  for module in "$STAGE"/plugins/modules/*.py; do
    module=$(basename "$module" .py)
    ansible-doc "picluster.clusterctrl.$module" >/dev/null || { echo "ansible-doc failed for $module"; return 1; }
  done
  echo "built $(ls "$RUN"/dist/*.tar.gz) and rendered the docs of every module"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity units units-py39 integration check-mode lint changelog build)
for name in "${stages[@]}"; do
  log "stage $name"
  if "stage_${name//-/_}"; then passed+=("$name"); else failed+=("$name"); fi
done

log "summary"
for name in "${passed[@]}"; do echo "  passed: $name"; done
for name in "${failed[@]}"; do echo "  FAILED: $name"; done
echo "stages: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
