#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs every test of the collection, setting up whatever a fresh machine lacks. Newest core (2.21, Python 3.12):
#   sanity       ansible-test sanity, no ignore file
#   units-ansible-test
#                every unit test as ansible-test runs them: a fresh venv with tests/unit/requirements.txt,
#                every test in a fork; no test broker (mosquitto) may outlive the run
#   units-playbooks
#                the unit tests ansible-test units cannot run (they launch ansible-playbook), with pytest; the
#                50-device mqtt_pins playbook also on a Python 3.9 managed node with paho-mqtt 1.6.1
#   units-py39   library unit tests on Python 3.9 with smbus2 0.4.2 and paho-mqtt 1.6.1 (Debian 12)
#   integration  ansible-test integration: virtual labs and a real mosquitto broker
#   check-mode   no check-mode run of any integration target sent a mutating command: every lab
#                journal (ClusterCTRL) and the broker's log (no config/set from a check-mode client)
# Every other supported core, newest patch release of each (tools/matrix.sh):
#   matrix-oldest  ansible-core 2.14 (the floor): ansible-test integration, every target, and its check-mode check
#   matrix-2.N   2.14 to 2.20: sanity without pylint, units (the engine's seeded property and fault
#                tests at a quarter of their size), tarball smoke; matrix-2.21: smoke (its sanity and units above)
# The collection as users get it:
#   readme       every yaml example of README.md and roles/*/README.md on a fresh virtual lab and virtual
#                MQTT devices: --check --diff, then twice for real; the second run changes nothing
#                (tests/utils/readme_examples.py)
#   quick-start  README.md's quick start run verbatim from the built tarball: a venv of its own, the demo (virtual
#                lab and virtual MQTT devices) and the README's playbook, converged and re-run without change
#   lint         ansible-lint on the whole collection, production profile
#   changelog    antsibull-changelog lint
#   reuse        reuse lint of the built tarball (the checkout: nox license-check)
#   ee           ansible-builder introspect on the collection installed from the tarball: names smbus2,
#                paho-mqtt and PyYAML (meta/execution-environment.yml, requirements.txt, bindep.txt)
#   nox          antsibull-nox: ruff (lint and format), yamllint, docs-check, reuse, extra checks, galaxy-importer
#   docs         the docs site (docs/docsite, module and role pages) built with antsibull-docs and Sphinx, warnings
#                as errors, and the clusterctrl_power page opened in headless Chromium: its options table renders
#   python       the Python distribution (pyproject.toml): wheel and sdist built, installed into fresh venvs of
#                Python 3.9 and 3.13, proved to be the collection's module_utils, and the README's driver,
#                clusterctrl command and asyncio examples run (tests/utils/check_python_packages.py)
# Usage: tools/test.sh [stage ...]   (default: every stage, three at a time, longest first: see CHAINS below;
# stages named on the command line run one after the other)
set -uo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

# Debian packages (apt-get) and the venvs (pip) are set up at the same time.
mkdir -p "$WORK"
ensure_system_packages > "$WORK/system-packages.log" 2>&1 &
system_packages=$!
ensure_venvs with-compat || exit 1
ensure_get_pip || exit 1
wait "$system_packages" || { cat "$WORK/system-packages.log"; exit 1; }
cat "$WORK/system-packages.log"
stage_collection
log "set-up: $SECONDS s"

RUN="$WORK/test-run"
stop_stale_broker "$RUN/broker"
rm -rf "$RUN" && mkdir -p "$RUN/labs"

stage_sanity() {
  (cd "$STAGE" && ansible-test sanity --python 3.12 --requirements --color no 2>&1 | without_pip_noise; exit "${PIPESTATUS[0]}")
}

