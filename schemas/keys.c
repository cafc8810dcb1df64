/*
 * keys.c — every key of a schema with its range and its default: THE one
 * place defaults are written (docs/schema.md mirrors this file). Offsets
 * point into the struct of the section being read (T below).
 */
#include <limits.h>

#include "keys.h"

#define INF INFINITY

#define KEY(n, k, f, d, a, b, fl)                                                                  \
    {                                                                                              \
        .name = n, .kind = k, .off = offsetof(T, f), .dflt = d, .lo = a, .hi = b, .flags = fl      \
    }
#define INT(n, f, d, a, b)       KEY(n, LOOM_KEY_INT, f, d, a, b, 0)
#define I64(n, f, d, a, b)       KEY(n, LOOM_KEY_I64, f, d, a, b, 0)
#define INT_AUTO(n, f, a, b)     KEY(n, LOOM_KEY_INT_AUTO, f, "auto", a, b, 0)
#define FLOAT(n, f, d, a, b, fl) KEY(n, LOOM_KEY_FLOAT, f, d, a, b, fl)
#define BOOL(n, f, d)            KEY(n, LOOM_KEY_BOOL, f, d, 0, 0, 0)
#define STRING(n, f, d)          KEY(n, LOOM_KEY_STRING, f, d, 0, 0, 0)
#define CHAR(n, f, d)            KEY(n, LOOM_KEY_CHAR, f, d, 0, 0, 0)
#define LIST(n, f, d, a, b, fl)  KEY(n, LOOM_KEY_INT_LIST, f, d, a, b, fl)
#define PATH(n, k, f, d, fl)     KEY(n, k, f, d, 0, 0, fl)
#define ENUM(n, f, d, nm, mask)                                                                    \
    {                                                                                              \
        .name = n, .kind = LOOM_KEY_ENUM, .off = offsetof(T, f), .dflt = d, .names = nm,           \
        .allowed = mask                                                                            \
    }
#define MAP(n, s)                                                                                  \
    {                                                                                              \
        .name = n, .kind = LOOM_KEY_MAP, .dflt = "{}", .sub = &s                                   \
    }
#define OPT_MAP(n, f, s)                                                                           \
    {                                                                                              \
        .name = n, .kind = LOOM_KEY_OPT_MAP, .off = offsetof(T, f), .flags = LOOM_KF_NULLABLE,     \
        .sub = &s                                                                                  \
    }
#define TYPED(n, d, t)                                                                             \
    {                                                                                              \
        .name = n, .kind = LOOM_KEY_TYPED, .dflt = d, .typed = &t                                  \
    }
#define CUSTOM(n)                                                                                  \
    {                                                                                              \
        .name = n, .kind = LOOM_KEY_CUSTOM                                                         \
    }
#define SPEC(w, arr)                                                                               \
    {                                                                                              \
        .what = w, .keys = arr, .n = (int)LOOM_ARRAY_LEN(arr)                                      \
    }
#define BIT(v) (1u << (v))

/* ---- enum names (indexed by value, as in schema.h) ---- */

/* The reader stores every enum as an int. */
_Static_assert(sizeof(enum loom_col_type) == sizeof(int) && sizeof(enum loom_loss) == sizeof(int) &&
                   sizeof(enum loom_bad_row) == sizeof(int) &&
                   sizeof(enum loom_schedule_kind) == sizeof(int),
               "enums are int-sized");

const char *const loom_col_type_names[] = {"id",   "number", "binary", "category", "date",
                                           "text", "images", "set",    "vector",   NULL};
_Static_assert(LOOM_ARRAY_LEN(loom_col_type_names) == LOOM_COL_TYPE_COUNT + 1, "a name per type");
const char *const loom_encoder_names[] = {"mlp", "rnn", "cnn", NULL};
_Static_assert(LOOM_ARRAY_LEN(loom_encoder_names) == LOOM_ENC_COUNT + 1, "a name per encoder");
static const char *const transform_names[] = {"none", "log1p", NULL};
static const char *const missing_names[] = {"median", "mean", "zero", "drop", NULL};
static const char *const bad_row_names[] = {"skip", "stop", NULL};
static const char *const cell_names[] = {"lstm", "gru", NULL};
static const char *const seq_pool_names[] = {"mean",     "max",           "last",
                                             "mean_max", "last_mean_max", NULL};
