#!/usr/bin/env bash
# CPU microseconds per request of the node and of the client, by thread name, during a
# fixed-rate `bench run` (a 6 s window in the middle of a 12 s run). CPU time per request
# moves far less with other load on the machine than latency does, so it is the figure to
# compare builds by on a noisy VM. (`bench run` itself reports the per-process totals over
# its measured window, in its `cpu` line; this script adds the split by thread.)
#
# usage: bench/scripts/cpu_per_request.sh RATE [path/to/bench [more `bench run` options]]
#   (the bench binary starts the `exchange` binary next to it, as `bench run` always does)
# With MODE=limit the same open-loop load goes to the bench's echo server (`bench limit
# --rate RATE`) and the "server" rows are the echo server's: what transport and client cost
# with no exchange behind them.
set -euo pipefail
RATE=${1:-20000}
B=${2:-target/release/bench}
MODE=${MODE:-run}
case $MODE in
  run) SERVER=node ;;
  limit) SERVER=server ;;
  *) echo "MODE is run or limit, not $MODE" >&2; exit 2 ;;
esac
out=$(mktemp)
trap 'rm -f "$out" /tmp/cpr.$$.*' EXIT
"$B" "$MODE" --rate "$RATE" --duration 12 --warmup 2 --quiet "${@:3}" >"$out" 2>&1 &
BP=$!
sleep 5
if [ "$MODE" = run ]; then
  EP=$(pgrep -n -P "$BP" -x exchange || pgrep -n -x exchange)
else
  EP=$(pgrep -n -P "$BP" -x bench)
fi
snap() {
  for p in "$EP" "$BP"; do
    for t in /proc/"$p"/task/*; do
      echo "$p $(tr ' ' _ <"$t"/comm) $(awk '{print $14+$15}' "$t"/stat)"
    done
  done
}
snap >/tmp/cpr.$$.0; t0=$(date +%s.%N)
sleep 6
snap >/tmp/cpr.$$.1; t1=$(date +%s.%N)
wait "$BP" || true
python3 - "$RATE" "$t0" "$t1" "$EP" "$(getconf CLK_TCK)" /tmp/cpr.$$.0 /tmp/cpr.$$.1 "$SERVER" <<'PY'
import sys, collections
rate, t0, t1 = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
node_pid, tick, server = sys.argv[4], float(sys.argv[5]), sys.argv[8]
requests = rate * (t1 - t0)
def load(path):
    d = collections.Counter()
    for line in open(path):
        pid, comm, ticks = line.split()
        d[(server if pid == node_pid else "client", comm)] += int(ticks)
    return d
a, b = load(sys.argv[6]), load(sys.argv[7])
total = collections.Counter()
for key in sorted(b):
    us = 1e6 * (b[key] - a.get(key, 0)) / tick / requests
    total[key[0]] += us
    if us >= 0.1:
        print(f"{key[0]:6} {key[1]:18} {us:6.1f} us/request")
for who in (server, "client"):
    print(f"{who:6} {'total':18} {total[who]:6.1f} us/request ({total[who] * rate / 1e6:.2f} cores at {rate:.0f}/s)")
PY
grep -E "achieved|ack from" "$out"