stage_units_playbooks() {
  # The tests that skip themselves under ansible-test units (no ansible-playbook there), found by that marker.
  # PICLUSTER_COMPAT_PYTHON: the playbook test also runs mqtt_pins on Python 3.9 with paho-mqtt 1.6.1.
  local files
  mapfile -t files < <(cd "$STAGE" && grep -rl --include='test_*.py' "find_spec('ansible.cli')" tests/unit | sort)
  [ ${#files[@]} -gt 0 ] || { echo "no unit test launches ansible-playbook: the stage has nothing to run"; return 1; }
  (cd "$STAGE" && PYTHONPATH="$COLLECTIONS" PICLUSTER_COMPAT_PYTHON="$COMPAT_VENV/bin/python" python -m pytest "${files[@]}" -q -p no:cacheprovider)
}

stage_units_py39() {
  (cd "$STAGE" && PYTHONPATH="$COLLECTIONS" "$COMPAT_VENV/bin/python" -m pytest tests/unit/plugins/module_utils -q -p no:cacheprovider)
}

# Test brokers no process waits for any more: running mosquitto whose parent is init (pid 1), one pid a line.
# Brokers started on purpose in the background (mosquitto_broker.py start: a session of their own) do not count.
orphaned_brokers() {
  ps -eo pid=,ppid=,sid=,stat=,comm= | awk '$2 == 1 && $1 != $3 && $4 !~ /^Z/ && $5 == "mosquitto" {print $1}' | sort
}

stage_units_ansible_test() {
  # ansible-test gives the tests of modules and module_utils only ansible-core's modules and module_utils,
  # and runs each test in a fork of its own (session and module fixtures are set up in every fork).
  local before leaked rc
  before=$(orphaned_brokers)
  (cd "$STAGE" && ansible-test units --venv --python 3.12 --requirements --color no 2>&1 | without_pip_noise; exit "${PIPESTATUS[0]}")
  rc=$?
  sleep 1  # a broker stopped by its parent's death needs a moment to exit
  leaked=$(comm -13 <(echo "$before") <(orphaned_brokers) | sed '/^$/d')
  if [ -n "$leaked" ]; then
    echo "mosquitto test brokers left running by the unit tests (pids): $(echo "$leaked" | tr '\n' ' ')"
    return 1
  fi
  echo "no test broker outlived its test"
  return $rc
}

stage_integration() {
  integration_with_broker 3.12 "$RUN/broker" "$RUN/labs"
}

# check_mode_of LABS BROKER: no check-mode run of the integration targets sent a mutating command.
check_mode_of() {
  local rc=0
  if [ ! -d "$1" ] || [ ! -d "$2" ]; then
    echo "check-mode checks what an integration run left ($1, $2): run it with its integration stage"
    return 1
  fi
  python "$STAGE/tests/utils/check_journals.py" "$1" || rc=1
  python "$STAGE/tests/utils/check_broker_log.py" "$2" || rc=1
  return $rc
}

stage_check_mode() {
  check_mode_of "$RUN/labs" "$RUN/broker"
}

# matrix CORE STEP...: tools/matrix.sh (its own venv .venv-core-CORE, its own stage); SANITY_SKIP=... leaves tests out.
matrix() {
  MATRIX_SANITY_SKIP="${SANITY_SKIP:-}" bash "$ROOT/tools/matrix.sh" "$@"
}

stage_matrix_oldest() {
  local rc=0
  matrix 2.14 full || rc=1
  check_mode_of "$WORK/matrix-2.14/labs" "$WORK/matrix-2.14/broker" || rc=1
  return $rc
}

# pylint runs on the newest only (stage sanity): its findings follow the pylint version and plugins that
# ansible-test pins per core, not the collection's use of ansible-core, which every other sanity test checks
# (a cold pylint run costs about 2 CPU-minutes). 2.14's plugins also still enforce a Python 2.6 rule
# (ansible-format-automatic-specification: no '{}' fields) that 2.15 dropped and ruff's pyupgrade rewrites.
matrix_core() {
  case "$1" in
    2.21) matrix "$1" smoke ;;  # its sanity and units: the stages sanity and units-ansible-test
    *) SANITY_SKIP=pylint matrix "$1" sanity units smoke ;;
  esac
}

stage_readme() {
  local dir="$RUN/readme"
  # The script stops its broker and devices itself (also on SIGTERM); this stops the broker if it was killed.
  on_exit "python '$STAGE/tests/utils/mosquitto_broker.py' stop --dir '$dir/broker' >/dev/null 2>&1"
  python "$STAGE/tests/utils/readme_examples.py" --root "$STAGE" --collections "$COLLECTIONS" --work "$dir"
}

stage_quick_start() {
  # README.md's quick start run verbatim, as a newcomer would, from a freshly built tarball in an empty HOME.
  python "$STAGE/tests/utils/readme_examples.py" --quick-start --root "$STAGE" --work "$RUN/quick-start"
}

stage_lint() {
  # The whole collection, from its root, as a user runs it: ansible-lint installs the collection from galaxy.yml
  # itself, so no ANSIBLE_COLLECTIONS_PATH (.ansible-lint: production profile).
  (cd "$STAGE" && env -u ANSIBLE_COLLECTIONS_PATH ansible-lint)
}

stage_nox() {
  # antsibull-nox (noxfile.py, antsibull-nox.toml): lint (ruff check, ruff format --check, yamllint), docs-check,
  # license-check (reuse lint of the checkout), extra-checks (no unwanted files, action groups), build-import-check
  # (the built collection through galaxy-importer, ansible-doc of every module included). It reads the git checkout.
  local python
  python=$(find_python 3.12 || find_python 3.13 || find_python 3.14) || return 1
  make_venv "$ROOT/.venv-nox" "$python" "$ROOT/tools/requirements-nox.txt" || return 1
  # The sessions' venvs are made by uv (tools/requirements-nox.txt): a fraction of pip's CPU time. uv compiles no
  # bytecode unless told to, and where PYTHONDONTWRITEBYTECODE is set every run of a tool would compile it again.
  (cd "$ROOT" && UV_COMPILE_BYTECODE=1 "$ROOT/.venv-nox/bin/nox" --no-color -r --default-venv-backend uv --envdir "$WORK/nox" \
    -e lint docs-check license-check extra-checks build-import-check)
}

