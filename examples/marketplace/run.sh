#!/usr/bin/env bash
# The marketplace demo (the README's main job): generate the listings if
# they are absent, train the fused model and one model per branch (an
# ablation), print their validation metrics side by side, then predict the
# held-out test listings and show a few next to their true prices.
#
#   examples/marketplace/run.sh [--seed S] [--epochs N]
# Expects a built tree (scripts/demo builds it first).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
loom=$root/build/cli/loom
gen=$root/build/examples/marketplace/loom-market-gen
schema=$here/demo.yaml
data=$here/data
out=$root/build/marketplace
seed=42
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --seed) seed=$2; shift 2 ;;
        --epochs) extra+=(--epochs "$2"); shift 2 ;;
        *) echo "usage: $0 [--seed S] [--epochs N]" >&2; exit 2 ;;
    esac
done

if [ ! -f "$data/train.csv" ]; then
    echo "== generating the marketplace data set (examples/marketplace/README.md)"
    "$gen" --out "$data" --quiet
fi
mkdir -p "$out"
start=$(date +%s)
for model in fused tabular text photos; do
    args=(--seed "$seed" --run-dir "$out/$model" --out "$out/$model.loom" "${extra[@]}")
    [ "$model" = fused ] || args+=(--branches "$model")
    echo "== training the $model model"
    "$loom" train "$schema" "${args[@]}" --quiet
    "$loom" eval "$out/$model.loom" --json > "$out/$model.json"
done
"$loom" predict "$out/fused.loom" --data "$data/test.csv" --out "$out/test-predictions.csv" --quiet

python3 - "$out" "$data" "$(( $(date +%s) - start ))" <<'PY'
import csv, json, sys
out, data, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("\nvalidation (900 listings), price in dollars:")
print(f"  {'model':<22}{'RMSE':>9}{'MAE':>9}{'RMSLE':>8}{'R²':>7}")
names = {"fused": "fused (all branches)", "tabular": "columns only",
         "text": "text only", "photos": "photos only"}
for m in ("fused", "tabular", "text", "photos"):
    p = json.load(open(f"{out}/{m}.json"))["outputs"]["price"]
    print(f"  {names[m]:<22}{p['rmse']:9.1f}{p['mae']:9.1f}{p['rmsle']:8.3f}{p['r2']:7.3f}")
truth = {r["id"]: r for r in csv.DictReader(open(f"{data}/test.csv", encoding="utf-8"))}
rows = list(csv.DictReader(open(f"{out}/test-predictions.csv", encoding="utf-8")))
print("\na few test listings (fused model):")
print(f"  {'id':<8}{'category':<14}{'brand':<14}{'photos':>6}  {'title':<34}{'predicted':>10}{'true':>9}")
for r in rows[:8]:
    t = truth[r["id"]]
    n = len([p for p in t["photos"].split(";") if p])
    print(f"  {r['id']:<8}{t['category'][:13]:<14}{t['brand'][:13]:<14}{n:>6}  "
          f"{t['title'][:33]:<34}{float(r['price']):10.2f}{float(t['price']):9.2f}")
print(f"\nfour models trained in {secs // 60} min {secs % 60} s; models and predictions in {out}/")
PY
