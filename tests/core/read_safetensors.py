#!/usr/bin/env python3
"""An independent reader of the safetensors layout, using only the standard
library, to prove that loom's model files follow the spec:
  8 bytes: N, little-endian u64; N bytes: a JSON object of
  {"name": {"dtype", "shape", "data_offsets": [begin, end]}} and an optional
  "__metadata__" of string values; then the data, with offsets relative to
  its start, covering it exactly (no hole, no overlap).

Usage: read_safetensors.py FILE
Prints one line per tensor in data order, "tensor NAME DTYPE D0,D1,.. SUM"
(SUM '%.17g' of the values summed in order in double precision, an integer
for integer dtypes), then "meta KEY BYTES" per metadata entry sorted by key.
Exits 1 with a message on anything outside the spec.
"""
import json
import struct
import sys

FORMATS = {  # dtype: (struct code, bytes)
    "BOOL": ("?", 1), "U8": ("B", 1), "I8": ("b", 1), "U16": ("H", 2), "I16": ("h", 2),
    "F16": ("e", 2), "BF16": (None, 2), "U32": ("I", 4), "I32": ("i", 4), "F32": ("f", 4),
    "U64": ("Q", 8), "I64": ("q", 8), "F64": ("d", 8),
}


def fail(msg):
    print("read_safetensors: " + msg, file=sys.stderr)
    sys.exit(1)


def values(dtype, raw):
    code, size = FORMATS[dtype]
    count = len(raw) // size
    if dtype == "BF16":
        halves = struct.unpack("<%dH" % count, raw)
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in halves]
    return struct.unpack("<%d%s" % (count, code), raw)


def main():
    if len(sys.argv) != 2:
        fail("usage: read_safetensors.py FILE")
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        fail("header length beyond the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        fail("header is not an object")
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        fail("metadata values must be strings")
    entries = []
    for name, e in header.items():
        if set(e) != {"dtype", "shape", "data_offsets"}:
            fail("%s: fields %s" % (name, sorted(e)))
        if e["dtype"] not in FORMATS:
            fail("%s: unknown dtype %s" % (name, e["dtype"]))
        shape = e["shape"]
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            fail("%s: bad shape" % name)
        begin, end = e["data_offsets"]
        count = 1
        for d in shape:
            count *= d
        if count * FORMATS[e["dtype"]][1] != end - begin:
            fail("%s: shape and offsets disagree" % name)
        entries.append((begin, end, name, e["dtype"], shape))
    entries.sort()
    pos = 0
    for begin, end, name, _, _ in entries:
        if begin != pos:
            fail("%s: %s at offset %d, expected %d" % (name, "hole" if begin > pos else "overlap",
                                                       begin, pos))
        pos = end
    if pos != len(data):
        fail("data has %d bytes, tensors cover %d" % (len(data), pos))
    for begin, end, name, dtype, shape in entries:
        xs = values(dtype, data[begin:end])
        if dtype in ("F16", "BF16", "F32", "F64"):
            s = 0.0
            for x in xs:
                s += x
            total = "%.17g" % s
        else:
            total = "%d" % sum(int(x) for x in xs)
        print("tensor %s %s %s %s" % (name, dtype, ",".join(str(d) for d in shape), total))
    for key in sorted(meta):
        print("meta %s %d" % (key, len(meta[key].encode("utf-8"))))


if __name__ == "__main__":
    main()