stage_changelog() {
  (cd "$STAGE" && antsibull-changelog lint)
}

# collection_tarball: the collection built from the stage into $RUN/dist (once per run); prints its path.
collection_tarball() {
  local built
  built=("$RUN"/dist/picluster-clusterctrl-*.tar.gz)
  if [ ! -f "${built[0]}" ]; then
    (cd "$STAGE" && ansible-galaxy collection build --output-path "$RUN/dist" >/dev/null) || return 1
    built=("$RUN"/dist/picluster-clusterctrl-*.tar.gz)
  fi
  echo "${built[0]}"
}

stage_reuse() {
  # The checkout is linted by the nox stage (license-check); this is what users get: the tarball carries
  # LICENSES/ and REUSE.toml, and every file in it has copyright and licence information.
  local tarball contents="$RUN/reuse-tarball"
  tarball=$(collection_tarball) || return 1
  rm -rf "$contents" && mkdir -p "$contents" && tar -xzf "$tarball" -C "$contents"
  reuse --root "$contents" lint --lines || return 1
  echo "reuse lint: every file of $(basename "$tarball") has copyright and licence information"
}

stage_ee() {
  local tarball installed="$RUN/ee-collections"
  # Introspect what an execution-environment build gets: the collection installed from the tarball (build_ignore applied).
  tarball=$(collection_tarball) || return 1
  rm -rf "$installed"
  ansible-galaxy collection install --offline --force -p "$installed" "$tarball" > "$RUN/ee-install.txt" 2>&1 || { cat "$RUN/ee-install.txt"; return 1; }
  ansible-builder introspect -v3 "$installed" > "$RUN/introspect.txt" 2>&1 || { cat "$RUN/introspect.txt"; return 1; }
  cat "$RUN/introspect.txt"
  python - "$RUN/introspect.txt" <<'PY'
import re, sys, yaml
text = open(sys.argv[1]).read()
log, _sep, document = text.partition('\n---\n')
data = yaml.safe_load(document) or {}
ours = '# from collection picluster.clusterctrl'
python = [line for line in data.get('python') or [] if line.endswith(ours)]
system = [line for line in data.get('system') or [] if line.endswith(ours)]
names = {re.split(r'[\s<>=!~;\[]', line, 1)[0].lower() for line in python}
# ansible-builder drops PyYAML from the Python list on purpose (ansible-core needs it, every EE has it) and logs that at -v3.
if "Excluding requirement 'PyYAML' from 'picluster.clusterctrl'" in log:
    names.add('pyyaml')
missing = [name for name in ('smbus2', 'paho-mqtt', 'pyyaml') if name not in names]
if missing:
    sys.exit('ansible-builder introspect does not name: %s' % ', '.join(missing))
if not any(line.startswith('python3-yaml ') for line in system):
    sys.exit('bindep.txt: python3-yaml missing from what ansible-builder reads')
print('ansible-builder introspect names smbus2, paho-mqtt and PyYAML (%d Python and %d system requirements)' % (len(python), len(system)))
PY
}

stage_docs() {
  # The docs site (docs/docsite and every plugin's and role's documentation) built by antsibull-docs and Sphinx,
  # warnings as errors; then the clusterctrl_power page opened in headless Chromium: its options table renders.
  bash "$STAGE/tests/utils/build_docs.sh" "$WORK/docs" "$STAGE" || return 1
  python "$STAGE/tests/utils/check_docs_browser.py" "$WORK/docs/site/build/html"
}

stage_python() {
  local py39 py313
  if ! py39=$(find_python 3.9) || ! py313=$(find_python 3.13); then
    echo "the python stage needs Python 3.9 and 3.13"
    return 1
  fi
  rm -rf "$RUN/python"
  python "$STAGE/tests/utils/check_python_packages.py" "$STAGE" "$RUN/python" "$py39" "$py313"
}

# children_cpu: sets CHILDREN_CPU to the CPU seconds (user + system) of this shell's finished child processes.
children_cpu() {
  local file="$RUN/.times.$BASHPID"
  times > "$file"  # the builtin, in this shell (not a subshell): its second line is the children's user and system time
  CHILDREN_CPU=$(awk 'NR == 2 { total = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); total += t[1] * 60 + t[2] } printf "%d", total }' "$file")
  rm -f "$file"
}

