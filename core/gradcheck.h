/*
 * gradcheck.h — checking an op's backward against central finite
 * differences. A case builds its inputs with loom_gc_* and returns the op's
 * output y; the checker takes L = sum(y * R) for a fixed random R (summed in
 * double), gets dL/dx from backward, then for every element of every input
 * measures (L(x+h) - L(x-h)) / 2h. They must agree within
 * |a - n| <= atol + rtol * max(|a|, |n|); the report also gives ggml's
 * asymmetry |a - n| / |a + n|.
 *
 * A case is run many times: it must build the same graph every time. The
 * context's random stream is reset before each run, so dropout masks repeat.
 */
#ifndef LOOM_CORE_GRADCHECK_H
#define LOOM_CORE_GRADCHECK_H

#include "tensor.h"

#define LOOM_GC_RTOL 2e-3
#define LOOM_GC_ATOL 2e-4
#define LOOM_GC_STEP 1e-2f

struct loom_gc;

/* An input whose gradient is checked: uniform in [lo, hi], the same values in
 * every run of the case (the checker perturbs them). With `away` > 0 the
 * values keep at least that distance from 0 (for kinks such as ReLU's). */
struct loom_tensor *loom_gc_input(struct loom_gc *gc, int ndim, const int64_t *shape, float lo,
                                  float hi);
struct loom_tensor *loom_gc_input_away(struct loom_gc *gc, int ndim, const int64_t *shape, float lo,
                                       float hi, float away);
/* A float input that is not checked (running statistics, targets). */
struct loom_tensor *loom_gc_const(struct loom_gc *gc, int ndim, const int64_t *shape, float lo,
                                  float hi);
/* Integers uniform in [lo, hi] (inclusive), the same in every run. */
int32_t *loom_gc_ints(struct loom_gc *gc, size_t n, int32_t lo, int32_t hi);
/* Caller-chosen integers, copied once (offsets, lengths). */
const int64_t *loom_gc_i64(struct loom_gc *gc, size_t n, const int64_t *values);
const int32_t *loom_gc_i32(struct loom_gc *gc, size_t n, const int32_t *values);

struct loom_op_info;

struct loom_gc_result {
    bool ok;
    int64_t checked;    /* elements compared */
    double max_abs_err; /* max |a - n| */
    double max_asym;    /* max |a - n| / |a + n| over elements with |a + n| > atol */
    char detail[640];   /* first failure: input, index, analytic, numeric */
};

/* Run case k of op. false with detail when the case could not be built. */
bool loom_gradcheck(const struct loom_op_info *op, int k, uint64_t seed,
                    struct loom_gc_result *res);

#endif
