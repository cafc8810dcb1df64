#!/bin/sh
# compare.sh — loom against its PyTorch twin on the marketplace demo data:
# the reference architecture (bench/torch_twin/ref.yaml) trained by loom and
# by bench/torch_twin/train.py on the same preprocessed arrays, per seed,
# then a table of the validation RMSEs.
#
#   bench/torch_twin/compare.sh [--epochs E] [--seeds "1 2 3"] [--threads N] [--build DIR]
#
# E = 0 (the default) trains the schema's 8 epochs; a smaller E shortens
# BOTH sides equally (the one-cycle schedule is then over E epochs on both).
# loom's side is `loom train` (the CLI; its metrics.jsonl gives the epoch
# lines), or torch-twin-loom-train (the same trainer calls) in a tree
# without it. Logs, run directories and the exported arrays go to
# bench/out/torch_twin/. Run from anywhere; needs a build (ninja -C build)
# and Debian's /usr/bin/python3 with python3-torch and python3-numpy.
set -eu
cd "$(dirname "$0")/../.."
EPOCHS=0
SEEDS="1 2 3"
THREADS=2
BUILD=build
while [ $# -gt 0 ]; do
    case "$1" in
    --epochs) EPOCHS=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    *) echo "usage: $0 [--epochs E] [--seeds \"1 2 3\"] [--threads N] [--build DIR]" >&2; exit 2 ;;
    esac
done
SCHEMA=bench/torch_twin/ref.yaml
OUT=bench/out/torch_twin
PY=/usr/bin/python3
LOOM=$BUILD/cli/loom
mkdir -p "$OUT"
if "$LOOM" train --help >/dev/null 2>&1; then CLI=1; else CLI=0; fi

# loom train's metrics.jsonl -> the epoch lines and the JSON line train.py prints
jsonl_to_lines() {
    "$PY" -c '
import json, math, sys
path, seed = sys.argv[1], int(sys.argv[2])
secs, o = 0.0, None
for line in open(path):
    e = json.loads(line)
    secs += e["seconds"]
    v, p = e["valid"], e["valid"]["outputs"]["price"]
    o = {"side": "loom", "seed": seed, "epochs": e["epoch"], "seconds": round(secs, 1),
         "train_loss": e["train"]["loss"], "valid_rmse_norm": math.sqrt(v["loss"]),
         "valid_rmse_log": p["rmsle"], "valid_rmse": p["rmse"]}
    print("epoch {} train_loss {:.5f} valid_rmse_norm {:.5f} valid_rmse_log {:.5f} "
          "valid_rmse {:.3f} ({:.0f} s)".format(e["epoch"], o["train_loss"], o["valid_rmse_norm"],
                                               o["valid_rmse_log"], o["valid_rmse"], secs))
print(json.dumps(o))
' "$1" "$2"
}

if [ ! -f examples/marketplace/data/train.csv ]; then
    echo "generating the marketplace data"
    nice "$BUILD/examples/marketplace/loom-market-gen" --out examples/marketplace/data --quiet
fi

echo "exporting loom's preprocessed arrays to $OUT/arrays"
nice "$BUILD/bench/torch-twin-export" "$SCHEMA" "$OUT/arrays" --threads "$THREADS"

for s in $SEEDS; do
    if [ $CLI = 1 ]; then
        echo "seed $s: loom train"
        run=$OUT/loom-run.$s
        ep=""
        [ "$EPOCHS" -gt 0 ] && ep="--epochs $EPOCHS"
        # shellcheck disable=SC2086
        nice "$LOOM" train "$SCHEMA" --seed "$s" --threads "$THREADS" $ep --run-dir "$run" \
            --out "$run/model.loom" >"$OUT/loom.$s.cli" 2>"$OUT/loom.$s.err"
        jsonl_to_lines "$run/metrics.jsonl" "$s" >"$OUT/loom.$s.log"
    else
        echo "seed $s: loom (torch-twin-loom-train)"
        nice "$BUILD/bench/torch-twin-loom-train" "$SCHEMA" --seed "$s" --threads "$THREADS" \
            --epochs "$EPOCHS" >"$OUT/loom.$s.log" 2>"$OUT/loom.$s.err"
    fi
    grep '^epoch' "$OUT/loom.$s.log" | sed 's/^/  /'
    echo "seed $s: torch"
    nice "$PY" bench/torch_twin/train.py --data "$OUT/arrays" --seed "$s" --threads "$THREADS" \
        --epochs "$EPOCHS" >"$OUT/torch.$s.log" 2>"$OUT/torch.$s.err"
    grep '^epoch' "$OUT/torch.$s.log" | sed 's/^/  /'
done

"$PY" - "$OUT" $SEEDS <<'EOF'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
def last(path):
    return json.loads(open(path).read().strip().splitlines()[-1])
rows = [(s, last(f"{out}/loom.{s}.log"), last(f"{out}/torch.{s}.log")) for s in seeds]
print(f"\nvalidation after {rows[0][1]['epochs']} epochs (rmse_log: RMSE of log1p(price), "
      f"loom's rmsle; norm: sqrt of the MSE loss in the normalised space; $: RMSE of the price)")
print(f"{'seed':>4}  {'loom rmse_log':>13}  {'torch rmse_log':>14}  {'ratio':>6}  "
      f"{'loom norm':>9}  {'torch norm':>10}  {'loom $':>7}  {'torch $':>7}  {'loom s':>6}  {'torch s':>7}")
for s, lo, to in rows:
    print(f"{s:>4}  {lo['valid_rmse_log']:13.4f}  {to['valid_rmse_log']:14.4f}  "
          f"{lo['valid_rmse_log'] / to['valid_rmse_log']:6.3f}  {lo['valid_rmse_norm']:9.4f}  "
          f"{to['valid_rmse_norm']:10.4f}  {lo['valid_rmse']:7.1f}  {to['valid_rmse']:7.1f}  "
          f"{lo['seconds']:6.0f}  {to['seconds']:7.0f}")
def ms(xs):
    return statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0
L = [lo["valid_rmse_log"] for _, lo, _ in rows]
T = [to["valid_rmse_log"] for _, _, to in rows]
R = [a / b for a, b in zip(L, T)]
(lm, ls), (tm, ts), (rm, rs) = ms(L), ms(T), ms(R)
print(f"mean  {lm:13.4f}  {tm:14.4f}  {rm:6.3f}   (each ± sample std over seeds: "
      f"{ls:.4f}, {ts:.4f}, {rs:.3f})")
print(f"range {min(L):.4f}..{max(L):.4f} (loom), {min(T):.4f}..{max(T):.4f} (torch)")
print(f"loom's mean validation RMSE of log price is {100 * (lm / tm - 1):+.1f}% of PyTorch's")
EOF