# run_stage NAME: one stage, its result (wall time and the CPU time of its processes) appended to $RUN/results.
run_stage() {
  local name=$1 started=$SECONDS cpu result=passed
  log "stage $name"
  children_cpu
  cpu=$CHILDREN_CPU
  case "$name" in
    matrix-2.[0-9]*) matrix_core "${name#matrix-}" ;;  # matrix-2.14 ... matrix-2.21
    *) "stage_${name//-/_}" ;;
  esac || result=FAILED
  children_cpu
  echo "$result: $name ($((SECONDS - started)) s, $((CHILDREN_CPU - cpu)) CPU-s)" >> "$RUN/results"
}

# Chains of stages (a chain's stages run one after the other), longest first. WORKERS processes take the next
# chain as soon as they are free, so that the machine stays busy to the end. Stages that mostly wait (the two
# integration runs wait on the emulated boards' timing and on MQTT round trips) run beside CPU-bound ones.
# Two cores on one Python share ansible-test's venvs where their requirements are the same (2.14 and 2.15;
# 2.16 and 2.17; 2.18 and 2.19; 2.20 and 2.21), and ansible-test does not lock a venv it creates: such cores
# are in one chain.
CHAINS=(
  "matrix-oldest"
  "integration check-mode"
  "sanity matrix-2.20"
  "matrix-2.16 matrix-2.17"
  "matrix-2.18 matrix-2.19"
  "matrix-2.14 matrix-2.15"
  "units-ansible-test"
  "nox"
  "docs"
  "lint"
  "python"
  "readme"
  "quick-start"
  "units-py39"
  "units-playbooks"
  "matrix-2.21"
  "ee reuse changelog"
)
WORKERS=3

# take_chain: the stages of the next chain nobody has taken yet (nothing, and status 1, when none is left).
take_chain() {
  local lock next
  exec {lock}> "$RUN/queue.lock"
  flock "$lock"
  next=$(cat "$RUN/queue.next")
  echo $((next + 1)) > "$RUN/queue.next"
  exec {lock}>&-
  [ "$next" -lt ${#CHAINS[@]} ] && echo "${CHAINS[next]}"
}

# show_ended_stages: the output of each stage that ended since the last call, whole, in the order they ended.
SHOWN=0
show_ended_stages() {
  local results name
  mapfile -t results < "$RUN/results"
  for ((; SHOWN < ${#results[@]}; SHOWN++)); do
    name=$(sed -E 's/^[A-Za-z]+: ([^ ]+) .*/\1/' <<< "${results[SHOWN]}")
    if [ -f "$RUN/stages/$name.log" ]; then
      log "$name ended: ${results[SHOWN]}"
      cat "$RUN/stages/$name.log"
    fi
  done
}

# run_workers: WORKERS processes take chains until none is left; each stage's output goes to $RUN/stages/NAME.log
# and is shown when the stage ends.
run_workers() {
  local i pids=() pid alive
  mkdir -p "$RUN/workers" "$RUN/stages"
  echo 0 > "$RUN/queue.next"
  # Built once before the stages: readme, reuse and ee all use it.
  collection_tarball >/dev/null || echo "FAILED: build (0 s)" >> "$RUN/results"
  for ((i = 0; i < WORKERS; i++)); do
    (
      # The worker's own exit hooks (a broker it started), not the parent's (the stage it shares).
      # shellcheck disable=SC2034  # EXIT_HOOKS is read by run_exit_hooks
      EXIT_HOOKS=()
      trap run_exit_hooks EXIT
      local chain name
      while chain=$(take_chain); do
        for name in $chain; do run_stage "$name" > "$RUN/stages/$name.log" 2>&1; done
      done
    ) > "$RUN/workers/$i.log" 2>&1 &
    pids+=($!)
    on_exit "kill ${pids[i]} 2>/dev/null || true"
  done
  echo "$WORKERS workers (pids ${pids[*]}) take ${#CHAINS[@]} chains of stages, longest first"
  while :; do
    show_ended_stages
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    sleep 2
  done
  wait "${pids[@]}"
  show_ended_stages
  # Anything a worker printed outside its stages (nothing, normally).
  cat "$RUN"/workers/*.log
}

started=$SECONDS
: > "$RUN/results"
if [ $# -gt 0 ]; then
  for name in "$@"; do run_stage "$name"; done
else
  run_workers
fi

children_cpu
log "summary ($((SECONDS - started)) s, $CHILDREN_CPU CPU-s)"
sed 's/^/  /' "$RUN/results"
passes=$(grep -c '^passed' "$RUN/results")
failures=$(grep -c '^FAILED' "$RUN/results")
echo "stages: $passes passed, $failures failed"
[ "$failures" -eq 0 ] && [ "$passes" -gt 0 ]
