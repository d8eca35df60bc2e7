#!/usr/bin/env bash
# Smoke test of haremq-perf against the built broker (no timing asserted): a 2-second run
# with auto-ack and one with confirms and manual acks must move messages and write their
# figures; a broker that is not there must be a clear error and a non-zero exit.
#   perf_smoke.sh HAREMQ HAREMQ_PERF
set -euo pipefail
haremq=$1
perf=$2
dir=$(mktemp -d)
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
"$haremq" --bind 127.0.0.1 --port "$port" --data-dir "$dir" --log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
uri="amqp://guest:guest@127.0.0.1:$port/%2F"

check() {  # the JSON report of a run: messages went through, and every figure is there
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = j['results']
assert j['tool'] == 'haremq-perf' and j['machine']['cores'] > 0, j
assert r['sent'] > 0 and r['received'] > 0 and r['received'] <= r['sent'], r
assert r['latency']['count'] == r['received'] and r['latency']['p50_us'] <= r['latency']['p99_us'], r['latency']
assert r['broker_cpu_us_per_sent'] > 0, r
print('%s: %d sent, %d received' % (sys.argv[1], r['sent'], r['received']))
PY
}

"$perf" --uri "$uri" -x 1 -y 1 -s 16 -a -z 2 --broker-pid "$pid" --json "$dir/autoack.json" > "$dir/autoack.out"
check "$dir/autoack.json"
"$perf" --uri "$uri" -x 1 -y 1 -s 100 -c 100 -q 50 -A 10 -z 2 --broker-pid "$pid" --json "$dir/confirms.json" > "$dir/confirms.out"
check "$dir/confirms.json"
/usr/bin/python3 -c "import json, sys; r = json.load(open(sys.argv[1]))['results']; assert r['confirmed'] > 0, r" "$dir/confirms.json"

closed=$(free_port)
if "$perf" --uri "amqp://guest:guest@127.0.0.1:$closed/%2F" -z 1 > "$dir/refused.out" 2>&1; then
  echo "haremq-perf succeeded against a closed port" >&2
  exit 1
fi
grep -qi "refused\|connect" "$dir/refused.out" || { cat "$dir/refused.out" >&2; exit 1; }
echo "perf smoke: ok"
