/*
 * model_file.h — loom's model file, in the safetensors layout:
 *
 *   [8 bytes] N, the header length, little-endian u64
 *   [N bytes] JSON: {"__metadata__": {"key": "string", ...},
 *                    "<tensor>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
 *             padded with spaces so that the data start 8-byte aligned
 *   [rest]    the raw little-endian tensor bytes; offsets are relative to the
 *             data start; tensors cover the data exactly (no hole, no overlap)
 *
 * so that Python users can open it with the `safetensors` package. It holds
 * the parameter store (every param and buffer under its own name), optionally
 * the optimizer moments ("optim.m.<name>", "optim.v.<name>": checkpoints),
 * extra named tensors of the caller (preprocessing state) and metadata
 * strings, which are opaque here (the schema, preprocessing and training
 * state are the callers' business: core knows nothing of schemas).
 *
 * The writer adds metadata "format": "loom", "format_version": "1",
 * "loom.extra_tensors" (the caller's extra tensor names, one per line) and
 * "loom.crc32": zlib's CRC-32 of a canonical serialisation of everything else
 * (every tensor's name, dtype, shape, offsets and bytes; every other metadata
 * key and value, sorted). The reader also requires the header to be in the
 * canonical form the writer produces (compact JSON, minimal space padding),
 * so any change anywhere in the file is detected. Output is deterministic:
 * save -> open -> save gives identical bytes.
 *
 * A model file references no other file (no paths, no external data).
 * Thread safety: an open model file is immutable; any number of threads may
 * call the accessors at once.
 */
#ifndef LOOM_CORE_MODEL_FILE_H
#define LOOM_CORE_MODEL_FILE_H

#include "store.h"

#define LOOM_MF_MAX_DIMS       8
#define LOOM_MF_FORMAT_VERSION 1

/* The safetensors dtypes loom reads and writes ("F32", "I64", ...). */
enum loom_dtype {
    LOOM_DTYPE_BOOL,
    LOOM_DTYPE_U8,
    LOOM_DTYPE_I8,
    LOOM_DTYPE_U16,
    LOOM_DTYPE_I16,
    LOOM_DTYPE_F16,
    LOOM_DTYPE_BF16,
    LOOM_DTYPE_U32,
    LOOM_DTYPE_I32,
    LOOM_DTYPE_F32,
    LOOM_DTYPE_U64,
    LOOM_DTYPE_I64,
    LOOM_DTYPE_F64,
    LOOM_DTYPE_COUNT
};

/* "F32", ...; "?" for an invalid value. */
const char *loom_dtype_name(enum loom_dtype dt);
/* Bytes per element; 0 for an invalid value. */
size_t loom_dtype_size(enum loom_dtype dt);

/* THE size arithmetic of model files: the bytes of a tensor of ndim dims
 * (0..LOOM_MF_MAX_DIMS; ndim 0 is a scalar). False (and *bytes untouched) on
 * an invalid dtype, a bad ndim, a negative dim, or when the element count or
 * the byte count overflows size_t. */
bool loom_mf_tensor_bytes(enum loom_dtype dt, int ndim, const int64_t *shape, size_t *bytes);

/* What a tensor of a model file is, by its name. */
enum loom_mf_kind {
    LOOM_MF_PARAM,  /* a param or buffer of the store */
    LOOM_MF_MOMENT, /* "optim.m.<param>" or "optim.v.<param>" */
    LOOM_MF_EXTRA,  /* one of the caller's extra tensors */
};

/* A tensor: an input of the writer (extras) and an output of the reader. */
struct loom_mf_tensor {
    const char *name; /* non-empty UTF-8, no control characters */
    enum loom_dtype dtype;
    int ndim;
    int64_t shape[LOOM_MF_MAX_DIMS];
    /* Reader: points into the file (read-only; aligned to the dtype's size in
     * files loom writes, so memcpy before typed access in others). */
    const void *data;
    size_t bytes;           /* reader only */
    size_t offset;          /* reader only: from the data start */
    enum loom_mf_kind kind; /* reader only */
};

struct loom_mf_meta {
    const char *key;
    const char *value;
};

/* What to save. Extra tensor names must not collide with the store's names
 * nor start with "optim."; metadata keys "format", "format_version" and
 * "loom.*" belong to the writer. */
