#!/usr/bin/env bash
# Load and abuse test of `loom serve` with wrk on loopback (issue 7, point 9).
#
#   bench/serve_load.sh [--build DIR] [--seconds N] [--server-threads N]
#                       [--rows-per-request N] [--model MODEL --csv CSV --photos DIR]
#
# Without --model: the marketplace demo (examples/marketplace) at the
# reference architecture, 600 generated listings, trained one epoch (the
# figures are about serving, not accuracy) into BUILD/serve-load/.
# --model scores CSV's rows (photo paths relative to --photos) instead.
#
# Then: `loom serve` with --threads N (default 2) and --max-rows 64; request
# bodies from the CSV's first 32 rows (photos as base64), N rows each
# (default 1); a 10 s warm-up; wrk -t2 -c64 -d<seconds>s (default 60) with
# valid requests; the same with every 10th request malformed (10 kinds,
# each must get its 4xx). Prints rows/s, p50/p99, socket errors, status
# counts and the server's RSS after the warm-up and after each run. Exits 1
# when a socket error, a non-2xx answer to a valid request, a 5xx, a 4xx
# that does not match a malformed request, or RSS growth past 10% is seen.
# Needs wrk (apt-get install wrk) and python3. Runs under nice.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=build seconds=60 sthreads=2 per=1 model="" csv="" photos=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --server-threads) sthreads=$2; shift 2 ;;
        --rows-per-request) per=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --csv) csv=$2; shift 2 ;;
        --photos) photos=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "serve_load: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "serve_load: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
case "$build" in /*) ;; *) build="$here/$build" ;; esac
loom="$build/cli/loom"
[ -x "$loom" ] || { echo "serve_load: no $loom (ninja -C $build)" >&2; exit 2; }
work="$build/serve-load"
mkdir -p "$work"

if [ -z "$model" ]; then
    if [ ! -f "$work/model.loom" ]; then
        echo "serve_load: generating and training the marketplace model (once)"
        nice "$build/examples/marketplace/loom-market-gen" --rows 600 --out "$work/data" --quiet
        sed -e 's/epochs: 8/epochs: 1/' "$here/examples/marketplace/market.yaml" > "$work/market.yaml"
        nice "$loom" train "$work/market.yaml" --out "$work/model.loom" --run-dir "$work/run" \
            --threads 2 --quiet
    fi
    model="$work/model.loom" csv="$work/data/test.csv" photos="$work/data/photos"
fi

"$loom" serve "$model" --port 0 --threads "$sthreads" --max-rows 64 --quiet > "$work/server.out" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "http://" "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/server.out")
renice -n 10 -p "$pid" >/dev/null || true
echo "serve_load: $(cat "$work/server.out")"

# The wrk script: bodies made from the CSV with the server's /schema.
python3 - "$url" "$csv" "$photos" "$per" "$work/load.lua" <<'EOF'
import base64, csv, json, sys, urllib.request
url, path, photos, per, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
schema = json.load(urllib.request.urlopen(url + "/schema"))
inputs = {i["name"]: i for i in schema["inputs"]}
def value(col, v):
    t = col["type"]
    if v == "":
        return None
    if t == "number":
        return float(v)
    if t == "images":
        return [base64.b64encode(open(photos + "/" + p, "rb").read()).decode()
                for p in v.split(col.get("separator", ";")) if p]
    return v
rows = [{k: value(inputs[k], v) for k, v in r.items() if k in inputs}
        for _, r in zip(range(32 * per), csv.DictReader(open(path, newline="")))]
bodies = [json.dumps({"rows": rows[i:i + per]}) for i in range(0, len(rows) - per + 1, per)]
name = next(iter(inputs))
bad = [
    ("bad JSON", '{"rows": [{"%s": ' % name, "application/json", 400),
    ("unknown column", '{"rows": [{"colour": "red"}]}', "application/json", 400),
    ("wrong type", '{"rows": [{"%s": {"a": 1}}]}' % name, "application/json", 400),
    ("rows not a list", '{"rows": {}}', "application/json", 400),
    ("base64 garbage", '{"rows": [{"%s": ["%%%%"]}]}' % next(
        (k for k, v in inputs.items() if v["type"] == "images"), name), "application/json", 400),
    ("too many rows", json.dumps({"rows": [{}] * 65}), "application/json", 413),
    ("wrong content type", '{"rows": []}', "text/plain", 415),
    ("empty body", "", "application/json", 400),
    ("nesting bomb", "[" * 5000, "application/json", 400),
    ("duplicate keys", '{"rows": [], "rows": []}', "application/json", 400),
]
def lua(s):
    return "[==[" + s + "]==]"
with open(out, "w") as f:
    f.write("-- written by bench/serve_load.sh\n")
    f.write("bodies = {%s}\n" % ",\n".join(lua(b) for b in bodies))
    f.write("bad = {%s}\n" % ",\n".join("{body=%s, ctype=%s, status=%d}" % (lua(b), lua(c), s)
                                         for _, b, c, s in bad))
    f.write("""
bad_every = tonumber(os.getenv("LOOM_BAD_EVERY") or "0")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  n, sent_bad, ok, ok_wrong, bad_ok, bad_wrong, e5xx, other = 0, 0, 0, 0, 0, 0, 0, 0
  pending = {}
end
local json_headers = {["Content-Type"] = "application/json"}
function request()
  n = n + 1
  if bad_every > 0 and n % bad_every == 0 then
    sent_bad = sent_bad + 1
    local b = bad[math.floor(n / bad_every) % #bad + 1]
    return wrk.format("POST", "/predict", {["Content-Type"] = b.ctype}, b.body)
  end
  return wrk.format("POST", "/predict", json_headers, bodies[n % #bodies + 1])
end
function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    if not body:find('"rows"', 1, true) then ok_wrong = ok_wrong + 1 end
  elseif status >= 400 and status < 500 then
    bad_ok = bad_ok + 1
    if not body:find('"field"', 1, true) then bad_wrong = bad_wrong + 1 end
  elseif status >= 500 then e5xx = e5xx + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local t = {sent_bad = 0, ok = 0, ok_wrong = 0, bad_ok = 0, bad_wrong = 0, e5xx = 0, other = 0}
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
  end
  local e = summary.errors
  io.write(string.format("LOOM requests %d sent_malformed %d 2xx %d 4xx %d 5xx %d other %d " ..
    "2xx_without_rows %d 4xx_without_field %d socket_errors %d p50_ms %.2f p99_ms %.2f rps %.1f\\n",
    summary.requests, t.sent_bad, t.ok, t.bad_ok, t.e5xx, t.other, t.ok_wrong, t.bad_wrong,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6)))
end
""")
print("serve_load: %d bodies of %d rows (%d bytes on average), %d malformed kinds" %
      (len(bodies), per, sum(map(len, bodies)) // len(bodies), len(bad)))
EOF

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
run() { # name seconds bad_every
    LOOM_BAD_EVERY=$3 nice wrk -t2 -c64 -d"$2"s --timeout 10s -s "$work/load.lua" "$url" \
        > "$work/wrk-$1.txt" 2>&1 || true
    grep '^LOOM' "$work/wrk-$1.txt" || { cat "$work/wrk-$1.txt"; exit 1; }
}
field() { grep '^LOOM' "$work/wrk-$1.txt" | sed -n "s/.* $2 \([0-9.]*\).*/\1/p"; }