static const char *const bag_pool_names[] = {"gated_attention", "attention", "mean", "max", NULL};
static const char *const fit_names[] = {"crop", "pad", NULL};
const char *const loom_loss_names[] = {"mse", "mae", "huber", "bce", "ce", "cosine", NULL};
static const char *const range_mode_names[] = {"sigmoid", "clamp", NULL};
static const char *const class_weights_names[] = {"none", "auto", NULL};
const char *const loom_metric_names[] = {"rmse",    "mae", "r2",     "auc", "accuracy",
                                         "logloss", "f1",  "cosine", NULL};
static const char *const optimizer_names[] = {"adamw", "sgd", NULL};
static const char *const schedule_names[] = {"constant", "warmup", "one_cycle", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};

/* ---- data ---- */

#define T struct loom_schema_data
static const struct loom_key split_keys[] = {
    FLOAT("valid", split.valid, "0.1", 0, 1, LOOM_KF_LO_OPEN | LOOM_KF_HI_OPEN),
    I64("seed", split.seed, "1", 0, (double)INT64_MAX),
};
static const struct loom_spec split_spec = SPEC("split", split_keys);
static const struct loom_key csv_keys[] = {
    CHAR("delimiter", csv.delimiter, "','"),
    ENUM("on_bad_row", csv.on_bad_row, "skip", bad_row_names, 0),
    FLOAT("max_bad_rows", csv.max_bad_rows, "0.01", 0, 1, 0),
};
static const struct loom_spec csv_spec = SPEC("csv", csv_keys);
static const struct loom_key data_keys[] = {
    PATH("train", LOOM_KEY_FILE, train, NULL, 0),
    PATH("valid", LOOM_KEY_FILE, valid, NULL, LOOM_KF_NULLABLE),
    PATH("test", LOOM_KEY_FILE, test, NULL, LOOM_KF_NULLABLE),
    /* Neither valid nor split: split with split's defaults (schema.c). */
    OPT_MAP("split", split.enabled, split_spec),
    PATH("images", LOOM_KEY_DIR, images, "'.'", 0),
    FLOAT("max_bad_images", max_bad_images, "0.01", 0, 1, 0),
    MAP("csv", csv_spec),
};
const struct loom_spec loom_spec_data = SPEC("data", data_keys);
#undef T

/* ---- columns ---- */

#define T struct loom_schema_column
static const struct loom_key number_keys[] = {
    ENUM("transform", number.transform, "none", transform_names, 0),
    ENUM("missing", number.missing, "median", missing_names, 0),
};
static const struct loom_key category_keys[] = {
    INT("min_count", category.min_count, "1", 1, INT_MAX),
    INT("max_categories", category.max_categories, "10000", 1, 10000000),
};
static const struct loom_key text_keys[] = {
    INT("max_tokens", text.max_tokens, "128", 1, 100000),
    INT("min_count", text.min_count, "2", 1, INT_MAX),
    INT("max_vocab", text.max_vocab, "30000", 1, 10000000),
    BOOL("lowercase", text.lowercase, "true"),
};
static const struct loom_key images_keys[] = {
    CHAR("separator", images.separator, "';'"),
    INT("max_images", images.max_images, "30", 1, 1000),
};
static const struct loom_key set_keys[] = {
    CHAR("separator", set.separator, "';'"),
    INT("min_count", set.min_count, "1", 1, INT_MAX),
};
static const struct loom_key vector_keys[] = {
    CHAR("separator", vector.separator, "';'"),
    INT_AUTO("dim", vector.dim, 1, 65536),
};
static const struct loom_spec id_spec = {.what = "id column"};
static const struct loom_spec number_spec = SPEC("number column", number_keys);
static const struct loom_spec binary_spec = {.what = "binary column"};
static const struct loom_spec category_spec = SPEC("category column", category_keys);
static const struct loom_spec date_spec = {.what = "date column"};
static const struct loom_spec text_spec = SPEC("text column", text_keys);
static const struct loom_spec images_spec = SPEC("images column", images_keys);
static const struct loom_spec set_spec = SPEC("set column", set_keys);
static const struct loom_spec vector_spec = SPEC("vector column", vector_keys);
static const struct loom_spec *const column_specs[LOOM_COL_TYPE_COUNT] = {
    [LOOM_COL_ID] = &id_spec,         [LOOM_COL_NUMBER] = &number_spec,
    [LOOM_COL_BINARY] = &binary_spec, [LOOM_COL_CATEGORY] = &category_spec,
    [LOOM_COL_DATE] = &date_spec,     [LOOM_COL_TEXT] = &text_spec,
    [LOOM_COL_IMAGES] = &images_spec, [LOOM_COL_SET] = &set_spec,
    [LOOM_COL_VECTOR] = &vector_spec,
};
const struct loom_typed loom_typed_column = {
    .key = "type",
    .off = offsetof(T, type),
    .names = loom_col_type_names,
    .per_type = column_specs,
};
#undef T

