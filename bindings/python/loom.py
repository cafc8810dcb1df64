"""loom.py — score rows with a trained loom model from Python.

A thin ctypes layer over libloom's C API (include/loom.h): no compiler at
install time, no numpy; results are plain lists and dicts.

    import loom
    model = loom.Model("price.loom")
    model.predict([{"title": "red bike", "year": 2019,
                    "photos": [open("a.jpg", "rb").read(), "b.jpg"]}])
    # -> [{"price": 412.5, "kind": {"label": "bike", "probabilities": {...}}, ...}]
    model.embed(rows)  # -> [[f0, f1, ...], ...]

The library is found through $LOOM_LIBRARY (a path), else next to this file
(libloom.so, libloom.so.0), else the system's (libloom.so.0). A Model may be
used from several threads at once: each thread gets its own session, and
ctypes releases the GIL during each call, so the threads score in parallel.
Errors raise LoomError with the library's message (which names the row and
the column of a bad value).
"""

import ctypes
import ctypes.util
import os
import threading

__all__ = ["Model", "LoomError", "library_version"]

_STATUS = ["ok", "invalid", "nomem", "io", "parse", "schema", "format", "shape",
           "unsupported", "limit", "numeric", "backend", "internal"]
_TYPES = ["id", "number", "binary", "category", "date", "text", "images", "set", "vector"]
_LIMITS = {"rows": 0, "photos": 1, "value_bytes": 2, "image_bytes": 3, "image_side": 4,
           "image_pixels": 5}


class LoomError(Exception):
    """A failure reported by libloom: .code is the status name ("invalid",
    "io", "format", ...), .status its number, str() the message."""

    def __init__(self, status, message):
        self.status = status
        self.code = _STATUS[status] if 0 <= status < len(_STATUS) else str(status)
        super().__init__(message or self.code)


class _Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("line", ctypes.c_int), ("column", ctypes.c_int),
                ("file", ctypes.c_char * 256), ("message", ctypes.c_char * 512)]


class _InputInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("width", ctypes.c_int),
                ("max_photos", ctypes.c_int), ("separator", ctypes.c_char)]


class _OutputInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("width", ctypes.c_int)]


