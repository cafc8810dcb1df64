/*
 * concat.c — concatenation along the last dim and its inverse, split. Both
 * see their tensors as rows (every dim but the last) of varying widths; the
 * leading dims must agree. One kernel moves rows between the wide tensor and
 * its pieces, copying (forward) or accumulating (backward): concat's
 * backward is split's forward with +=, and the other way round.
 */
#include <string.h>

#include "../ops.h"
#include "../registry.h"
#include "../threads.h"
#include "check.h"

#define PAR_MIN 32768

/* wide (R,W), pieces[i] (R,cols[i]) with sum cols = W. to_wide: pieces into
 * wide, else wide into pieces; add: += instead of copying. NULL pieces are
 * skipped (inputs or outputs without a gradient). Rows go to threads, so a
 * piece given twice (concat(x, x)) is only ever written by one thread per
 * row. */
static void pieces_rows(float *wide, float *const *pieces, const int64_t *cols, int n, int64_t W,
                        bool to_wide, bool add, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        float *w = wide + r * W;
        for (int i = 0; i < n; i++) {
            int64_t C = cols[i];
            if (pieces[i] && C) {
                float *p = pieces[i] + r * C;
                float *restrict dst = to_wide ? w : p;
                const float *restrict src = to_wide ? p : w;
                if (add)
                    for (int64_t j = 0; j < C; j++) dst[j] += src[j];
                else
                    memcpy(dst, src, (size_t)C * sizeof *dst);
            }
            w += C;
        }
    }
}

static void pieces_move(float *wide, float *const *pieces, const int64_t *cols, int n, int64_t R,
                        int64_t W, bool to_wide, bool add)
{
    LOOM_OMP_SPLIT(loom_omp_fork(R * W, PAR_MIN) && R > 1, R, r0, r1,
                   pieces_rows(wide, pieces, cols, n, W, to_wide, add, r0, r1));
}

/* The same by index arithmetic, one element at a time. */
static void pieces_move_ref(float *wide, float *const *pieces, const int64_t *cols, int n,
                            int64_t R, int64_t W, bool to_wide, bool add)
{
    int64_t off = 0;
    for (int i = 0; i < n; off += cols[i], i++)
        for (int64_t r = 0; r < R && pieces[i]; r++)
            for (int64_t j = 0; j < cols[i]; j++) {
                float *a = &wide[r * W + off + j], *b = &pieces[i][r * cols[i] + j];
                float *dst = to_wide ? a : b, src = to_wide ? *b : *a;
                *dst = add ? *dst + src : src;
            }
}

/* Scratch that both ops keep for backward: per piece its tensor, width and
 * a data/gradient pointer. */
struct pieces_saved {
    struct loom_tensor *wide;
    struct loom_tensor **ts;
    int64_t *cols;
    float **ptrs;
    int n;
    int64_t R, W;
};

static bool pieces_alloc(struct loom_ctx *c, struct pieces_saved *s, int n)
{
    s->n = n;
    s->ts = loom_arena_alloc(&c->arena, (size_t)n * sizeof *s->ts);
    s->cols = loom_arena_alloc(&c->arena, (size_t)n * sizeof *s->cols);
    s->ptrs = loom_arena_alloc(&c->arena, (size_t)n * sizeof *s->ptrs);
    if (s->ts && s->cols && s->ptrs) return true;
    loom_fail(c, LOOM_ERR_NOMEM, "step arena: out of memory (concat)");
    return false;
}

/* Rows of t: the product of every dim but the last. */
static int64_t rows_of(const struct loom_tensor *t)
{
    int64_t R = 1;
    for (int d = 0; d < t->ndim - 1; d++) R *= t->shape[d];
    return R;
}