/* ---- branches ---- */

#define T struct loom_schema_branch
static const struct loom_key branch_common_keys[] = {CUSTOM("columns")};
static const struct loom_spec branch_common = SPEC("branch", branch_common_keys);
static const struct loom_key mlp_keys[] = {
    LIST("layers", mlp.layers, "[128]", 1, 65536, 0),
    FLOAT("dropout", mlp.dropout, "0.1", 0, 1, LOOM_KF_HI_OPEN),
    BOOL("batch_norm", mlp.batch_norm, "true"),
    INT_AUTO("embed", mlp.embed, 1, 4096),
};
static const struct loom_key conv1d_keys[] = {
    INT("kernel", rnn.conv1d.kernel, "3", 1, 31),
    INT("channels", rnn.conv1d.channels, "128", 1, 4096),
};
static const struct loom_spec conv1d_spec = SPEC("conv1d", conv1d_keys);
static const struct loom_key rnn_keys[] = {
    ENUM("cell", rnn.cell, "lstm", cell_names, 0),
    INT("layers", rnn.layers, "1", 1, 8),
    BOOL("bidirectional", rnn.bidirectional, "false"),
    INT("embed", rnn.embed, "64", 1, 4096),
    INT("hidden", rnn.hidden, "128", 1, 8192),
    FLOAT("dropout", rnn.dropout, "0", 0, 1, LOOM_KF_HI_OPEN),
    BOOL("share", rnn.share, "true"),
    ENUM("pool", rnn.pool, "mean_max", seq_pool_names, 0),
    OPT_MAP("conv1d", rnn.conv1d.enabled, conv1d_spec),
};
static const struct loom_key augment_keys[] = {
    BOOL("flip", cnn.augment.flip, "true"),
    BOOL("crop", cnn.augment.crop, "true"),
};
static const struct loom_spec augment_spec = SPEC("augment", augment_keys);
static const struct loom_key cnn_keys[] = {
    INT("image_size", cnn.image_size, "64", 8, 1024),
    LIST("channels", cnn.channels, "[32, 64, 128]", 1, 4096, LOOM_KF_NONEMPTY),
    ENUM("pool", cnn.pool, "gated_attention", bag_pool_names, 0),
    INT("attention", cnn.attention, "128", 1, 4096),
    ENUM("fit", cnn.fit, "crop", fit_names, 0),
    MAP("augment", augment_spec),
};
static const struct loom_spec mlp_spec = SPEC("mlp branch", mlp_keys);
static const struct loom_spec rnn_spec = SPEC("rnn branch", rnn_keys);
static const struct loom_spec cnn_spec = SPEC("cnn branch", cnn_keys);
static const struct loom_spec *const branch_specs[LOOM_ENC_COUNT] = {
    [LOOM_ENC_MLP] = &mlp_spec,
    [LOOM_ENC_RNN] = &rnn_spec,
    [LOOM_ENC_CNN] = &cnn_spec,
};
const struct loom_typed loom_typed_branch = {
    .key = "encoder",
    .off = offsetof(T, encoder),
    .names = loom_encoder_names,
    .common = &branch_common,
    .per_type = branch_specs,
};
#undef T

/* ---- outputs: keys and defaults depend on the column's type ---- */

#define T struct loom_schema_output
#define RANGE_KEY                                                                                  \
    {                                                                                              \
        .name = "range", .kind = LOOM_KEY_RANGE, .off = offsetof(T, has_range),                    \
        .off2 = offsetof(T, range), .flags = LOOM_KF_NULLABLE                                      \
    }
