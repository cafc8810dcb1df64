/*
 * test_ops.c — every op in the registry: its gradient against central finite
 * differences on each of its cases (one line "gradcheck <op> ok|FAIL" per
 * op, to be counted), and its fast kernels against their *_ref twins.
 */
#include <stdio.h>
#include <string.h>

#include "core/registry.h"
#include "tests/testlib.h"

static void gradcheck_op(void **state)
{
    const struct loom_op_info *op = *state;
    bool ok = true;
    double worst = 0;
    for (int k = 0; k < op->ncases; k++) {
        struct loom_gc_result r;
        loom_gradcheck(op, k, 42 + (uint64_t)k, &r);
        if (r.max_abs_err > worst) worst = r.max_abs_err;
        if (!r.ok) {
            fprintf(stderr, "gradcheck %s case %d: %s\n", op->name, k, r.detail);
            ok = false;
        } else if (r.checked == 0 && op->ncases == 1) {
            fprintf(stderr, "gradcheck %s: no element checked\n", op->name);
            ok = false;
        }
    }
    printf("gradcheck %s %s\n", op->name, ok ? "ok" : "FAIL");
    fprintf(stderr, "  (%s: %d cases, max |analytic - numeric| %.2g)\n", op->name, op->ncases,
            worst);
    fflush(stdout);
    assert_true(ok);
}

static void check_ref_op(void **state)
{
    const struct loom_op_info *op = *state;
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 1);
    struct loom_rng r;
    loom_rng_init(&r, 2024, 0);
    struct loom_error err = {0};
    enum loom_status st = op->check_ref(&c, &r, &err);
    if (st) fprintf(stderr, "check_ref %s: %s\n", op->name, err.message);
    loom_ctx_done(&c);
    assert_int_equal(st, LOOM_OK);
}

__attribute__((constructor)) static void register_ops(void)
{
    static char names[2 * 256][48];
    int k = 0;
    for (int i = 0; i < loom_op_count && k + 2 <= (int)LOOM_ARRAY_LEN(names); i++) {
        const struct loom_op_info *op = loom_ops[i];
        snprintf(names[k], sizeof names[k], "gradcheck_%s", op->name);
        loom_test_register_state(names[k++], gradcheck_op, (void *)op);
        if (op->check_ref) {
            snprintf(names[k], sizeof names[k], "ref_%s", op->name);
            loom_test_register_state(names[k++], check_ref_op, (void *)op);
        }
    }
}

/* Every op has at least one case and a unique name. */
LOOM_TEST(registry_is_complete)
{
    for (int i = 0; i < loom_op_count; i++) {
        assert_non_null(loom_ops[i]->name);
        assert_true(loom_ops[i]->ncases >= 1);
        assert_ptr_equal(loom_op_find(loom_ops[i]->name), loom_ops[i]);
    }
}
