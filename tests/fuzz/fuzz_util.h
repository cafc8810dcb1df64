/*
 * fuzz_util.h — what the libFuzzer harnesses share: a hard check that
 * aborts (a broken invariant is a finding, like a crash), a file in memory
 * for the readers that only take a path (memfd, named /proc/self/fd/N), and
 * the checksum fix-ups of the model file and of the prep's blobs.
 *
 * The fix-up: a mutated model file almost always fails its CRC-32, which
 * would hide everything behind the check from the fuzzer. The reader's
 * error says what the contents give ("checksum mismatch (the file says X,
 * its contents give Y)"), so a harness may write Y over X (same length)
 * and open again: the mutation then reaches the tensors, the metadata and
 * their consumers. Nothing here changes the library.
 */
#ifndef LOOM_TESTS_FUZZ_UTIL_H
#define LOOM_TESTS_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "core/model_file.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A memory file holding data[0..n), reused across runs; its path in path.
 * Returns false when the system refuses (the harness then skips). */
static inline bool fuzz_memfile(const void *data, size_t n, char *path, size_t path_len)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("loom-fuzz", MFD_CLOEXEC)) < 0) return false;
    if (ftruncate(fd, 0) != 0) return false;
    for (size_t off = 0; off < n;) {
        ssize_t w = pwrite(fd, (const char *)data + off, n - off, (off_t)off);
        if (w <= 0) return false;
        off += (size_t)w;
    }
    snprintf(path, path_len, "/proc/self/fd/%d", fd);
    return true;
}

/* Open buf[0..n) (a private copy the caller owns: it may be patched) as a
 * model file; on a checksum mismatch write the contents' checksum over the
 * file's and try once more. The copy must stay alive while *out is open. */
static inline enum loom_status fuzz_mf_open_fixed(char *buf, size_t n, struct loom_model_file **out,
                                                  struct loom_error *err)
{
    enum loom_status st = loom_model_file_open_memory(buf, n, NULL, out, err);
    const char *m = st ? strstr(err->message, "checksum mismatch (the file says ") : NULL;
    if (!m) return st;
    char want[9], have[9];
    if (sscanf(m, "checksum mismatch (the file says %8[0-9a-f], its contents give %8[0-9a-f])",
               want, have) != 2 ||
        strlen(want) != 8 || strlen(have) != 8)
        return st;
    static const char key[] = "\"loom.crc32\":\"";
    char *at = memmem(buf, n, key, sizeof key - 1);
    if (!at || (size_t)(at - buf) + sizeof key - 1 + 8 > n) return st;
    at += sizeof key - 1;
    if (memcmp(at, want, 8) != 0) return st;
    memcpy(at, have, 8);
    return loom_model_file_open_memory(buf, n, NULL, out, err);
}

/* The same idea for loaders/blob.h's blobs (the saved prep and the
 * encoders' state nested in it: tag, u32 version, u64 payload length,
 * payload, CRC-32): from the last tag found to the first, so that inner
 * blobs are sealed before the ones around them, set the payload length from
 * the enclosing length (the whole buffer at offset 0, else the u32 string
 * length just before the tag) and write the CRC. */
static inline void fuzz_blob_fix(uint8_t *b, size_t n)
{
    static const char tags[][5] = {"PREP", "LCAT", "LNUM", "LSET", "LVEC", "LVOC"};
    for (size_t i = n >= 20 ? n - 20 : 0; n >= 20; i--) {
        bool tag = false;
        for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++) tag |= !memcmp(b + i, tags[k], 4);
        size_t len = 0;
        if (tag && i == 0) len = n;
        if (tag && i >= 4) len = b[i - 4] | b[i - 3] << 8 | b[i - 2] << 16 | (size_t)b[i - 1] << 24;
        if (tag && len >= 20 && len <= n - i) {
            uint64_t payload = len - 20;
            for (int k = 0; k < 8; k++) b[i + 8 + k] = (uint8_t)(payload >> (8 * k));
            uint32_t crc = (uint32_t)crc32(0L, b + i, (unsigned)(len - 4));
            for (int k = 0; k < 4; k++) b[i + len - 4 + k] = (uint8_t)(crc >> (8 * k));
        }
        if (i == 0) break;
    }
}

#endif