#define WEIGHT        FLOAT("weight", weight, "1", 0, INF, LOOM_KF_LO_OPEN)
#define CLASS_WEIGHTS ENUM("class_weights", class_weights, "none", class_weights_names, 0)
#define HUBER_DELTA   FLOAT("huber_delta", huber_delta, "1", 0, INF, LOOM_KF_LO_OPEN)
static const struct loom_key output_common_keys[] = {CUSTOM("type")};
static const struct loom_spec output_common = SPEC("output", output_common_keys);
static const struct loom_key number_out_keys[] = {
    ENUM("loss", loss, "mse", loom_loss_names,
         BIT(LOOM_LOSS_MSE) | BIT(LOOM_LOSS_MAE) | BIT(LOOM_LOSS_HUBER)),
    HUBER_DELTA,
    RANGE_KEY,
    ENUM("range_mode", range_mode, "sigmoid", range_mode_names, 0),
    FLOAT("margin", margin, "0.05", 0, 1, 0),
    WEIGHT,
    ENUM("metric", metric, "rmse", loom_metric_names,
         BIT(LOOM_METRIC_RMSE) | BIT(LOOM_METRIC_MAE) | BIT(LOOM_METRIC_R2)),
};
static const struct loom_key binary_out_keys[] = {
    ENUM("loss", loss, "bce", loom_loss_names, BIT(LOOM_LOSS_BCE)),
    CLASS_WEIGHTS,
    WEIGHT,
    ENUM("metric", metric, "auc", loom_metric_names,
         BIT(LOOM_METRIC_AUC) | BIT(LOOM_METRIC_ACCURACY) | BIT(LOOM_METRIC_LOGLOSS)),
};
static const struct loom_key category_out_keys[] = {
    ENUM("loss", loss, "ce", loom_loss_names, BIT(LOOM_LOSS_CE)),
    CLASS_WEIGHTS,
    WEIGHT,
    ENUM("metric", metric, "accuracy", loom_metric_names,
         BIT(LOOM_METRIC_ACCURACY) | BIT(LOOM_METRIC_LOGLOSS) | BIT(LOOM_METRIC_F1)),
};
static const struct loom_key set_out_keys[] = {
    ENUM("loss", loss, "bce", loom_loss_names, BIT(LOOM_LOSS_BCE)),
    CLASS_WEIGHTS,
    WEIGHT,
    ENUM("metric", metric, "f1", loom_metric_names,
         BIT(LOOM_METRIC_F1) | BIT(LOOM_METRIC_AUC) | BIT(LOOM_METRIC_LOGLOSS)),
};
static const struct loom_key vector_out_keys[] = {
    ENUM("loss", loss, "mse", loom_loss_names,
         BIT(LOOM_LOSS_MSE) | BIT(LOOM_LOSS_MAE) | BIT(LOOM_LOSS_HUBER) | BIT(LOOM_LOSS_COSINE)),
    HUBER_DELTA,
    WEIGHT,
    ENUM("metric", metric, "cosine", loom_metric_names,
         BIT(LOOM_METRIC_COSINE) | BIT(LOOM_METRIC_RMSE)),
};
static const struct loom_spec number_out = SPEC("number output", number_out_keys);
static const struct loom_spec binary_out = SPEC("binary output", binary_out_keys);
static const struct loom_spec category_out = SPEC("category output", category_out_keys);
static const struct loom_spec set_out = SPEC("set output", set_out_keys);
static const struct loom_spec vector_out = SPEC("vector output", vector_out_keys);
static const struct loom_spec *const output_specs[LOOM_COL_TYPE_COUNT] = {
    [LOOM_COL_NUMBER] = &number_out,     [LOOM_COL_BINARY] = &binary_out,
    [LOOM_COL_CATEGORY] = &category_out, [LOOM_COL_SET] = &set_out,
    [LOOM_COL_VECTOR] = &vector_out,
};
const struct loom_typed loom_typed_output = {
    .key = "type",
    .off = offsetof(T, type),
    .names = loom_col_type_names,
    .common = &output_common,
    .per_type = output_specs,
};
#undef T

/* ---- fusion ---- */

#define T struct loom_schema_fusion
static const struct loom_key fusion_keys[] = {
    LIST("layers", layers, "[256]", 1, 65536, 0),
    FLOAT("dropout", dropout, "0.1", 0, 1, LOOM_KF_HI_OPEN),
    BOOL("batch_norm", batch_norm, "true"),
    FLOAT("modality_dropout", modality_dropout, "0", 0, 1, LOOM_KF_HI_OPEN),
};
const struct loom_spec loom_spec_fusion = SPEC("fusion", fusion_keys);
#undef T

/* ---- training ---- */

