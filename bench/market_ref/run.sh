#!/usr/bin/env bash
# bench/market_ref/run.sh — loom against PyTorch 1.13 on the reference model
# (../shared/bench/ref_model.py), side by side, in one invocation.
#
#   bench/market_ref/run.sh [--quick] [--epochs N] [--rows N] [--stock]
#                           [--seconds S] [--build DIR]
#
# In order, alternating loom and PyTorch (README.md beside this file says
# what each figure is):
#   1. the machine's limits: oneDNN's convolutions and sgemm at the model's
#      shapes (build/bench/loom-micro --limits);
#   2. training: ref_model.py --tuned --only train, loom
#      (loom-market-ref-train: 1 warm-up epoch, then N timed, default 3, and
#      the time split per branch), ref_model.py again, loom again with
#      training.precision: bf16 (--bf16), ref_model.py a third time, each
#      under /usr/bin/time -v (peak RSS): each loom run is compared with the
#      mean of the PyTorch runs just before and after it;
#   3. inference: loom (loom-market-ref-infer, the public C API), then
#      ref_model.py --tuned --only infer,split;
#   4. with --stock, ref_model.py untuned (train, infer) as well;
#   5. the server: `loom serve` on loopback at 1 and 2 threads under wrk,
#      one row with 4 base64 photos per request, S seconds each (default 20);
#   6. the table (report.py): loom, PyTorch and loom/PyTorch for every figure,
#      loom's GFLOP/s per branch against the limits.
# --rows N: training rows of both sides (default 1024, ref_model.py's).
# --quick: a smoke run (< 2 min on an idle machine): loom trains 4 batches
#   an epoch, ref_model.py --quick, short latency and server runs.
# Outputs under bench/out/market_ref/ (ignored by git); the data is made
# once per --rows. Needs python3-torch and python3-numpy (ref_model.py),
# wrk and time (the Debian packages); they are not loom's dependencies.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=build quick=0 epochs=3 rows=1024 stock=0 seconds=20 threads=2
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --epochs) epochs=$2; shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        --stock) stock=1; shift ;;
        --seconds) seconds=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
fail() { echo "run.sh: $*" >&2; exit 2; }
py=/usr/bin/python3
ref=$(cd "$here/.." && pwd)/shared/bench/ref_model.py
[ -f "$ref" ] || fail "no $ref (the PyTorch reference model)"
[ -x $py ] && $py -c 'import torch, numpy' 2>/dev/null ||
    fail "PyTorch is missing for $py: apt-get install python3-torch python3-numpy"
command -v wrk >/dev/null || fail "wrk is missing: apt-get install wrk"
[ -x /usr/bin/time ] || fail "/usr/bin/time is missing: apt-get install time"
[ -f /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] ||
    echo "run.sh: note: no libjemalloc2: ref_model.py --tuned runs without jemalloc (apt-get install libjemalloc2)" >&2
