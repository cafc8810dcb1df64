/*
 * model_file_impl.h — what the model file's reader (model_file.c) and writer
 * (model_file_write.c) share: the canonical JSON flags, the checksum of the
 * canonical serialisation, the order of tensors in the data, name checks.
 * Private to core/.
 */
#ifndef LOOM_CORE_MODEL_FILE_IMPL_H
#define LOOM_CORE_MODEL_FILE_IMPL_H

#include <jansson.h>

#include "model_file.h"

/* Tensor bytes are stored little-endian and copied as they are. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "model files are little-endian: a big-endian host needs byte swaps here");

/* The one JSON form loom writes, and the only one it reads back. */
#define LOOM_MF_JSON_FLAGS JSON_COMPACT

/* Defaults of struct loom_mf_limits; the writer stays within them. */
#define LOOM_MF_DEFAULT_MAX_HEADER   ((size_t)64 << 20)
#define LOOM_MF_DEFAULT_MAX_TENSORS  ((size_t)16384)
#define LOOM_MF_DEFAULT_MAX_METADATA ((size_t)4096)

#define LOOM_MF_KEY_FORMAT  "format"
#define LOOM_MF_KEY_VERSION "format_version"
#define LOOM_MF_KEY_EXTRA   "loom.extra_tensors"
#define LOOM_MF_KEY_CRC     "loom.crc32"
#define LOOM_MF_METADATA    "__metadata__"
#define LOOM_MF_OPTIM_M     "optim.m."
#define LOOM_MF_OPTIM_V     "optim.v."

/* The dtype called s (exact, e.g. "F32"); false when unknown. */
bool loom_mf_dtype_parse(const char *s, enum loom_dtype *out);

/* A tensor name loom accepts: non-empty, valid UTF-8, no control characters,
 * not "__metadata__". */
bool loom_mf_name_ok(const char *s);
bool loom_mf_utf8_ok(const char *s, size_t n);

/* The order of tensors in the data and in the checksum: offset, then size
 * (empty tensors first), then name. For qsort over `const struct
 * loom_mf_tensor *` elements. */
int loom_mf_cmp_offset(const void *a, const void *b);

/* CRC-32 (zlib) of the canonical serialisation: tensors in loom_mf_cmp_offset
 * order (name, dtype, shape, begin, end), the metadata sorted by key without
 * LOOM_MF_KEY_CRC, then every tensor's bytes in order. */
uint32_t loom_mf_checksum(const struct loom_mf_tensor *const *t, size_t n,
                          const struct loom_mf_meta *meta, size_t nmeta);

#endif
