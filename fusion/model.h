/*
 * model.h — a whole loom model assembled from a schema: one encoder per
 * branch (modules/encoder.h), a learned "missing" vector per branch for
 * modality dropout, the fusion MLP over the concatenated branch vectors, and
 * one head per output with its loss. It owns everything it uses: the
 * resolved schema, the fitted preprocessing (loaders/prep.h) and the
 * parameter store (core/store.h). Saving and opening (model_io.c) go through
 * the model file (core/model_file.h).
 *
 *   batch ─► encoder_b ─► [modality dropout] ─┐
 *                                            concat (N, ΣE_b)
 *            Linear → BatchNorm → ReLU → Dropout, per fusion layer
 *                                            └► embedding (N,F): the last layer's
 *                                               output before its dropout
 *            head_j: Linear (F → K_j) [→ range] ─► loss_j;  loss = Σ weight_j·loss_j
 *
 * Number outputs live in the *normalised* target space of the prep (after
 * the column's transform, minus the training mean, over the training std):
 * that is what the batch holds and what the loss compares. A schema range
 * [lo, hi] is written in the column's own units (what the CSV holds and
 * predictions report); the model maps both ends into the normalised space
 * (T = normalise ∘ transform, increasing, so [T(lo), T(hi)] is an interval)
 * and, for range_mode sigmoid, widens THAT interval by margin·(T(hi) − T(lo))
 * on each side. The margin is applied after the transform on purpose: a
 * price range [0, 10000] widened in dollars would reach −500, where log1p is
 * undefined, and the sigmoid saturates in the space it lives in, not in the
 * user's. range_mode clamp trains the linear output unclamped (a clamp has
 * no gradient outside the range, which would freeze a head that starts out
 * of it) and clamps predictions to [T(lo), T(hi)]. With transform log1p the
 * low end must be > −1.
 *
 * Heads: number Linear(F,1) (mse, mae, huber; huber_delta is in normalised
 * units, i.e. standard deviations of the transformed target); binary
 * Linear(F,1) with BCE (class_weights auto: pos_weight = negatives/positives
 * of the training rows); category Linear(F,K), K the prep's codes including
 * 0 = missing and 1 = unknown, softmax CE where codes 0 and 1 are never
 * targets (ignore_index) and auto class weights are N/(K'·n_k) over the K'
 * labels seen; set Linear(F,L) with multi-label BCE (auto: per-label
 * pos_weight); vector Linear(F,D) with mse, mae, huber or cosine. Auto
 * weights are capped at 1000 and live in the store as buffers (saved with
 * the model), set by loom_model_fit_class_weights. Rows whose target is
 * missing (present = 0, or category code 0/1) count in no loss.
 *
 * Thread safety: in evaluation mode (c->training false) a forward pass
 * writes nothing of the model (the forward takes it const; what a pass
 * produces, attention weights included, lives in its context's arena), so
 * any number of threads may run forwards of one model at once, each with its
 * own context (the C API's sessions). Training is single-threaded (one
 * context): a training forward updates the batch-norm running statistics.
 */
#ifndef LOOM_FUSION_MODEL_H
#define LOOM_FUSION_MODEL_H

#include "core/store.h"
#include "loaders/batch.h"
#include "loaders/prep.h"
#include "modules/encoder.h"

#define LOOM_CE_IGNORE (-1) /* category label that is no target (code 0 or 1) */

struct loom_model_opts {
    /* The encoder class of a kind; NULL: the registry's
     * (loom_encoder_class_of). For tests and for embedders that bring their
     * own encoders; must give the same classes when a saved model is opened. */
    const struct loom_encoder_class *(*encoder_class)(enum loom_encoder_kind kind);
};

struct loom_fusion_layer {
    struct loom_tensor *w, *b;                       /* (F_out, F_in), (F_out) */
    struct loom_tensor *gamma, *beta, *rmean, *rvar; /* batch norm; NULL without */
};

struct loom_head {
    int output, column; /* indices into schema outputs / columns */
    enum loom_col_type type;
    enum loom_loss loss;
    int width;                 /* K: values per row (number/binary 1) */
    struct loom_tensor *w, *b; /* (K, F), (K) */
    /* number with a range, in the normalised space (see above) */
    bool has_range;
    enum loom_range_mode range_mode;
    float lo, hi;           /* T(lo), T(hi) */
    float sig_lo, sig_hi;   /* sigmoid: widened by the margin */
    struct loom_tensor *cw; /* class weights (K) (category) or pos_weight (K)
                               (binary, set); a store buffer, NULL without */
    float huber_delta, weight;
};

struct loom_model {
    struct loom_schema schema; /* owned */
    struct loom_prep *prep;    /* owned */
    struct loom_store store;
    struct loom_model_opts opts;
    uint64_t seed;
    int nbranches;
    struct loom_encoder *enc;     /* (nbranches) */
    struct loom_tensor **missing; /* (nbranches): learned vectors (E_b); NULL
                                     when modality_dropout is 0 */
    float modality_dropout;
    int nlayers;
    struct loom_fusion_layer *layers;
    int fused_in; /* ΣE_b */
    int width;    /* F: the embedding's width (fused_in when no layer) */
    int nheads;   /* = schema.noutputs, in the schema's order */
    struct loom_head *heads;
};