struct loom_mf_save {
    const struct loom_store *store; /* finalized; NULL: no params */
    bool with_optim;                /* also the moments of trainable params */
    const struct loom_mf_tensor *extra;
    size_t nextra;
    const struct loom_mf_meta *meta;
    size_t nmeta;
};

/* Write the model file atomically: a temporary file in the same directory,
 * written, fsync'ed, renamed over path, and the directory fsync'ed. On any
 * failure the temporary file is removed, a previous file at path is left
 * intact, and LOOM_ERR_IO names the path and the system's reason
 * (LOOM_ERR_INVALID for a bad argument, LOOM_ERR_NOMEM). The file gets mode
 * 0644. Not thread-safe for one store being modified meanwhile. */
LOOM_WUR enum loom_status loom_model_file_save(const char *path, const struct loom_mf_save *what,
                                               struct loom_error *err);

/* The same bytes in memory: *data (free() it) and *size, set on success. */
LOOM_WUR enum loom_status loom_model_file_to_memory(const struct loom_mf_save *what, void **data,
                                                    size_t *size, struct loom_error *err);

/* Bounds applied before trusting a file; 0 in a field means its default. */
struct loom_mf_limits {
    size_t max_header;   /* bytes of JSON header; default 64 MiB */
    size_t max_tensors;  /* default 16384 */
    size_t max_metadata; /* metadata entries; default 4096 */
};

struct loom_model_file; /* opaque, immutable once open */

/* Open and validate a model file (mapped read-only). Everything is checked
 * before *out is set: sizes against the file size before any allocation,
 * the JSON (LOOM_ERR_PARSE with line and column), every entry's fields,
 * dtypes and shapes, offsets (sorted, no overlap, no hole, covering the data
 * exactly), names, metadata, "format" == "loom", "format_version" (a newer
 * one: LOOM_ERR_UNSUPPORTED), the canonical form and the checksum
 * (LOOM_ERR_FORMAT "checksum mismatch"). limits may be NULL. The caller owns
 * *out: release it with loom_model_file_close. */
LOOM_WUR enum loom_status loom_model_file_open(const char *path,
                                               const struct loom_mf_limits *limits,
                                               struct loom_model_file **out,
                                               struct loom_error *err);

/* The same on bytes in memory, which are NOT copied: they must stay valid and
 * unchanged until loom_model_file_close (fuzzing, tests, embedded models). */
LOOM_WUR enum loom_status loom_model_file_open_memory(const void *data, size_t size,
                                                      const struct loom_mf_limits *limits,
                                                      struct loom_model_file **out,
                                                      struct loom_error *err);

/* Unmap and free; sets *mf to NULL. Accepts NULL and a NULL *mf. */
void loom_model_file_close(struct loom_model_file **mf);

/* Tensors in file (offset) order; the pointer stays valid until close. */
size_t loom_model_file_count(const struct loom_model_file *mf);
const struct loom_mf_tensor *loom_model_file_tensor(const struct loom_model_file *mf, size_t i);
/* The tensor called name, or NULL. O(log n). */
const struct loom_mf_tensor *loom_model_file_find(const struct loom_model_file *mf,
                                                  const char *name);

/* Metadata, sorted by key (the writer's keys included); NULL when absent. */
size_t loom_model_file_meta_count(const struct loom_model_file *mf);
const struct loom_mf_meta *loom_model_file_meta_at(const struct loom_model_file *mf, size_t i);
const char *loom_model_file_meta(const struct loom_model_file *mf, const char *key);
/* True for the keys the writer owns ("format", "format_version", "loom.*"). */
bool loom_mf_meta_reserved(const char *key);

/* Copy the params and buffers (and with with_optim the moments of the
 * trainable params) into a built, finalized store. Every param of the store
 * must be in the file as F32 with the same shape, and every non-extra tensor
 * of the file must belong to the store; a mismatch names the tensor
 * (LOOM_ERR_FORMAT missing or unknown, LOOM_ERR_SHAPE shape or dtype). Nothing
 * is copied unless everything matches. */
LOOM_WUR enum loom_status loom_model_file_load_store(const struct loom_model_file *mf,
                                                     struct loom_store *store, bool with_optim,
                                                     struct loom_error *err);

#endif
