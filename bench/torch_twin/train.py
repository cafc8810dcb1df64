#!/usr/bin/python3
"""torch_twin/train.py: the PyTorch twin of a loom model, trained on the
arrays loom itself preprocessed (torch-twin-export), so that the two differ
only in the engine.

    /usr/bin/python3 bench/torch_twin/train.py --data DIR --seed S --threads 2 [--epochs E]

DIR is torch-twin-export's output (meta.json and .npy files). The model is
built layer by layer as loom builds it from the same schema (modules/
tabular.c, text.c, image.c and fusion/model.c):

  mlp   per category column nn.Embedding(codes, width) (N(0,1)); the numeric
        inputs (each number's value and its "was missing" flag 1 - present,
        a date's parts and flag, binaries, set tags) in the branch's column
        order, through BatchNorm1d; embeddings first, then the numbers;
        each layer Linear + ReLU + Dropout
  rnn   one shared (or per column) nn.Embedding + nn.LSTM/GRU over each
        row's valid steps (packed: the reverse direction starts at the last
        valid token); pooled over the valid steps (mean, max or [mean, max]),
        dropout; the columns' vectors concatenated
  cnn   conv3x3 (no bias) + BatchNorm2d + ReLU per stage, 2x2 max pool
        between stages, global average pool; gated attention (Ilse et al.)
        or plain attention per bag with a segment softmax; a learned
        "no photo" vector (zeros at first) for an empty bag
  fusion  concat of the branches in schema order, Linear [+ BatchNorm1d]
        + ReLU + Dropout per layer; the head Linear(F, 1) and, with a range,
        lo + (hi - lo) sigmoid(z) in the normalised space (hi, lo from loom)
  loss  MSE over the rows with a target, on the normalised target
  optim AdamW (lr, betas (momentum, beta2), eps, weight decay on every
        param, as loom), OneCycleLR over epochs x batches (pct_start,
        div_factor, final_div_factor, cosine, momentum mom_max -> mom_min),
        stepped after every batch
  data  per epoch a random permutation (numpy, seeded; not loom's Philox;
        --loom-order: loom's own batches, exported), batches of batch_size,
        the last partial batch dropped only when it would be one row (as
        loom train does); evaluation in order. Photos: the
        exported bytes through loom's own byte -> float table
        (DIR/<col>.lut.npy).

Every parameter is initialised by PyTorch's defaults, which are loom's
(nn.Linear/Conv2d U(+-1/sqrt(fan_in)), nn.Embedding N(0,1), LSTM
U(+-1/sqrt(H)), batch norm ones/zeros); --init loads loom's own initial
values instead (export --init writes them), to rule initialisation out.

Validation metrics each epoch, as loom's fusion/metrics.c computes them for
a log1p number output: rmse_norm = sqrt(mean squared error in the
normalised space) (sqrt of loom's validation loss), rmse_log = RMSE of
log1p(price) after decoding both sides (loom's "rmsle"), rmse = RMSE of the
price in the column's units. The last line is JSON.
"""
import argparse
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="scatter_reduce")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="torch-twin-export's output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="OPENBLAS_NUM_THREADS (1: no fight with torch's OpenMP pool)")
    ap.add_argument("--epochs", type=int, default=0, help="0: the schema's")
    ap.add_argument("--init", action="store_true",
                    help="start from loom's initial params (DIR/init, export --init)")
    ap.add_argument("--loom-order", action="store_true",
                    help="train on loom's batches (DIR/train.order.npy, export --order E)")
    ap.add_argument("--eval", action="store_true",
                    help="only evaluate the initial model (with --init: loom's, to compare "
                         "with torch-twin-loom-train --eval)")
    a = ap.parse_args()
    # PyTorch at its best on this machine (shared/bench/ref_model.py --tuned):
    # a retaining allocator instead of glibc's page-fault churn (the CNN runs
    # channels-last too, see Image.forward). Changes speed only.
    jem = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    if os.path.exists(jem) and jem not in os.environ.get("LD_PRELOAD", ""):
        env = dict(os.environ, LD_PRELOAD=jem,
                   MALLOC_CONF="background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    return a


ARGS = parse_args()
# Before torch (and its OpenMP / OpenBLAS runtimes) is loaded.
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.blas_threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(ARGS.threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

NUMERIC = ("number", "binary", "date", "set", "vector")


# --------------------------------------------------------------------------
# Data: the exported arrays of one split
# --------------------------------------------------------------------------
class Split:
    def __init__(self, d, name, meta):
        self.n = meta["rows"][name]
        self.cols = {}
        for c in meta["columns"]:
            t, p = c["type"], os.path.join(d, f"{name}.{c['name']}")
            if t in NUMERIC:
                self.cols[c["name"]] = {"x": torch.from_numpy(np.load(p + ".x.npy")),
                                        "present": torch.from_numpy(np.load(p + ".present.npy"))}
            elif t == "category":
                self.cols[c["name"]] = {"codes": torch.from_numpy(np.load(p + ".codes.npy").astype(np.int64))}
            elif t == "text":
                self.cols[c["name"]] = {"ids": torch.from_numpy(np.load(p + ".ids.npy").astype(np.int64)),
                                        "lengths": torch.from_numpy(np.load(p + ".lengths.npy").astype(np.int64))}
            elif t == "images":
                lut = torch.from_numpy(np.load(os.path.join(d, c["name"] + ".lut.npy")))
                self.cols[c["name"]] = {"pixels": torch.from_numpy(np.load(p + ".pixels.npy")),
                                        "offsets": np.load(p + ".offsets.npy"), "lut": lut}

    def collate(self, idx):
        """idx: 1-D numpy array of row indices -> {column: batch arrays}."""
        t = torch.from_numpy(idx)
        b = {"n": len(idx)}
        for name, c in self.cols.items():
            if "x" in c:
                b[name] = {"x": c["x"].index_select(0, t), "present": c["present"].index_select(0, t)}
            elif "codes" in c:
                b[name] = {"codes": c["codes"].index_select(0, t)}
            elif "ids" in c:
                b[name] = {"ids": c["ids"].index_select(0, t), "lengths": c["lengths"].index_select(0, t)}
            else:
                off = c["offsets"]
                cnt = off[idx + 1] - off[idx]
                k = int(cnt.sum())
                starts = np.repeat(off[idx], cnt)
                within = np.arange(k) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                u8 = c["pixels"].index_select(0, torch.from_numpy(starts + within)).long()
                # (k,S,S,3) bytes -> (k,3,S,S) floats through loom's table
                px = torch.stack([c["lut"][ch][u8[..., ch]] for ch in range(3)], 1)
                b[name] = {"pixels": px.contiguous(), "counts": torch.from_numpy(cnt)}
        return b


# --------------------------------------------------------------------------
# Model: modules/ and fusion/ of loom, in PyTorch
# --------------------------------------------------------------------------
class Tabular(nn.Module):
    """modules/tabular.c"""

    def __init__(self, br, cols):
        super().__init__()
        self.names = br["columns"]
        self.embeds = nn.ModuleDict()
        self.numeric = []  # (column, width, flag)
        for name in self.names:
            c = cols[name]
            if c["type"] == "category":
                self.embeds[name] = nn.Embedding(c["cardinality"], c["embed"])
            elif c["type"] in NUMERIC:
                self.numeric.append((name, c["width"], bool(c.get("flag", False))))
            else:
                raise SystemExit(f"mlp: column type {c['type']} not in the twin")
        self.nnum = sum(w + f for _, w, f in self.numeric)
        d = sum(e.embedding_dim for e in self.embeds.values()) + self.nnum
        self.bn = nn.BatchNorm1d(self.nnum) if br["batch_norm"] and self.nnum else None
        self.layers = nn.ModuleList()
        for w in br["layers"]:
            self.layers.append(nn.Linear(d, w))
            d = w
        self.dropout = br["dropout"]
        self.width = d

    def forward(self, b):
        parts = [self.embeds[name](b[name]["codes"]) for name in self.names if name in self.embeds]
        if self.nnum:
            num = []
            for name, w, flag in self.numeric:
                num.append(b[name]["x"].reshape(b["n"], w))
                if flag:
                    num.append((1.0 - b[name]["present"]).unsqueeze(1))
            num = torch.cat(num, 1)
            parts.append(self.bn(num) if self.bn is not None else num)
        x = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        for lin in self.layers:
            x = F.dropout(F.relu(lin(x)), self.dropout, self.training)
        return x

    def loom_names(self, br):
        m = {f"{br}.{k}.embed.weight": e.weight for k, e in self.embeds.items()}
        if self.bn is not None:
            m.update({f"{br}.bn.weight": self.bn.weight, f"{br}.bn.bias": self.bn.bias,
                      f"{br}.bn.running_mean": self.bn.running_mean,
                      f"{br}.bn.running_var": self.bn.running_var})
        for i, lin in enumerate(self.layers):
            m.update({f"{br}.layer{i}.weight": lin.weight, f"{br}.layer{i}.bias": lin.bias})
        return m


class TextUnit(nn.Module):
    def __init__(self, br, vocab):
        super().__init__()
        if br["conv1d"]:
            raise SystemExit("rnn: conv1d not in the twin")
        self.embed = nn.Embedding(vocab, br["embed"])
        rnn = nn.LSTM if br["cell"] == "lstm" else nn.GRU
        self.rnn = rnn(br["embed"], br["hidden"], num_layers=br["layers"], batch_first=True,
                       bidirectional=br["bidirectional"],
                       dropout=br["dropout"] if br["layers"] > 1 else 0.0)


def time_pool(y, lengths, pool):
    """y (N,T,D) zeros past each row's length; lengths (N) -> (N, D or 2D)."""
    T = y.shape[1]
    mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
    mean = (y * mask).sum(1) / lengths.clamp(min=1).unsqueeze(1).to(y.dtype)
    mx = y.masked_fill(~mask, float("-inf")).amax(1)
    mx = torch.where(lengths.unsqueeze(1) > 0, mx, torch.zeros_like(mx))  # length 0: zeros
    if pool == "mean":
        return mean
    if pool == "max":
        return mx
    if pool == "mean_max":
        return torch.cat([mean, mx], 1)
    raise SystemExit(f"rnn: pool {pool} not in the twin")


class Text(nn.Module):
    """modules/text.c"""

    def __init__(self, br, cols):
        super().__init__()
        self.names = br["columns"]
        self.share, self.pool, self.dropout = br["share"], br["pool"], br["dropout"]
        vocab = max(cols[n]["cardinality"] for n in self.names)
        if self.share:
            self.units = nn.ModuleDict({"shared": TextUnit(br, vocab)})
        else:
            self.units = nn.ModuleDict({n: TextUnit(br, cols[n]["cardinality"]) for n in self.names})
        nd = 2 if br["bidirectional"] else 1
        self.width = len(self.names) * (2 if self.pool == "mean_max" else 1) * nd * br["hidden"]

    def encode(self, u, ids, lengths):
        N, T = ids.shape
        x = u.embed(ids)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True,
                                                   enforce_sorted=False)
        y, _ = u.rnn(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=T)
        y = y * (lengths > 0).to(y.dtype).view(N, 1, 1)
        return F.dropout(time_pool(y, lengths, self.pool), self.dropout, self.training)

    def forward(self, b):
        parts = [self.encode(self.units["shared" if self.share else n], b[n]["ids"], b[n]["lengths"])
                 for n in self.names]
        return torch.cat(parts, 1) if len(parts) > 1 else parts[0]

    def loom_names(self, br):
        m = {}
        for key, u in self.units.items():
            pre = f"{br}." + ("" if self.share else f"{key}.")
            m[pre + "embed.weight"] = u.embed.weight
            for name, p in u.rnn.named_parameters():
                m[pre + "rnn." + name] = p
        return m


class Image(nn.Module):
    """modules/image.c"""

    def __init__(self, br, cols):
        super().__init__()
        if len(br["columns"]) != 1:
            raise SystemExit("cnn: one images column only in the twin")
        self.name = br["columns"][0]
        self.max_images = cols[self.name]["max_images"]
        stages, cin = [], 3
        for i, cout in enumerate(br["channels"]):
            stages += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU()]
            if i + 1 < len(br["channels"]):
                stages.append(nn.MaxPool2d(2))
            cin = cout
        self.cnn = nn.Sequential(*stages)
        self.C = cin
        self.pool = br["pool"]
        A = br["attention"]
        if self.pool in ("gated_attention", "attention"):
            self.V = nn.Linear(cin, A)
            self.U = nn.Linear(cin, A) if self.pool == "gated_attention" else None
            self.w = nn.Linear(A, 1, bias=False)
        elif self.pool != "mean":
            raise SystemExit(f"cnn: pool {self.pool} not in the twin")
        self.empty = nn.Parameter(torch.zeros(cin))
        self.width = cin

    def forward(self, b):
        px, cnt = b[self.name]["pixels"], b[self.name]["counts"]
        if int(cnt.max()) > self.max_images:
            raise SystemExit("cnn: bags above max_images are not in the twin")
        B = b["n"]
        empty = self.empty.unsqueeze(0).expand(B, -1)
        if px.shape[0] == 0:
            return empty
        px = px.contiguous(memory_format=torch.channels_last)  # speed only
        h = self.cnn(px).mean(dim=(2, 3))  # (k, C)
        seg = torch.repeat_interleave(torch.arange(B), cnt)
        if self.pool == "mean":
            a = 1.0 / cnt.to(h.dtype).index_select(0, seg)
        else:
            g = torch.tanh(self.V(h))
            if self.U is not None:
                g = g * torch.sigmoid(self.U(h))
            s = self.w(g).squeeze(1)
            with torch.no_grad():  # the per-bag max, for stability only
                smax = torch.full((B,), float("-inf")).scatter_reduce(0, seg, s, reduce="amax")
            e = torch.exp(s - smax.index_select(0, seg))
            denom = torch.zeros(B).index_add(0, seg, e)
            a = e / denom.index_select(0, seg)
        bag = torch.zeros(B, self.C).index_add(0, seg, a.unsqueeze(1) * h)
        return torch.where((cnt > 0).unsqueeze(1), bag, empty)

    def loom_names(self, br):
        m, i = {}, 0
        for mod in self.cnn:
            if isinstance(mod, nn.Conv2d):
                m[f"{br}.cnn.{i}.conv.weight"] = mod.weight
            elif isinstance(mod, nn.BatchNorm2d):
                for k in ("weight", "bias", "running_mean", "running_var"):
                    m[f"{br}.cnn.{i}.bn.{k}"] = getattr(mod, k)
                i += 1
        if self.pool in ("gated_attention", "attention"):
            m.update({f"{br}.attention.V.weight": self.V.weight,
                      f"{br}.attention.V.bias": self.V.bias,
                      f"{br}.attention.w.weight": self.w.weight})
            if self.U is not None:
                m.update({f"{br}.attention.U.weight": self.U.weight,
                          f"{br}.attention.U.bias": self.U.bias})
        m[f"{br}.empty"] = self.empty
        return m


ENCODERS = {"mlp": Tabular, "rnn": Text, "cnn": Image}


class Twin(nn.Module):
    """fusion/model.c"""

    def __init__(self, meta):
        super().__init__()
        cols = {c["name"]: c for c in meta["columns"]}
        fu = meta["fusion"]
        if fu["modality_dropout"] > 0:
            raise SystemExit("modality dropout is not in the twin")
        self.branch_names = [br["name"] for br in meta["branches"]]
        self.branches = nn.ModuleList([ENCODERS[br["encoder"]](br, cols) for br in meta["branches"]])
        d = sum(e.width for e in self.branches)
        self.fusion = nn.ModuleList()
        self.fusion_bn = nn.ModuleList()
        for w in fu["layers"]:
            self.fusion.append(nn.Linear(d, w))
            self.fusion_bn.append(nn.BatchNorm1d(w) if fu["batch_norm"] else nn.Identity())
            d = w
        self.dropout = fu["dropout"]
        if len(meta["heads"]) != 1 or meta["heads"][0]["type"] != "number":
            raise SystemExit("the twin takes one number output")
        self.h = meta["heads"][0]
        if self.h["loss"] != "mse" or (self.h["has_range"] and self.h["range_mode"] != "sigmoid"):
            raise SystemExit("the twin takes an mse number head with a sigmoid range or none")
        self.head = nn.Linear(d, 1)

    def forward(self, b):
        x = torch.cat([e(b) for e in self.branches], 1)
        for lin, bn in zip(self.fusion, self.fusion_bn):
            x = F.dropout(F.relu(bn(lin(x))), self.dropout, self.training)
        y = self.head(x).squeeze(1)
        if self.h["has_range"]:
            y = self.h["sig_lo"] + (self.h["sig_hi"] - self.h["sig_lo"]) * torch.sigmoid(y)
        return y

    def loom_names(self):
        m = {}
        for name, e in zip(self.branch_names, self.branches):
            m.update(e.loom_names(name))
        for i, (lin, bn) in enumerate(zip(self.fusion, self.fusion_bn)):
            m.update({f"fusion.{i}.w": lin.weight, f"fusion.{i}.b": lin.bias})
            if isinstance(bn, nn.BatchNorm1d):
                m.update({f"fusion.{i}.bn.gamma": bn.weight, f"fusion.{i}.bn.beta": bn.bias,
                          f"fusion.{i}.bn.mean": bn.running_mean, f"fusion.{i}.bn.var": bn.running_var})
        col = self.h["column"]
        m.update({f"head.{col}.w": self.head.weight, f"head.{col}.b": self.head.bias})
        return m


def check_against_loom(model, meta):
    """Every loom param and buffer has a twin of the same shape, and back."""
    mine = model.loom_names()
    theirs = {p["name"]: p["shape"] for p in meta["params"]}
    if set(mine) != set(theirs):
        raise SystemExit(f"params differ from loom's: only here {sorted(set(mine) - set(theirs))}, "
                         f"only in loom {sorted(set(theirs) - set(mine))}")
    for k, shape in theirs.items():
        if list(mine[k].shape) != shape:
            raise SystemExit(f"{k}: shape {list(mine[k].shape)} here, {shape} in loom")
    n = sum(p.numel() for p in model.parameters())
    if n != meta["trainable"]:
        raise SystemExit(f"{n} params here, {meta['trainable']} in loom")
    return n


def load_loom_init(model, d):
    with torch.no_grad():
        for k, t in model.loom_names().items():
            t.copy_(torch.from_numpy(np.load(os.path.join(d, "init", k + ".npy"))))


# --------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------
def target(b, col):
    return b[col]["x"].reshape(-1), b[col]["present"]


def masked_mse(y, t, w):
    s = w.sum()
    return ((y - t) ** 2 * w).sum() / s if s > 0 else y.sum() * 0


@torch.no_grad()
def evaluate(model, data, bs, col, stats):
    """loom_evaluate + fusion/metrics.c for a number output."""
    model.eval()
    ys, ts, ws = [], [], []
    for i in range(0, data.n, bs):
        b = data.collate(np.arange(i, min(i + bs, data.n)))
        y = model(b)
        t, w = target(b, col)
        ys.append(y.numpy()), ts.append(t.numpy()), ws.append(w.numpy())
    y, t, w = (np.concatenate(a) for a in (ys, ts, ws))
    keep = w != 0
    y, t = y[keep].astype(np.float64), t[keep].astype(np.float64)
    mean, std, log1p = stats
    dec = (lambda v: np.expm1(v * std + mean)) if log1p else (lambda v: v * std + mean)
    py, ty = dec(y), dec(t)
    r = {"rmse_norm": float(np.sqrt(np.mean((y - t) ** 2))),
         "rmse": float(np.sqrt(np.mean((py - ty) ** 2)))}
    if log1p:
        le = np.log1p(np.maximum(py, -1 + 1e-12)) - np.log1p(np.maximum(ty, -1 + 1e-12))
        r["rmse_log"] = float(np.sqrt(np.mean(le ** 2)))
    return r


def main():
    a = ARGS
    meta = json.load(open(os.path.join(a.data, "meta.json")))
    tr = meta["training"]
    epochs = a.epochs or tr["epochs"]
    bs = tr["batch_size"]
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    train, valid = Split(a.data, "train", meta), Split(a.data, "valid", meta)
    model = Twin(meta)
    nparams = check_against_loom(model, meta)
    if a.init:
        load_loom_init(model, a.data)
    col = model.h["column"]
    cm = {c["name"]: c for c in meta["columns"]}[col]
    stats = (cm["mean"], cm["std"], cm["log1p"])
    print(f"torch {torch.__version__}: {nparams} params (= loom's), {train.n} training rows, "
          f"{valid.n} validation rows, seed {a.seed}, {torch.get_num_threads()} threads"
          f"{', loom init' if a.init else ''}", flush=True)
    op, sc = tr["optimizer"], tr["schedule"]
    if op["type"] != "adamw" or tr["clip_norm"] > 0:
        raise SystemExit("the twin takes AdamW without clipping")
    opt = torch.optim.AdamW(model.parameters(), lr=op["lr"], betas=(op["momentum"], op["beta2"]),
                            eps=op["eps"], weight_decay=op["weight_decay"])
    # loom train drops the last partial batch only when it would be one row
    # (batch norm needs two): cli/cmd_train.c
    drop_last = train.n % bs == 1
    per_epoch = train.n // bs if drop_last else -(-train.n // bs)
    used = min(train.n, per_epoch * bs)
    sched = None
    if sc["type"] == "one_cycle" and not a.eval:  # (no steps to schedule in --eval)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=op["lr"], total_steps=epochs * per_epoch, pct_start=sc["pct_start"],
            anneal_strategy="cos", cycle_momentum=True, base_momentum=sc["mom_min"],
            max_momentum=sc["mom_max"], div_factor=sc["div_factor"],
            final_div_factor=sc["final_div_factor"], three_phase=False)
    elif sc["type"] not in ("constant", "one_cycle"):
        raise SystemExit(f"schedule {sc['type']} not in the twin")
    order = np.load(os.path.join(a.data, "train.order.npy")) if a.loom_order else None
    if order is not None and (order.shape[0] < epochs or order.shape[1] != used):
        raise SystemExit(f"train.order.npy holds {order.shape}, not {epochs} epochs of {used} rows")
    every = max(1, (per_epoch + 9) // 10)  # progress lines as loom's trainer prints them
    step = 0
    r = {}
    if a.eval:
        epochs = 0
        r = evaluate(model, valid, bs, col, stats)
        print(f"epoch 0/0 valid_rmse_norm {r['rmse_norm']:.6f} "
              f"valid_rmse_log {r.get('rmse_log', float('nan')):.6f} valid_rmse {r['rmse']:.4f}")
    for ep in range(epochs):
        model.train()
        perm = order[ep] if order is not None else rng.permutation(train.n)
        loss_sum, rows = 0.0, 0
        for k in range(per_epoch):
            b = train.collate(perm[k * bs:min((k + 1) * bs, used)])
            t, w = target(b, col)
            loss = masked_mse(model(b), t, w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            loss_sum += float(loss) * b["n"]
            rows += b["n"]
            step += 1
            if (k + 1) % every == 0 or k + 1 == per_epoch:
                print(f"epoch {ep + 1}/{epochs} batch {k + 1}/{per_epoch} step {step} "
                      f"loss {float(loss):.4f}", file=sys.stderr, flush=True)
        r = evaluate(model, valid, bs, col, stats)
        r["train_loss"] = loss_sum / rows
        print(f"epoch {ep + 1}/{epochs} train_loss {r['train_loss']:.5f} "
              f"valid_rmse_norm {r['rmse_norm']:.5f} valid_rmse_log {r.get('rmse_log', float('nan')):.5f} "
              f"valid_rmse {r['rmse']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(json.dumps({"side": "torch", "seed": a.seed, "epochs": epochs,
                      "seconds": round(time.perf_counter() - t0, 1),
                      "train_loss": r.get("train_loss"), "valid_rmse_norm": r.get("rmse_norm"),
                      "valid_rmse_log": r.get("rmse_log"), "valid_rmse": r.get("rmse")}))


if __name__ == "__main__":
    main()
