/*
 * registry.h — the table of ops, found by name. Each op file defines one
 * `const struct loom_op_info loom_op_<name>` (or several) and registry.def
 * has one line per entry: adding an op touches its file, that line and one
 * meson line. The table drives the gradient checks and the fast-vs-reference
 * tests over every op (tests/core).
 */
#ifndef LOOM_CORE_REGISTRY_H
#define LOOM_CORE_REGISTRY_H

#include "gradcheck.h"

struct loom_op_info {
    const char *name;
    /* Gradient-check cases: build case k (0 <= k < ncases) from inputs made
     * with loom_gc_* and return the op's output. Cases cover the edge shapes
     * (batch of 1, empty bag, sequence of length 1, ...). */
    int ncases;
    struct loom_tensor *(*gc_case)(struct loom_ctx *c, struct loom_gc *gc, int k);
    /* Compare the fast kernel(s) with the *_ref twin(s) on random shapes,
     * including sizes that are not multiples of the vector width. NULL only
     * when the op has no separate fast kernel (say why in its file). */
    enum loom_status (*check_ref)(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err);
    double rtol, atol; /* gradient-check tolerances; 0 = defaults (gradcheck.h) */
    float step;        /* finite-difference step; 0 = default */
};

extern const struct loom_op_info *const loom_ops[];
extern const int loom_op_count;
const struct loom_op_info *loom_op_find(const char *name);

#endif