case "$build" in /*) ;; *) build="$here/$build" ;; esac
bin="$build/bench"
for b in loom-micro loom-market-ref-gen loom-market-ref-train loom-market-ref-infer; do
    [ -x "$bin/$b" ] || fail "no $bin/$b (ninja -C $build)"
done
loom="$build/cli/loom"
[ -x "$loom" ] || fail "no $loom (ninja -C $build)"

out="$here/bench/out/market_ref"
data="$out/data"
mkdir -p "$out"
echo "run.sh: $(date -u +%FT%TZ) on $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# The data, once per row count (ref.yaml reads bench/out/market_ref/data).
if [ "$(cat "$data/.rows" 2>/dev/null)" != "$rows" ]; then
    rm -rf "$data"
    "$bin/loom-market-ref-gen" --out "$data" --rows "$rows" --valid 256
    echo "$rows" > "$data/.rows"
fi

if [ $quick = 1 ]; then
    lt=(--epochs 1 --warmup 1 --batches 4 --split-batches 1)
    li=(--epochs 1 --lat-iters 40) reps=3 seconds=5
    rt=(--quick) ri=(--quick)
    infer_csv="$data/valid.csv"
else
    lt=(--epochs "$epochs" --warmup 1 --split-batches 4)
    li=(--epochs 2 --lat-iters 300) reps=10
    rt=(--epochs "$epochs" --rows "$rows") ri=(--rows "$rows")
    infer_csv="$data/train.csv"
fi
pytorch() { # name args...: ref_model.py under /usr/bin/time -v
    local name=$1; shift
    echo "run.sh: PyTorch: ref_model.py --threads $threads $*"
    /usr/bin/time -v -o "$out/$name.time" $py "$ref" --threads $threads \
        --json "$out/$name.json" "$@" > "$out/$name.log" 2>&1 ||
        { cat "$out/$name.log"; fail "ref_model.py failed"; }
    grep -E '^(TRAIN|INFER)' "$out/$name.log" || true
}
loom_run() { # name command...: under /usr/bin/time -v
    local name=$1; shift
    /usr/bin/time -v -o "$out/$name.time" "$@" 2> >(tee "$out/$name.log" >&2) ||
        fail "$name failed"
}

# 1. limits, with as many photos as a batch of loom's split holds on average
echo "run.sh: machine limits"
"$bin/loom-micro" --limits --threads $threads --reps $reps --images 256 --json "$out/limits.json"

# 2. training, alternating: PyTorch before and after each of loom's runs
# (the ratios divide by the mean of a run's two neighbours: a shared
# machine's speed drifts by tens of percent within minutes)
pytorch torch-train-0 --tuned --only train "${rt[@]}"
echo "run.sh: loom: training"
loom_run loom-train "$bin/loom-market-ref-train" "$here/bench/market_ref/ref.yaml" \
    --threads $threads "${lt[@]}" --save "$out/model.loom" --json "$out/loom-train.json"
pytorch torch-train --tuned --only train "${rt[@]}"
rm -f "$out/loom-train-bf16.json" "$out/torch-train-2.json"
echo "run.sh: loom: training in bf16 (training.precision: bf16)"
loom_run loom-train-bf16 "$bin/loom-market-ref-train" "$here/bench/market_ref/ref.yaml" \
    --threads $threads "${lt[@]}" --split-batches 1 --bf16 --json "$out/loom-train-bf16.json"
pytorch torch-train-2 --tuned --only train "${rt[@]}"

# 3. inference, alternating
echo "run.sh: loom: inference"
loom_run loom-infer "$bin/loom-market-ref-infer" "$out/model.loom" --data "$infer_csv" \
    --images "$data/photos" --threads $threads "${li[@]}" --json "$out/loom-infer.json"
pytorch torch-infer --tuned --only infer,split "${ri[@]}"

# 4. PyTorch out of the box
rm -f "$out/torch-stock.json"
[ $stock = 1 ] && pytorch torch-stock --only train,infer "${rt[@]}"

# 5. the server: one row with 4 photos per request
serve() { # server threads
    local th=$1 pid url
    "$loom" serve "$out/model.loom" --port 0 --threads "$th" --quiet > "$out/serve-$th.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "http://" "$out/serve-$th.out" 2>/dev/null && break; sleep 0.1; done
    url=$(grep -o 'http://[^ ]*' "$out/serve-$th.out") || { kill $pid; fail "loom serve did not start"; }
    $py - "$url" "$data/valid.csv" "$data/photos" "$out/post4.lua" <<'EOF'
import base64, csv, json, sys, urllib.request
url, path, photos, out = sys.argv[1:5]
schema = json.load(urllib.request.urlopen(url + "/schema"))
inputs = {i["name"]: i for i in schema["inputs"]}
def value(col, v):
    if col["type"] == "number":
        return float(v)
    if col["type"] == "images":
        return [base64.b64encode(open(photos + "/" + p, "rb").read()).decode()
                for p in v.split(col.get("separator", ";")) if p]
    return v
rows = [r for r in csv.DictReader(open(path, newline="")) if len(r["photos"].split(";")) == 4]
bodies = [json.dumps({"rows": [{k: value(inputs[k], v) for k, v in r.items() if k in inputs}]})
          for r in rows[:16]]
with open(out, "w") as f:
    f.write("-- written by bench/market_ref/run.sh: one row with 4 photos per request\n")
    f.write("bodies = {%s}\n" % ",\n".join("[==[" + b + "]==]" for b in bodies))
    f.write("""
n, bad = 0, 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  n = n + 1
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"},
                    bodies[n % #bodies + 1])
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, th in ipairs(threads) do b = b + th:get("bad") end
  local e = summary.errors
  io.write(string.format("LOOM requests %d non200 %d socket_errors %d rps %.2f p50_ms %.3f p99_ms %.3f\\n",
    summary.requests, b, e.connect + e.read + e.write + e.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
""")
EOF
    # warm-up, then the measured run: one wrk thread, 2 connections per
    # server thread (each server thread busy, little queueing)
    wrk -t1 -c$((2 * th)) -d2s -s "$out/post4.lua" "$url" > /dev/null 2>&1 || true
    wrk -t1 -c$((2 * th)) -d"${seconds}s" --timeout 10s -s "$out/post4.lua" "$url" \
        > "$out/wrk-$th.txt" 2>&1 || true
    kill -TERM $pid; wait $pid || true
    grep '^LOOM' "$out/wrk-$th.txt" > /dev/null || { cat "$out/wrk-$th.txt"; fail "wrk failed"; }
    echo "run.sh: loom serve --threads $th: $(grep '^LOOM' "$out/wrk-$th.txt")"
}
echo "run.sh: loom serve under wrk, ${seconds} s per run"
serve 1
serve 2

# 6. the table
$py "$here/bench/market_ref/report.py" "$out"