run warmup 10 0 >/dev/null
rss0=$(rss)
echo "serve_load: RSS after the warm-up: $((rss0 / 1024)) MiB"
status=0
for mode in valid mixed; do
    every=0; [ $mode = mixed ] && every=10
    line=$(run $mode "$seconds" $every)
    rss1=$(rss)
    req=$(field $mode requests) sent_bad=$(field $mode sent_malformed) ok=$(field $mode 2xx)
    e4=$(field $mode 4xx) e5=$(field $mode 5xx) other=$(field $mode other)
    sock=$(field $mode socket_errors) rps=$(field $mode rps)
    rows=$(awk -v r="$rps" -v p="$per" -v b="$sent_bad" -v n="$req" \
        'BEGIN { if (n < 1) n = 1; printf "%.0f", r * p * (n - b) / n }')
    echo "serve_load: $mode: $req requests in ${seconds}s, $rps req/s, $rows rows/s," \
         "p50 $(field $mode p50_ms) ms, p99 $(field $mode p99_ms) ms, socket errors $sock;" \
         "2xx $ok, 4xx $e4 (malformed sent $sent_bad), 5xx $e5, other $other;" \
         "RSS $((rss1 / 1024)) MiB ($(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%+.1f", 100 * (b - a) / a }')% since the warm-up)"
    grep -q "Socket errors" "$work/wrk-$mode.txt" && grep "Socket errors" "$work/wrk-$mode.txt"
    [ "$sock" = 0 ] || { echo "serve_load: FAIL: socket errors"; status=1; }
    [ "$e5" = 0 ] && [ "$other" = 0 ] || { echo "serve_load: FAIL: 5xx or other answers"; status=1; }
    [ "$(field $mode 2xx_without_rows)" = 0 ] && [ "$(field $mode 4xx_without_field)" = 0 ] ||
        { echo "serve_load: FAIL: an answer without its rows or field"; status=1; }
    # each malformed request gets its 4xx: at most the 64 in flight at the end are unanswered
    if [ $mode = valid ] && [ "$e4" != 0 ]; then echo "serve_load: FAIL: 4xx for valid requests"; status=1; fi
    if [ $mode = mixed ] && { [ "$e4" -gt "$sent_bad" ] || [ "$e4" -lt $((sent_bad - 64)) ]; }; then
        echo "serve_load: FAIL: $e4 4xx for $sent_bad malformed requests"; status=1
    fi
    if [ $((rss1 * 10)) -gt $((rss0 * 11)) ]; then echo "serve_load: FAIL: RSS grew past 10%"; status=1; fi
done
command -v curl >/dev/null && ! curl -sf "$url/health" >/dev/null && { echo "serve_load: FAIL: /health after the runs"; status=1; }
kill -TERM $pid
wait $pid || { echo "serve_load: FAIL: the server's exit code after SIGTERM is $?"; status=1; }
trap - EXIT
echo "serve_load: server drained and exited; $([ $status = 0 ] && echo ok || echo FAILED)"
exit $status