class _Warning(ctypes.Structure):
    _fields_ = [("row", ctypes.c_int64), ("column", ctypes.c_char_p), ("photo", ctypes.c_int),
                ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


def _load():
    names = []
    if os.environ.get("LOOM_LIBRARY"):
        names.append(os.environ["LOOM_LIBRARY"])
    here = os.path.dirname(os.path.abspath(__file__))
    names += [os.path.join(here, n) for n in ("libloom.so", "libloom.so.0")]
    names += ["libloom.so.0", ctypes.util.find_library("loom")]
    errors = []
    for n in names:
        if n and (os.sep not in n or os.path.exists(n)):
            try:
                return ctypes.CDLL(n)
            except OSError as e:
                errors.append(str(e))
    raise OSError("libloom not found (set LOOM_LIBRARY): " + "; ".join(errors))


_lib = _load()
_P = ctypes.c_void_p
_E = ctypes.POINTER(_Error)


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


_i64, _int, _dbl, _sz = ctypes.c_int64, ctypes.c_int, ctypes.c_double, ctypes.c_size_t
_version = _fn("loom_version", ctypes.c_char_p)
_open = _fn("loom_model_open", _int, ctypes.c_char_p, ctypes.POINTER(_P), _E)
_close = _fn("loom_model_close", None, ctypes.POINTER(_P))
_input_count = _fn("loom_model_input_count", _int, _P)
_input = _fn("loom_model_input", _int, _P, _int, ctypes.POINTER(_InputInfo))
_output_count = _fn("loom_model_output_count", _int, _P)
_output = _fn("loom_model_output", _int, _P, _int, ctypes.POINTER(_OutputInfo))
_output_label = _fn("loom_model_output_label", ctypes.c_void_p, _P, _int, _int,
                    ctypes.POINTER(_sz))
_emb_width = _fn("loom_model_embedding_width", _int, _P)
_rows_new = _fn("loom_rows_new", _int, _P, ctypes.POINTER(_P), _E)
_rows_free = _fn("loom_rows_free", None, ctypes.POINTER(_P))
_rows_clear = _fn("loom_rows_clear", None, _P)
_rows_limit = _fn("loom_rows_set_limit", _int, _P, _int, ctypes.c_uint64, _E)
_rows_add = _fn("loom_rows_add", _int, _P, ctypes.POINTER(_i64), _E)
_set_string = _fn("loom_rows_set_string", _int, _P, _i64, ctypes.c_char_p, ctypes.c_char_p, _sz,
                  _E)
_set_number = _fn("loom_rows_set_number", _int, _P, _i64, ctypes.c_char_p, _dbl, _E)
_add_image = _fn("loom_rows_add_image", _int, _P, _i64, ctypes.c_char_p, ctypes.c_char_p, _sz, _E)
_add_image_path = _fn("loom_rows_add_image_path", _int, _P, _i64, ctypes.c_char_p,
                      ctypes.c_char_p, _E)
_warning_count = _fn("loom_rows_warning_count", _i64, _P)
_warning = _fn("loom_rows_warning", _int, _P, _i64, ctypes.POINTER(_Warning))
_session_new = _fn("loom_session_new", _int, _P, ctypes.POINTER(_P), _E)
_session_free = _fn("loom_session_free", None, ctypes.POINTER(_P))
_session_threads = _fn("loom_session_set_threads", None, _P, _int)
_predict = _fn("loom_predict", _int, _P, _P, ctypes.POINTER(_P), _E)
_embed = _fn("loom_embed", _int, _P, _P, ctypes.POINTER(_P), _E)
_result_rows = _fn("loom_result_rows", _i64, _P)
_result_values = _fn("loom_result_values", ctypes.POINTER(_dbl), _P, _int, ctypes.POINTER(_int))
_result_label = _fn("loom_result_label", ctypes.c_int32, _P, _int, _i64)
_result_embedding = _fn("loom_result_embedding", ctypes.POINTER(ctypes.c_float), _P,
                        ctypes.POINTER(_int))
_result_attention = _fn("loom_result_attention", ctypes.POINTER(ctypes.c_float), _P, _i64,
                        ctypes.c_char_p, ctypes.POINTER(_int))


def library_version():
    """The loaded libloom's version, "MAJOR.MINOR.PATCH"."""
    return _version().decode()


def _check(status, err):
    if status:
        raise LoomError(status, err.message.decode("utf-8", "replace"))


class _Session:
    """One thread's session and rows (freed before the model they use)."""

    def __init__(self, model, threads):
        err = _Error()
        self.model = model  # keeps the model open while this lives
        self.s, self.rows = _P(), _P()
        _check(_session_new(model._h, ctypes.byref(self.s), ctypes.byref(err)), err)
        _check(_rows_new(model._h, ctypes.byref(self.rows), ctypes.byref(err)), err)
        if threads:
            _session_threads(self.s, int(threads))

    def __del__(self):
        if getattr(self, "rows", None):
            _rows_free(ctypes.byref(self.rows))
        if getattr(self, "s", None):
            _session_free(ctypes.byref(self.s))


class Model:
    """A trained model, opened (and fully validated) from its file.

    threads: threads each call may use (0: the process default); a server
    scoring on many Python threads wants 1. limits: rows_new limits by name
    ("rows", "photos", "value_bytes", "image_bytes", "image_side",
    "image_pixels")."""

    def __init__(self, path, threads=0, limits=None):
        err = _Error()
        self._h = _P()
        _check(_open(os.fsencode(path), ctypes.byref(self._h), ctypes.byref(err)), err)
        self._threads = threads
        self._limits = dict(limits or {})
        for name in self._limits:
            if name not in _LIMITS:
                raise ValueError("unknown limit %r" % name)
        self._local = threading.local()
        self.inputs = []
        for i in range(_input_count(self._h)):
            info = _InputInfo()
            _check(_input(self._h, i, ctypes.byref(info)), err)
            self.inputs.append({"name": info.name.decode(), "type": _TYPES[info.type],
                                "width": info.width, "max_photos": info.max_photos,
                                "separator": info.separator.decode() if info.separator != b"\0"
                                else None})
        self._types = {d["name"]: d["type"] for d in self.inputs}
        self.outputs = []
        for j in range(_output_count(self._h)):
            info = _OutputInfo()
            _check(_output(self._h, j, ctypes.byref(info)), err)
            typ = _TYPES[info.type]
            labels = None
            if typ in ("category", "set"):
                labels = []
                for k in range(info.width):
                    n = _sz()
                    p = _output_label(self._h, j, k, ctypes.byref(n))
                    labels.append(ctypes.string_at(p, n.value).decode("utf-8", "replace"))
            self.outputs.append({"name": info.name.decode(), "type": typ, "width": info.width,
                                 "labels": labels})
        self.embedding_width = _emb_width(self._h)

    def close(self):
        """Free the model (also done when it is garbage-collected)."""
        self._local = None
        if getattr(self, "_h", None):
            _close(ctypes.byref(self._h))

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _session(self):
        if not self._h:
            raise LoomError(1, "the model is closed")
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = _Session(self, self._threads)
            err = _Error()
            for name, value in self._limits.items():
                _check(_rows_limit(s.rows, _LIMITS[name], int(value), ctypes.byref(err)), err)
        return s

    def _fill(self, rows, data):
        err = _Error()
        _rows_clear(rows)
        for r, row in enumerate(data):
            i = _i64()
            _check(_rows_add(rows, ctypes.byref(i), ctypes.byref(err)), err)
            for name, value in row.items():
                key = name.encode()
                if value is None:
                    st = _set_string(rows, i, key, b"", 0, ctypes.byref(err))
                elif self._types.get(name) == "images":
                    photos = [value] if isinstance(value, (bytes, bytearray, str, os.PathLike)) \
                        else value
                    for p in photos:
                        if isinstance(p, (bytes, bytearray)):
                            b = bytes(p)
                            st = _add_image(rows, i, key, b, len(b), ctypes.byref(err))
                        else:
                            st = _add_image_path(rows, i, key, os.fsencode(p), ctypes.byref(err))
                        _check(st, err)
                    continue
                elif isinstance(value, bool):
                    st = _set_string(rows, i, key, b"1" if value else b"0", 1, ctypes.byref(err))
                elif isinstance(value, (int, float)):
                    st = _set_number(rows, i, key, float(value), ctypes.byref(err))
                elif isinstance(value, (list, tuple)):  # a set or a vector
                    sep = next((d["separator"] for d in self.inputs if d["name"] == name), None)
                    text = (sep or ";").join(str(v) for v in value).encode()
                    st = _set_string(rows, i, key, text, len(text), ctypes.byref(err))
                else:
                    text = str(value).encode()
                    st = _set_string(rows, i, key, text, len(text), ctypes.byref(err))
                _check(st, err)

    def _warnings(self, rows):
        out = {}
        for k in range(_warning_count(rows)):
            w = _Warning()
            _warning(rows, k, ctypes.byref(w))
            out.setdefault(w.row, []).append({
                "column": w.column.decode(), "photo": w.photo,
                "code": _STATUS[w.code] if 0 <= w.code < len(_STATUS) else str(w.code),
                "message": w.message.decode("utf-8", "replace")})
        return out

    def predict(self, rows, attention=False):
        """Score rows (dicts: column name -> value; images as a list of
        bytes or paths). Returns a dict per row, output name -> value:
          number   float (in the column's units)
          binary   {"label": 0 or 1, "probability": P(1)}
          category {"label": name, "probabilities": {name: p, ...}}
          set      {"labels": [names with p > 0.5], "probabilities": {...}}
          vector   [floats]
        plus "_warnings" (dropped photos) when there were any, and
        "_attention" ({images column: [weight per photo given]}) when asked."""
        s = self._session()
        self._fill(s.rows, rows)
        err, res = _Error(), _P()
        _check(_predict(s.s, s.rows, ctypes.byref(res), ctypes.byref(err)), err)
        n = _result_rows(res)
        out = [dict() for _ in range(n)]
        for j, o in enumerate(self.outputs):
            w = _int()
            v = _result_values(res, j, ctypes.byref(w))
            w = w.value
            for i in range(n):
                vals = v[i * w:(i + 1) * w]
                if o["type"] == "number":
                    out[i][o["name"]] = vals[0]
                elif o["type"] == "binary":
                    out[i][o["name"]] = {"label": int(_result_label(res, j, i)),
                                         "probability": vals[0]}
                elif o["type"] == "category":
                    out[i][o["name"]] = {"label": o["labels"][_result_label(res, j, i)],
                                         "probabilities": dict(zip(o["labels"], vals))}
                elif o["type"] == "set":
                    out[i][o["name"]] = {
                        "labels": [l for l, p in zip(o["labels"], vals) if p > 0.5],
                        "probabilities": dict(zip(o["labels"], vals))}
                else:
                    out[i][o["name"]] = list(vals)
        for i, ws in self._warnings(s.rows).items():
            out[i]["_warnings"] = ws
        if attention:
            for i in range(n):
                att = {}
                for d in self.inputs:
                    if d["type"] != "images":
                        continue
                    c = _int()
                    a = _result_attention(res, i, d["name"].encode(), ctypes.byref(c))
                    if a:
                        att[d["name"]] = a[:c.value]
                out[i]["_attention"] = att
        return out

    def embed(self, rows):
        """The embedding of each row: a list of embedding_width floats."""
        s = self._session()
        self._fill(s.rows, rows)
        err, res = _Error(), _P()
        _check(_embed(s.s, s.rows, ctypes.byref(res), ctypes.byref(err)), err)
        n, w = _result_rows(res), _int()
        e = _result_embedding(res, ctypes.byref(w))
        w = w.value
        return [e[i * w:(i + 1) * w] for i in range(n)]
