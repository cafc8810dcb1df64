"""test_python.py MODEL_DIR — the Python binding (bindings/python/loom.py)
over the shared libloom ($LOOM_LIBRARY): schema, predict and embed on the
model's listings, photos as bytes and as paths, a dropped photo, a bad
value, threads. Run with /usr/bin/python3 (no numpy, nothing installed)."""
import math
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "bindings", "python"))
import loom  # noqa: E402

d = sys.argv[1]
model = loom.Model(os.path.join(d, "model.loom"), threads=1)
assert loom.library_version() == "0.1.0", loom.library_version()
assert [i["name"] for i in model.inputs] == ["title", "condition", "year", "posted", "tags",
                                             "photos"], model.inputs
assert [o["type"] for o in model.outputs] == ["number", "category", "binary", "set", "vector"]
assert sorted(model.outputs[1]["labels"]) == ["bike", "lamp", "phone", "sofa"]
assert model.embedding_width == 16

lines = open(os.path.join(d, "listings.csv")).read().splitlines()
header = lines[0].split(",")
rows = []
for line in lines[1:41]:
    f = dict(zip(header, line.split(",")))
    row = {k: f[k] for k in ("title", "condition", "posted", "tags")}
    row["year"] = int(f["year"])
    row["photos"] = [os.path.join(d, "photos", p) for p in f["photos"].split("|") if p]
    rows.append(row)

out = model.predict(rows, attention=True)
assert len(out) == 40
for r, o in zip(rows, out):
    assert o["price"] > 0 and math.isfinite(o["price"])
    probs = o["kind"]["probabilities"]
    assert abs(sum(probs.values()) - 1) < 1e-9 and o["kind"]["label"] == max(probs, key=probs.get)
    assert 0 <= o["fraud"]["probability"] <= 1 and o["fraud"]["label"] in (0, 1)
    assert set(o["extras"]["labels"]) <= set(o["extras"]["probabilities"])
    assert len(o["style"]) == 2
    if r["photos"]:
        a = o["_attention"]["photos"]
        assert len(a) == len(r["photos"]) and abs(sum(a) - 1) < 1e-5, a
    assert "_warnings" not in o

# photos as bytes give what paths give; a broken photo is dropped with a warning
with_bytes = []
for r in rows:
    b = dict(r)
    b["photos"] = [b"not a photo"] + [open(p, "rb").read() for p in r["photos"]]
    with_bytes.append(b)
out2 = model.predict(with_bytes)
for o, o2, r in zip(out, out2, rows):
    assert o["price"] == o2["price"] and o["style"] == o2["style"]
    w = o2["_warnings"]
    assert len(w) == 1 and w[0]["column"] == "photos" and w[0]["photo"] == 0, w
    assert w[0]["code"] == "format", w

# the same through embed
emb = model.embed(rows)
assert len(emb) == 40 and all(len(e) == 16 for e in emb)

# missing values, an unseen category, a number column given a string number
odd = model.predict([{}, {"condition": "refurbished", "year": "2011", "title": None,
                          "tags": ["local", "never-seen"]}])
assert all(math.isfinite(o["price"]) for o in odd)

# a bad value: LoomError naming the row and the column
try:
    model.predict([{"year": 2000}, {"year": "abc"}])
    raise SystemExit("no error for a bad value")
except loom.LoomError as e:
    assert e.code == "invalid" and "row 1" in str(e) and "year" in str(e), str(e)
for bad in ({"nosuch": 1}, {"price": 3}):
    try:
        model.predict([bad])
        raise SystemExit("no error for %r" % bad)
    except loom.LoomError as e:
        assert e.code == "invalid", e
try:
    loom.Model(os.path.join(d, "nothing.loom"))
    raise SystemExit("opened a missing file")
except loom.LoomError as e:
    assert e.code == "io", e

# threads share the model, each with its own session: the same numbers
results = [None] * 4


def work(k):
    results[k] = model.predict(rows)


ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for r in results:
    assert [o["price"] for o in r] == [o["price"] for o in out]
model.close()
print("python binding: ok (%d rows, %d outputs)" % (len(out), len(model.outputs)))
