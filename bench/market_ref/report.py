#!/usr/bin/python3
"""report.py OUT_DIR: the table of bench/market_ref/run.sh from the JSON and
/usr/bin/time files it wrote (standard library only; README.md beside this
file says what each figure is). Exits 1 when a file is missing."""
import json
import math
import os
import re
import sys

out = sys.argv[1]


def load(name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def maxrss_mib(name):
    """'Maximum resident set size (kbytes)' of a /usr/bin/time -v file."""
    try:
        with open(os.path.join(out, name + ".time")) as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
        return int(m.group(1)) / 1024 if m else None
    except OSError:
        return None


lt, li, lim = load("loom-train.json"), load("loom-infer.json"), load("limits.json")
tt, ti = load("torch-train.json"), load("torch-infer.json")


def torch_rows(name):
    """PyTorch's training rows/s of run `name`, None without that run."""
    try:
        return load(name + ".json")["train"]["samples_per_s_median"]
    except OSError:
        return None


def mean_of(*v):
    v = [x for x in v if x is not None]
    return sum(v) / len(v) if v else None


# PyTorch's training before loom's fp32 run, between it and the bf16 run,
# and after the bf16 run: each loom run against the mean of its neighbours
t0, t1, t2 = torch_rows("torch-train-0"), tt["train"]["samples_per_s_median"], torch_rows(
    "torch-train-2")
stock = load("torch-stock.json") if os.path.exists(os.path.join(out, "torch-stock.json")) else None
tr, inf, sp = tt["train"], ti["infer"], ti["split"]


def fmt(x, digits=1):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:,.{digits}f}"


rows = []


def row(name, loom, torch, better, digits=1, note=""):
    ratio = loom / torch if loom is not None and torch else None
    rows.append((name, fmt(loom, digits), fmt(torch, digits), fmt(ratio, 2), better, note))


def section(title):
    rows.append((title,))


print(f"\nloom vs PyTorch {ti['args'].get('threads', 2)} threads, tuned "
      f"(ref_model.py --tuned; PyTorch's training on {tr['rows_per_epoch']} rows/epoch, "
      f"loom's on {lt['train']['rows_per_epoch']}); params loom {lt['params']:,}, "
      f"PyTorch {tt['params']:,}")
if lt["params"] != tt["params"]:
    print("WARNING: the parameter counts differ (too few --rows for every word and label?)")
cpu = tt["cpu"]["train"]["cpu_per_wall"]
print(f"PyTorch's training cpu/wall {cpu:.2f} (about the thread count when the machine is ours)")

section("training (batch 64)")
lr = lt["train"]
row("rows/s, epoch end to end (median)", lr["e2e_rows_per_s_median"], mean_of(t0, t1),
    "higher", note=f"loom: loader+step; torch: collate+step, mean of the runs before and after "
    f"({fmt(t0)}, {fmt(t1)})")
row("rows/s, step only (median)", lr["step_rows_per_s_median"], None, "higher",
    note="loom without the loader")
row("step ms p50", lr["step_ms_p50"], tr["step_ms_p50"], "lower", note="torch's includes collate")
row("step ms p90", lr["step_ms_p90"], tr["step_ms_p90"], "lower")
row("loader share of the epoch, %", 100 * lr["loader_share_median"], None, "lower")
try:
    lb = load("loom-train-bf16.json")["train"]
    row("rows/s bf16, epoch end to end (median)", lb["e2e_rows_per_s_median"], mean_of(t1, t2),
        "higher", note=f"loom: training.precision bf16 (AMX); torch: mean of the runs before "
        f"and after ({fmt(t1)}, {fmt(t2)})")
except OSError:
    row("rows/s bf16", None, None, "", note="no bf16 run")
row("peak RSS, MiB", lt["maxrss_kb"] / 1024, maxrss_mib("torch-train"), "lower",
    note=f"loom: ru_maxrss after training (time -v of the whole run, split included: "
    f"{fmt(maxrss_mib('loom-train'))}); torch: time -v of --only train")

section("inference")
row("batch 64 rows/s, model only", li["b64_model_rows_per_s"], inf["b64_samples_per_s_median"],
    "higher", note="loom: loom_predict on built rows")