#define T struct loom_schema_training
static const struct loom_key optimizer_common_keys[] = {
    FLOAT("lr", optimizer.lr, "0.001", 0, 10, LOOM_KF_LO_OPEN),
    FLOAT("momentum", optimizer.momentum, "0.9", 0, 1, LOOM_KF_HI_OPEN),
};
static const struct loom_key adamw_keys[] = {
    FLOAT("weight_decay", optimizer.weight_decay, "0.01", 0, INF, 0),
    FLOAT("beta2", optimizer.beta2, "0.999", 0, 1, LOOM_KF_HI_OPEN),
    FLOAT("eps", optimizer.eps, "1e-08", 0, 1, LOOM_KF_LO_OPEN),
};
static const struct loom_key sgd_keys[] = {
    FLOAT("weight_decay", optimizer.weight_decay, "0", 0, INF, 0),
    BOOL("nesterov", optimizer.nesterov, "false"),
};
static const struct loom_spec optimizer_common = SPEC("optimizer", optimizer_common_keys);
static const struct loom_spec adamw_spec = SPEC("adamw optimizer", adamw_keys);
static const struct loom_spec sgd_spec = SPEC("sgd optimizer", sgd_keys);
static const struct loom_spec *const optimizer_specs[] = {
    [LOOM_OPTIMIZER_ADAMW] = &adamw_spec,
    [LOOM_OPTIMIZER_SGD] = &sgd_spec,
};
static const struct loom_typed optimizer_typed = {
    .key = "type",
    .off = offsetof(T, optimizer.type),
    .names = optimizer_names,
    .common = &optimizer_common,
    .per_type = optimizer_specs,
    .shorthand = true,
};
static const struct loom_key warmup_keys[] = {
    I64("warmup_steps", schedule.warmup_steps, "100", 0, 1e12),
    FLOAT("start_factor", schedule.start_factor, "0.1", 0, 1, 0),
};
static const struct loom_key one_cycle_keys[] = {
    FLOAT("pct_start", schedule.pct_start, "0.25", 0, 1, LOOM_KF_LO_OPEN | LOOM_KF_HI_OPEN),
    FLOAT("div_factor", schedule.div_factor, "25", 0, INF, LOOM_KF_LO_OPEN),
    FLOAT("final_div_factor", schedule.final_div_factor, "10000", 0, INF, LOOM_KF_LO_OPEN),
    FLOAT("mom_max", schedule.mom_max, "0.95", 0, 1, LOOM_KF_HI_OPEN),
    FLOAT("mom_min", schedule.mom_min, "0.85", 0, 1, LOOM_KF_HI_OPEN),
};
static const struct loom_spec constant_spec = {.what = "constant schedule"};
static const struct loom_spec warmup_spec = SPEC("warmup schedule", warmup_keys);
static const struct loom_spec one_cycle_spec = SPEC("one_cycle schedule", one_cycle_keys);
static const struct loom_spec *const schedule_specs[] = {
    [LOOM_SCHEDULE_KIND_CONSTANT] = &constant_spec,
    [LOOM_SCHEDULE_KIND_WARMUP] = &warmup_spec,
    [LOOM_SCHEDULE_KIND_ONE_CYCLE] = &one_cycle_spec,
};
static const struct loom_typed schedule_typed = {
    .key = "type",
    .off = offsetof(T, schedule.type),
    .names = schedule_names,
    .per_type = schedule_specs,
    .shorthand = true,
};
static const struct loom_key early_keys[] = {
    /* "loss" or "OUTPUT.METRIC"; checked against the outputs (schema.c) */
    STRING("metric", early_stopping.metric, "loss"),
    INT("patience", early_stopping.patience, "0", 0, 100000),
};
static const struct loom_spec early_spec = SPEC("early_stopping", early_keys);
static const struct loom_key training_keys[] = {
    INT("epochs", epochs, "10", 1, 1000000),
    INT("batch_size", batch_size, "64", 1, 65536),
    TYPED("optimizer", "adamw", optimizer_typed),
    TYPED("schedule", "one_cycle", schedule_typed),
    FLOAT("clip_norm", clip_norm, "0", 0, INF, 0),
    MAP("early_stopping", early_spec),
    I64("seed", seed, "1", 0, (double)INT64_MAX),
    INT("threads", threads, "0", 0, 1024),
    ENUM("precision", precision, "fp32", precision_names, 0),
    PATH("checkpoint_dir", LOOM_KEY_PATH, checkpoint_dir, "checkpoints", 0),
};
const struct loom_spec loom_spec_training = SPEC("training", training_keys);
#undef T

/* ---- top level: each section has its own reader (schema.c) ---- */

static const struct loom_key top_keys[] = {
    CUSTOM("data"),   CUSTOM("columns"), CUSTOM("branches"),
    CUSTOM("fusion"), CUSTOM("outputs"), CUSTOM("training"),
};
const struct loom_spec loom_spec_top = SPEC("the schema", top_keys);
