/*
 * malloc_count.c — counts the allocator calls of the whole process (every
 * thread, every library: oneDNN's operator new and libgomp end in malloc
 * too) by replacing malloc and friends with glibc's own __libc_* entry
 * points plus a counter, as glibc allows ("Replacing malloc" in its manual).
 * Under a sanitizer the sanitizer owns malloc: counting is then off.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "fixtures.h"

#if defined(__SANITIZE_ADDRESS__)
#define AX_NO_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define AX_NO_COUNT 1
#endif
#endif

#ifndef AX_NO_COUNT
static atomic_bool counting;
static atomic_long calls;

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);
void *__libc_memalign(size_t align, size_t n);

void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
int posix_memalign(void **out, size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);
void *memalign(size_t align, size_t n);

#define NWHERE (1 << 16)
static void *where[NWHERE]; /* the callers of the first NWHERE calls */

#define count()                                                                                    \
    do {                                                                                           \
        if (atomic_load_explicit(&counting, memory_order_relaxed)) {                               \
            long k_ = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);                  \
            if (k_ < NWHERE) where[k_] = __builtin_return_address(0);                              \
        }                                                                                          \
    } while (0)

void *malloc(size_t n)
{
    count();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count();
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    count();
    if (align < sizeof(void *) || (align & (align - 1))) return 22; /* EINVAL */
    void *p = __libc_memalign(align, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

bool ax_malloc_count_start(void)
{
    atomic_store(&calls, 0);
    atomic_store(&counting, true);
    return true;
}

long ax_malloc_count_stop(void)
{
    atomic_store(&counting, false);
    return atomic_load(&calls);
}

long ax_malloc_count_by(int max, const char **lib, long *n)
{
    long total = atomic_load(&calls), mine = 0;
    Dl_info self;
    if (!dladdr((void *)ax_malloc_count_start, &self)) return -1;
    int nlib = 0;
    for (long k = 0; k < total && k < NWHERE; k++) {
        Dl_info di;
        const char *name = dladdr(where[k], &di) && di.dli_fname ? di.dli_fname : "?";
        if (dladdr(where[k], &di) && di.dli_fbase == self.dli_fbase) mine++;
        int q = 0;
        while (q < nlib && strcmp(lib[q], name)) q++;
        if (q == nlib && nlib < max) lib[nlib] = name, n[nlib++] = 0;
        if (q < nlib) n[q]++;
    }
    for (int q = nlib; q < max; q++) lib[q] = NULL;
    return mine;
}
#else
bool ax_malloc_count_start(void)
{
    return false;
}

long ax_malloc_count_stop(void)
{
    return 0;
}

long ax_malloc_count_by(int max, const char **lib, long *n)
{
    for (int q = 0; q < max; q++) lib[q] = NULL, n[q] = 0;
    return 0;
}
#endif