row("batch 64 rows/s, from encoded bytes", li["b64_e2e_rows_per_s"], None, "higher",
    note="loom: rows built + JPEG decode + predict")
b1, b4 = li["b1_random"], li["b1_4photos"]
row("batch 1 ms p50, random bag, model only", b1["model_ms_p50"], inf["b1_fwd_ms_p50"], "lower")
row("batch 1 ms p99, random bag, model only", b1["model_ms_p99"], inf["b1_fwd_ms_p99"], "lower")
row("batch 1 ms p50, random bag, end to end", b1["e2e_ms_p50"], inf["b1_e2e_ms_p50"], "lower",
    2, "loom from JPEG bytes; torch collate of tensors")
row("batch 1 ms p99, random bag, end to end", b1["e2e_ms_p99"], inf["b1_e2e_ms_p99"], "lower", 2)
row("batch 1 ms p50, 4 photos, model only", b4["model_ms_p50"],
    inf["b1_fwd_ms_p50_by_bag"].get("1-4"), "lower", 2, "torch: p50 of its 1-4 photo rows")
row("batch 1 ms p99, 4 photos, model only", b4["model_ms_p99"], None, "lower", 2)
row("batch 1 ms p50, 4 photos, from bytes", b4["e2e_ms_p50"], None, "lower", 2)
row("batch 1 ms p99, 4 photos, from bytes", b4["e2e_ms_p99"], None, "lower", 2)
b41 = li["b1_4photos_1thread"]
row("batch 1 ms p50/p99, 4 photos, 1 thread", b41["model_ms_p50"], None, "lower", 2,
    f"p99 {b41['model_ms_p99']:.2f}")
row("peak RSS of the inference process, MiB", maxrss_mib("loom-infer"), maxrss_mib("torch-infer"),
    "lower", note="torch's includes its split phase")

section("loom serve (wrk on loopback, 1 row with 4 photos per request)")
for th in (1, 2):
    try:
        with open(os.path.join(out, f"wrk-{th}.txt")) as f:
            line = next(l for l in f if l.startswith("LOOM"))
        v = dict(zip(line.split()[1::2], map(float, line.split()[2::2])))
        row(f"{th} server thread{'s' if th > 1 else ''}: rows/s", v["rps"], None, "higher")
        row(f"{th} server thread{'s' if th > 1 else ''}: ms p50 / p99", v["p50_ms"],
            None, "lower", 2, f"p99 {v['p99_ms']:.2f} ms; non-200 {int(v['non200'])}, "
            f"socket errors {int(v['socket_errors'])}")
    except (OSError, StopIteration):
        row(f"{th} server threads", None, None, "", note="no wrk result")

if stock:
    section("PyTorch out of the box (no --tuned), for reference")
    row("training rows/s", lr["e2e_rows_per_s_median"], stock["train"]["samples_per_s_median"],
        "higher")
    row("batch 64 rows/s", li["b64_model_rows_per_s"], stock["infer"]["b64_samples_per_s_median"],
        "higher")
    row("batch 1 ms p50 / p99 (random bag)", b1["model_ms_p50"], stock["infer"]["b1_fwd_ms_p50"],
        "lower", 2, f"torch p99 {stock['infer']['b1_fwd_ms_p99']:.2f}")

w = max(len(r[0]) for r in rows if len(r) > 1) + 2
print(f"\n{'':{w}s}{'loom':>10s}{'PyTorch':>10s}{'loom/PT':>9s}  better  note")
for r in rows:
    if len(r) == 1:
        print(f"{r[0]}")
        continue
    print(f"  {r[0]:{w - 2}s}{r[1]:>10s}{r[2]:>10s}{r[3]:>9s}  {r[4]:6s}  {r[5]}")

# ---- GFLOP/s per branch against the limits ----
conv_flop_img = []  # (fwd, fwd+bwd) FLOPs per photo of each convolution
for i, c in enumerate(lim["conv"]):
    f = c["flop_fwd"] / c["shape"][0]
    conv_flop_img.append((f, f * (2 if i == 0 else 3)))
