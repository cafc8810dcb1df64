/*
 * fuzz_schema.c — the schema reader (schemas/schema.h) on arbitrary text:
 * loom_schema_load_mem without file checks. A schema that loads is dumped,
 * the dump loaded again and dumped again: the two dumps must be identical
 * (schema.h promises that loading a dump gives the same schema).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "schemas/schema.h"

static char *dump(const struct loom_schema *s, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    FUZZ_CHECK(f);
    enum loom_status st = loom_schema_dump(s, f);
    FUZZ_CHECK(fclose(f) == 0);
    FUZZ_CHECK(st == LOOM_OK);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loom_schema_options so = {.skip_file_checks = true};
    struct loom_schema s = {0};
    struct loom_diag d = {0};
    enum loom_status st =
        loom_schema_load_mem((const char *)data, size, NULL, "fuzz.yaml", &so, &s, &d);
    FUZZ_CHECK(st == LOOM_OK ? d.count == 0 : d.count > 0 || d.nomem);
    loom_diag_done(&d);
    if (st != LOOM_OK) return 0;
    size_t n1 = 0, n2 = 0;
    char *t1 = dump(&s, &n1);
    loom_schema_free(&s);
    struct loom_schema s2 = {0};
    st = loom_schema_load_mem(t1, n1, NULL, "fuzz.yaml", &so, &s2, &d);
    if (st != LOOM_OK && d.count > 0)
        fprintf(stderr, "dump does not load: line %d: %s\n", d.items[0].line, d.items[0].message);
    FUZZ_CHECK(st == LOOM_OK);
    char *t2 = dump(&s2, &n2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0)
        fprintf(stderr, "--- dump 1\n%s--- dump 2\n%s", t1, t2);
    FUZZ_CHECK(n1 == n2 && memcmp(t1, t2, n1) == 0);
    loom_schema_free(&s2);
    loom_diag_done(&d);
    free(t1);
    free(t2);
    return 0;
}