/* One forward pass. Tensors are in the context's arena (valid until reset). */
struct loom_forward {
    int64_t n;
    struct loom_tensor **branch;   /* (nbranches): each branch's vector (N,E_b), after
                                      modality dropout */
    struct loom_tensor *embedding; /* (N,F) */
    struct loom_tensor **out;      /* (nheads): (N,K) head outputs: logits for
                                      binary/category/set; numbers in normalised
                                      space after the sigmoid range (unclamped);
                                      vectors as predicted */
    struct loom_tensor *loss;      /* (1), after loom_model_loss */
    float *losses;                 /* (nheads), after loom_model_loss */
    uint8_t *dropped;              /* (N·nbranches), row-major: 1 where modality
                                      dropout replaced the branch (NULL if none) */
    const float **attention;       /* (nbranches): a cnn branch with attention
                                      pooling: each photo's weight in its bag
                                      (loom_encoder_forward's layout); else NULL */
};

/* Build a model for schema s with the fitted prep p, every param initialised
 * from seed. On success the model takes ownership of both: *s is zeroed and
 * *p set to NULL; on failure the caller still owns them. opts may be NULL.
 * LOOM_ERR_SCHEMA for a range the transform cannot take (log1p with lo <= -1). */
LOOM_WUR enum loom_status loom_model_new(struct loom_schema *s, struct loom_prep **p, uint64_t seed,
                                         const struct loom_model_opts *opts,
                                         struct loom_model **out, struct loom_error *err);
/* Free everything; *m = NULL. Accepts NULL. */
void loom_model_free(struct loom_model **m);

/* The forward pass of batch b (c->training selects dropout, batch-norm batch
 * statistics and modality dropout, drawn from c->rng). Fills *f; returns
 * c->status (the reason in c->err). */
LOOM_WUR enum loom_status loom_model_forward(struct loom_ctx *c, const struct loom_model *m,
                                             const struct loom_batch *b, struct loom_forward *f);

/* The losses of a forward pass against the batch's targets: f->losses per
 * head and f->loss = Σ weight_j·loss_j (a head whose rows all miss their
 * target gives 0). Returns c->status. */
LOOM_WUR enum loom_status loom_model_loss(struct loom_ctx *c, struct loom_model *m,
                                          const struct loom_batch *b, struct loom_forward *f);

/* Set the auto class weights from the training targets: counts[j] holds,
 * for head j, its positives per label (binary: 1 entry, set: L), or rows per
 * code (category: K), and totals[j] the rows with a present target. Heads
 * without class_weights auto are left alone. */
void loom_model_set_class_weights(struct loom_model *m, const int64_t *const *counts,
                                  const int64_t *totals);

/* ---- predictions in the user's units ---- */

struct loom_prediction {
    enum loom_col_type type;
    int64_t n;
    int k;           /* values per row in value (number 1, binary 1, category K',
                        set L, vector D) */
    double *value;   /* (n,k): number in column units (range clamp applied);
                        binary P(1); category the probability of each label
                        (codes 2.., K' = K − 2, softmax over those); set P(label);
                        vector the vector */
    int32_t *code;   /* category: the most probable code (≥ 2); binary: 0/1;
                        else NULL */
    uint8_t *chosen; /* set: (n,L) 1 where P > 0.5; else NULL */
};

/* Decode head j of a forward pass. Arrays are heap memory owned by *out;
 * free with loom_prediction_done. */
LOOM_WUR enum loom_status loom_model_predict(const struct loom_model *m,
                                             const struct loom_forward *f, int j,
                                             struct loom_prediction *out, struct loom_error *err);
void loom_prediction_done(struct loom_prediction *p);
/* The same into caller memory (no allocation): value (f->n, k) with k as
 * loom_prediction's, code (f->n) for category and binary heads and chosen
 * (f->n, k) for set heads (NULL for the others; may be NULL when not
 * wanted). Returns k, or -1 for a bad argument. */
int loom_model_decode(const struct loom_model *m, const struct loom_forward *f, int j,
                      double *value, int32_t *code, uint8_t *chosen);

/* The name of value k of head j's prediction: category label k (code k+2),
 * set label k; NULL otherwise or out of range. *len gets its length. */
const char *loom_model_label(const struct loom_model *m, int j, int k, size_t *len);

/* The normalised value of v (column units) for number column col, or false
 * when the transform cannot take it (log1p of v <= -1). */
bool loom_model_encode_number(const struct loom_model *m, int col, double v, double *out);

/* ---- model files (model_io.c) ---- */

/* Extra metadata a checkpoint adds (train state); NULL/0 for none. */
struct loom_model_save_opts {
    bool with_optim;           /* the optimizer moments too (checkpoints) */
    const char *train_state;   /* JSON, stored as metadata "train_state" */
    const char *data_checksum; /* a fingerprint of the training data, stored as
                                  metadata "data_checksum" (NULL: none) */
};

/* Write the model file at path atomically (core/model_file.h): every param
 * and buffer, metadata "schema" (loom_schema_dump text), the prep blob as
 * the U8 tensor "prep", and whatever o adds. o may be NULL. */
LOOM_WUR enum loom_status loom_model_save(const struct loom_model *m, const char *path,
                                          const struct loom_model_save_opts *o,
                                          struct loom_error *err);

/* Open a model file: validated byte by byte (model_file), then the schema is
 * reloaded from its text (no file checks), the prep loaded with its own
 * validation, the model rebuilt and its weights loaded (every name and
 * shape checked). opts as for loom_model_new (NULL: the registry's
 * encoders, which is what the public loom_model_open of include/loom.h
 * does). */
LOOM_WUR enum loom_status loom_model_open_with(const char *path, const struct loom_model_opts *opts,
                                               struct loom_model **out, struct loom_error *err);

#endif