cnn_img = sum(fb for _, fb in conv_flop_img)


def conv_limit_ms(photos, variant):
    """oneDNN's time for the CNN's convolutions fwd + bwd (the first without
    the gradient of its input) at `photos` photos, scaled from the measured
    batch; per convolution the faster of the variants listed."""
    t = 0.0
    for i, c in enumerate(lim["conv"]):
        best = math.inf
        for v in variant:
            r = c[v]
            parts = [r["fwd_ms"], r["bwd_weights_ms"]] + ([r["bwd_data_ms"]] if i else [])
            if all(x is not None for x in parts):
                best = min(best, sum(parts))
        t += best
    return t * photos / lim["images"]


split = {p["part"].split(": ")[1]: p for p in lt["split"]}
print(f"\nGFLOP/s per branch, forward+backward of one batch of 64 (FLOPs: multiply-adds x 2; "
      f"CNN convolutions only, the first without its input gradient; LSTM all 48 steps; "
      f"MLP linear layers). Machine: sgemm 2048^3 {lim['sgemm_peak_gflops']:.0f} GFLOP/s "
      f"at {lim['threads']} threads.")
print(f"  {'part':26s}{'loom ms':>9s}{'GF/s':>7s}{'PT ms':>9s}{'GF/s':>7s}  limit (same FLOPs)")
cnn = split.get("cnn")
if cnn:
    photos = cnn["flop_fwd"] / sum(f for f, _ in conv_flop_img)
    tp = sp["_mean_images_per_batch"]
    pt_ms = sp["image: CNN trunk"]["fwd_bwd_ms"] + sp["image: attn pool"]["fwd_bwd_ms"]
    l32 = conv_limit_ms(photos, ["fp32_direct", "fp32_winograd"])
    l16 = conv_limit_ms(photos, ["bf16_direct"])
    print(f"  {'CNN + attention':26s}{cnn['fwd_bwd_ms']:9.1f}"
          f"{cnn['flop_fwd_bwd'] / cnn['fwd_bwd_ms'] * 1e-6:7.1f}{pt_ms:9.1f}"
          f"{cnn_img * tp / pt_ms * 1e-6:7.1f}  oneDNN convs fp32 {l32:.1f} ms = "
          f"{cnn['flop_fwd_bwd'] / l32 * 1e-6:.0f} GF/s, bf16 {l16:.1f} ms = "
          f"{cnn['flop_fwd_bwd'] / l16 * 1e-6:.0f} GF/s  ({photos:.0f} photos; PyTorch's "
          f"batches {tp:.0f})")
for enc, name, tkey, lkey in (("rnn", "text: emb+BiLSTM+pool", "text: emb+BiLSTM+pool",
                               "lstm_sgemm"),
                              ("mlp", "tabular MLP", "tabular", "tabular_sgemm")):
    p = split.get(enc)
    if not p:
        continue
    pt_ms = sp[tkey]["fwd_bwd_ms"]
    lm = lim[lkey]
    print(f"  {name:26s}{p['fwd_bwd_ms']:9.2f}{p['flop_fwd_bwd'] / p['fwd_bwd_ms'] * 1e-6:7.1f}"
          f"{pt_ms:9.2f}{p['flop_fwd_bwd'] / pt_ms * 1e-6:7.1f}  sgemm {lm['ms']:.2f} ms = "
          f"{lm['flop'] / lm['ms'] * 1e-6:.0f} GF/s")
full = split.get("loss+backward")
if full:
    total = sum(p["flop_fwd_bwd"] for p in lt["split"])
    print(f"  {'full model':26s}{full['fwd_bwd_ms']:9.1f}{total / full['fwd_bwd_ms'] * 1e-6:7.1f}"
          f"{sp['full model']['fwd_bwd_ms']:9.1f}{'':7s}  (the branches' FLOPs; the head's "
          f"are < 0.1%)")
    print(f"  training step p50: loom {lr['step_ms_p50']:.1f} ms = "
          f"{total / lr['step_ms_p50'] * 1e-6:.1f} GFLOP/s achieved over the whole step")
