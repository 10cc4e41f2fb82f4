#!/bin/bash
# Issue 14's measurement: the whole hostile set graded in both modes inside a 3 GB memory cgroup, as on a small machine.
# Needs root and a cgroup v1 memory hierarchy (this repository's machines); prints pytest's summary, then the cgroup's peak
# memory and how often it hit its limit (failcnt). Usage: bash scripts/hostile_small_machine.sh [GB]
set -e
gb=${1:-3}
own=$(grep ':memory:' /proc/self/cgroup | cut -d: -f3)
cg=/sys/fs/cgroup/memory${own}/edu-gen-small-machine
mkdir -p "$cg"
echo $((gb * 1024 * 1024 * 1024)) > "$cg/memory.limit_in_bytes"
echo $$ > "$cg/cgroup.procs"   # this shell and everything it starts from here on
echo "in $cg: limit $(cat "$cg/memory.limit_in_bytes")"
cd "$(dirname "$0")/.."
export EDU_GEN_HOSTILE_FULL=1
pytest -n 0 -q tests/test_grading_sandbox.py 2>&1 | tail -15
echo "max usage MB: $(( $(cat "$cg/memory.max_usage_in_bytes") / 1048576 )); failcnt $(cat "$cg/memory.failcnt")"