static bool same_leading(const struct loom_tensor *a, const struct loom_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim - 1; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* ---- concat ---- */

static void concat_backward(struct loom_ctx *c, void *p)
{
    struct pieces_saved *s = p;
    if (!s->wide->grad) return;
    for (int i = 0; i < s->n; i++) {
        s->ptrs[i] = NULL;
        if (loom_needs_grad(c, s->ts[i]) && !(s->ptrs[i] = loom_grad(c, s->ts[i]))) return;
    }
    pieces_move(s->wide->grad, s->ptrs, s->cols, s->n, s->R, s->W, false, true);
}

struct loom_tensor *loom_concat(struct loom_ctx *c, int n, struct loom_tensor *const *xs)
{
    if (n < 1 || !xs) return loom_fail(c, LOOM_ERR_INVALID, "concat: no inputs (n = %d)", n);
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL;
    int64_t W = 0;
    for (int i = 0; i < n; i++) {
        if (!same_leading(xs[i], xs[0])) {
            char a[64], b[64];
            return loom_fail(c, LOOM_ERR_SHAPE,
                             "concat: input %d is %s but input 0 is %s: every dim but the last "
                             "must agree",
                             i, loom_shape_str(xs[i], a, sizeof a),
                             loom_shape_str(xs[0], b, sizeof b));
        }
        W += xs[i]->shape[xs[i]->ndim - 1]; /* no overflow: each input exists */
    }
    int64_t shape[LOOM_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[xs[0]->ndim - 1] = W;
    struct loom_tensor *y = loom_tensor_new(c, xs[0]->ndim, shape);
    struct pieces_saved s = {.wide = y, .R = rows_of(xs[0]), .W = W};
    if (!y || !pieces_alloc(c, &s, n)) return NULL;
    for (int i = 0; i < n; i++) {
        s.ts[i] = xs[i];
        s.cols[i] = xs[i]->shape[xs[i]->ndim - 1];
        s.ptrs[i] = xs[i]->data;
    }
    pieces_move(y->data, s.ptrs, s.cols, n, s.R, W, true, false);
    if (loom_needs_grad_any(c, n, xs)) {
        struct pieces_saved *sv = loom_tape_record(c, concat_backward, sizeof *sv, y);
        if (!sv) return NULL;
        *sv = s;
    }
    return y;
}

/* ---- split ---- */

static void split_backward(struct loom_ctx *c, void *p)
{
    struct pieces_saved *s = p;
    bool any = false;
    for (int i = 0; i < s->n; i++) any |= (s->ptrs[i] = s->ts[i]->grad) != NULL;
    if (!any) return;
    float *dx = loom_grad(c, s->wide);
    if (!dx) return;
    pieces_move(dx, s->ptrs, s->cols, s->n, s->R, s->W, true, true);
}

bool loom_split(struct loom_ctx *c, struct loom_tensor *x, int n, const int64_t *sizes,
                struct loom_tensor **outs)
{
    if (!x) return false;
    if (n < 1 || !sizes || !outs) {
        loom_fail(c, LOOM_ERR_INVALID, "split: no outputs (n = %d)", n);
        return false;
    }
    char a[64];
    int64_t W = x->shape[x->ndim - 1], sum = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0 || sizes[i] > W - sum) {
            loom_fail(c, LOOM_ERR_SHAPE, "split: sizes[%d] = %lld does not fit %s (width %lld)", i,
                      (long long)sizes[i], loom_shape_str(x, a, sizeof a), (long long)W);
            return false;
        }
        sum += sizes[i];
    }
    if (sum != W) {
        loom_fail(c, LOOM_ERR_SHAPE, "split: sizes sum to %lld, but %s has width %lld",
                  (long long)sum, loom_shape_str(x, a, sizeof a), (long long)W);
        return false;
    }
    struct pieces_saved s = {.wide = x, .R = rows_of(x), .W = W};
    if (!pieces_alloc(c, &s, n)) return false;
    int64_t shape[LOOM_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    for (int i = 0; i < n; i++) {
        shape[x->ndim - 1] = sizes[i];
        if (!(s.ts[i] = loom_tensor_new(c, x->ndim, shape))) return false;
        s.cols[i] = sizes[i];
        s.ptrs[i] = s.ts[i]->data;
    }
    pieces_move(x->data, s.ptrs, s.cols, n, s.R, W, false, false);
    if (loom_needs_grad(c, x)) {
        /* One entry for every output: it runs after all their consumers. */
        struct pieces_saved *sv = loom_tape_record(c, split_backward, sizeof *sv, NULL);
        if (!sv) return false;
        *sv = s;
        for (int i = 0; i < n; i++) s.ts[i]->flags |= LOOM_T_REQUIRES_GRAD;
    }
    memcpy(outs, s.ts, (size_t)n * sizeof *outs);
    return true;
}

/* ---- checks ---- */

static struct loom_tensor *gc_concat(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    struct loom_tensor *x, *xs[3];
    switch (k) {
    case 0:
        xs[0] = loom_gc_input(gc, LOOM_SHAPE(2, 3), -1, 1);
        xs[1] = loom_gc_input(gc, LOOM_SHAPE(2, 1), -1, 1);
        xs[2] = loom_gc_input(gc, LOOM_SHAPE(2, 4), -1, 1);
        return loom_concat(c, 3, xs);
    case 1: /* 3-D, a batch of one */
        xs[0] = loom_gc_input(gc, LOOM_SHAPE(1, 2, 3), -1, 1);
        xs[1] = loom_gc_input(gc, LOOM_SHAPE(1, 2, 5), -1, 1);
        return loom_concat(c, 2, xs);
    case 2: /* one input */
        xs[0] = loom_gc_input(gc, LOOM_SHAPE(3, 5), -1, 1);
        return loom_concat(c, 1, xs);
    case 3: /* the same input twice around an empty one */
        x = loom_gc_input(gc, LOOM_SHAPE(3, 2), -1, 1);
        xs[0] = x, xs[2] = x;
        xs[1] = loom_gc_input(gc, LOOM_SHAPE(3, 0), -1, 1);
        return loom_concat(c, 3, xs);
    default: /* a constant next to an input: only the input gets a gradient */
        xs[0] = loom_gc_const(gc, LOOM_SHAPE(2, 2), -1, 1);
        xs[1] = loom_gc_input(gc, LOOM_SHAPE(2, 3), -1, 1);
        return loom_concat(c, 2, xs);
    }
}

/* Each case builds its loss on every output it means to check: the outputs
 * concatenated in another order (an offset error shows), one squared. */
static struct loom_tensor *gc_split(struct loom_ctx *c, struct loom_gc *gc, int k)
{
    struct loom_tensor *o[3], *x;
    switch (k) {
    case 0:
        x = loom_gc_input(gc, LOOM_SHAPE(3, 7), -1, 1);
        if (!loom_split(c, x, 3, (const int64_t[]){2, 4, 1}, o)) return NULL;
        return loom_concat(c, 3, (struct loom_tensor *[]){o[2], o[0], o[1]});
    case 1: /* one output, 3-D */
        x = loom_gc_input(gc, LOOM_SHAPE(2, 2, 5), -1, 1);
        if (!loom_split(c, x, 1, (const int64_t[]){5}, o)) return NULL;
        return o[0];
    case 2: /* an empty output and an unused one: their parts get zero */
        x = loom_gc_input(gc, LOOM_SHAPE(1, 6), -1, 1);
        if (!loom_split(c, x, 3, (const int64_t[]){0, 3, 3}, o)) return NULL;
        return o[2];
    default: /* a nonlinear use of one piece */
        x = loom_gc_input(gc, LOOM_SHAPE(4, 5), -1, 1);
        if (!loom_split(c, x, 2, (const int64_t[]){2, 3}, o)) return NULL;
        return loom_concat(c, 2, (struct loom_tensor *[]){loom_mul(c, o[1], o[1]), o[0]});
    }
}

/* Both directions, copy and add, against the reference, on random widths
 * (some 0) and row counts past PAR_MIN. */
static enum loom_status check_ref(struct loom_ctx *c, struct loom_rng *r, struct loom_error *err)
{
    (void)c;
    for (int t = 0; t < 16; t++) {
        int n = 1 + (int)loom_rng_below(r, 5);
        int64_t R = t < 12 ? 1 + (int64_t)loom_rng_below(r, 30) : 3001 + t, W = 0, cols[5];
        for (int i = 0; i < n; i++) W += cols[i] = loom_rng_below(r, 23);
        bool to_wide = t & 1, add = t & 2;
        struct loom_check_buf wide, wide0, pc[5], pc0[5];
        float *ptr[5], *ptr0[5];
        loom_check_rand(&wide, r, R * W), loom_check_copy(&wide0, &wide);
        for (int i = 0; i < n; i++) {
            loom_check_rand(&pc[i], r, R * cols[i]), loom_check_copy(&pc0[i], &pc[i]);
            /* Adding back skips pieces without a gradient. */
            bool skip = add && i == 1;
            ptr[i] = skip ? NULL : pc[i].p, ptr0[i] = skip ? NULL : pc0[i].p;
        }
        pieces_move(wide.p, ptr, cols, n, R, W, to_wide, add);
        pieces_move_ref(wide0.p, ptr0, cols, n, R, W, to_wide, add);
        enum loom_status st = loom_check_close(err, "concat wide", &wide, &wide0, 1e-6);
        for (int i = 0; i < n && !st; i++)
            st = loom_check_close(err, "concat piece", &pc[i], &pc0[i], 1e-6);
        loom_check_free(2, &wide, &wide0);
        for (int i = 0; i < n; i++) loom_check_free(2, &pc[i], &pc0[i]);
        if (st) return st;
    }
    return LOOM_OK;
}

const struct loom_op_info loom_op_concat = {
    .name = "concat", .ncases = 5, .gc_case = gc_concat, .check_ref = check_ref};
const struct loom_op_info loom_op_split = {
    .name = "split", .ncases = 4, .gc_case = gc_split, .check_ref = check_ref};
