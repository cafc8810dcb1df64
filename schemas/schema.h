/*
 * schema.h — the resolved schema: what a schema file says, checked, with
 * every default filled in, as plain C structs. The loaders, the model
 * builder and the trainer read it; none of them sees YAML. docs/schema.md
 * documents every key; the defaults live in one table (keys.c).
 *
 * Loading checks everything before any work starts and reports EVERY error
 * (a list, each with file, line and column): unknown keys with a suggestion,
 * wrong types and ranges, columns that feed no branch or two, encoders that
 * cannot take a column's type, outputs used as inputs, files that do not
 * exist. loom_schema_dump writes the resolved schema back as YAML, every
 * default explicit; loading that text gives the same schema.
 *
 * Ownership: a struct loom_schema owns all its strings and arrays; free them
 * with loom_schema_free. Read-only use is thread-safe.
 */
#ifndef LOOM_SCHEMAS_SCHEMA_H
#define LOOM_SCHEMAS_SCHEMA_H

#include "diag.h"

/* Column types (the `type:` of a column). */
enum loom_col_type {
    LOOM_COL_ID,       /* carried through to predictions, never a feature */
    LOOM_COL_NUMBER,   /* a real number */
    LOOM_COL_BINARY,   /* 0/1, true/false, yes/no */
    LOOM_COL_CATEGORY, /* one label among many */
    LOOM_COL_DATE,     /* ISO 8601 date, with or without time */
    LOOM_COL_TEXT,     /* free text, tokenized */
    LOOM_COL_IMAGES,   /* a bag of image paths, separated by `separator` */
    LOOM_COL_SET,      /* labels separated by `separator` (tags, multi-label targets) */
    LOOM_COL_VECTOR,   /* numbers separated by `separator` (embedding targets) */
    LOOM_COL_TYPE_COUNT
};

enum loom_transform { LOOM_TRANSFORM_NONE, LOOM_TRANSFORM_LOG1P };
/* How a missing number is filled (always with a 0/1 "was missing" input),
 * or `drop`: rows missing it are skipped. */
enum loom_missing { LOOM_MISSING_MEDIAN, LOOM_MISSING_MEAN, LOOM_MISSING_ZERO, LOOM_MISSING_DROP };
enum loom_bad_row { LOOM_BAD_ROW_SKIP, LOOM_BAD_ROW_STOP };

/* (Not "enum loom_encoder": C tags share one namespace, and struct
 * loom_encoder is modules/encoder.h's encoder.) */
enum loom_encoder_kind { LOOM_ENC_MLP, LOOM_ENC_RNN, LOOM_ENC_CNN, LOOM_ENC_COUNT };
enum loom_rnn_cell { LOOM_CELL_LSTM, LOOM_CELL_GRU };
/* Pooling of an RNN's outputs over time: one pool, or a concatenation
 * (mean_max: [mean, max], the reference model's; last_mean_max: [last, mean,
 * max]). */
enum loom_seq_pool {
    LOOM_SEQ_POOL_MEAN,
    LOOM_SEQ_POOL_MAX,
    LOOM_SEQ_POOL_LAST,
    LOOM_SEQ_POOL_MEAN_MAX,
    LOOM_SEQ_POOL_LAST_MEAN_MAX
};
/* Pooling of a bag of image vectors into one. */
enum loom_bag_pool {
    LOOM_BAG_POOL_GATED_ATTENTION,
    LOOM_BAG_POOL_ATTENTION,
    LOOM_BAG_POOL_MEAN,
    LOOM_BAG_POOL_MAX
};
/* Making a photo square: centre crop, or pad the short side. */
enum loom_image_fit { LOOM_FIT_CROP, LOOM_FIT_PAD };

enum loom_loss {
    LOOM_LOSS_MSE,
    LOOM_LOSS_MAE,
    LOOM_LOSS_HUBER,
    LOOM_LOSS_BCE,
    LOOM_LOSS_CE,
    LOOM_LOSS_COSINE
};
enum loom_range_mode { LOOM_RANGE_SIGMOID, LOOM_RANGE_CLAMP };
enum loom_class_weights { LOOM_CLASS_WEIGHTS_NONE, LOOM_CLASS_WEIGHTS_AUTO };
enum loom_metric {
    LOOM_METRIC_RMSE,
    LOOM_METRIC_MAE,
    LOOM_METRIC_R2,
    LOOM_METRIC_AUC,
    LOOM_METRIC_ACCURACY,
    LOOM_METRIC_LOGLOSS,
    LOOM_METRIC_F1,
    LOOM_METRIC_COSINE
};

enum loom_optimizer { LOOM_OPTIMIZER_ADAMW, LOOM_OPTIMIZER_SGD };
enum loom_schedule_kind {
    LOOM_SCHEDULE_KIND_CONSTANT,
    LOOM_SCHEDULE_KIND_WARMUP,
    LOOM_SCHEDULE_KIND_ONE_CYCLE
};
enum loom_precision { LOOM_PRECISION_FP32, LOOM_PRECISION_BF16 };

/* A place in the schema file (1-based). */
struct loom_schema_pos {
    int line, column;
};

/* A list of sizes (layer widths, channel counts). */
struct loom_int_list {
    int *v;
    int n;
};

struct loom_schema_data {
    char *train; /* path, resolved against the schema's directory */
    char *valid; /* NULL: the validation rows are split from train */
    char *test;  /* NULL: none */
    struct {
        bool enabled; /* true exactly when valid is NULL */
        double valid; /* fraction of train rows held out, in (0, 1) */
        int64_t seed;
    } split;
    char *images;          /* root of relative image paths (a directory) */
    double max_bad_images; /* share of rows with a bad image before training stops */
    struct {
        char delimiter;               /* one byte, not a quote or newline */
        enum loom_bad_row on_bad_row; /* skip (and count) or stop */
        double max_bad_rows;          /* skip: share of bad rows before stopping */
    } csv;
};

struct loom_schema_column {
    char *name; /* the CSV header name */
    enum loom_col_type type;
    struct loom_schema_pos at; /* where it is declared, for later messages */
    int branch;                /* index of the branch it feeds, or -1 */
    int output;                /* index of the output it is, or -1 */
    /* Per type; only the struct of the column's type is meaningful. */
    struct {
        enum loom_transform transform;
        enum loom_missing missing;
    } number;
    struct {
        int min_count;      /* rarer labels share the "unknown" code */
        int max_categories; /* most frequent kept */
    } category;
    struct {
        int max_tokens; /* truncation */
        int min_count;  /* rarer tokens are "unknown" */
        int max_vocab;
        bool lowercase; /* with a marker token for capitalised words */
    } text;
    struct {
        char separator;
        int max_images; /* extra paths of a row are ignored */
    } images;
    struct {
        char separator;
        int min_count;
    } set;
    struct {
        char separator;
        int dim; /* 0: taken from the first row (`auto`) */
    } vector;
};

struct loom_schema_branch {
    char *name;
    enum loom_encoder_kind encoder;
    struct loom_schema_pos at;
    int *columns; /* indices into schema.columns, in the order listed */
    int ncolumns;
    /* Per encoder; only the struct of the branch's encoder is meaningful. */
    struct {
        struct loom_int_list layers; /* hidden widths; may be empty */
        double dropout;
        bool batch_norm;
        int embed; /* category embedding width; 0: from the category count (`auto`) */
    } mlp;
    struct {
        enum loom_rnn_cell cell;
        int layers;
        bool bidirectional;
        int embed, hidden; /* token embedding width, hidden width per direction */
        double dropout;
        bool share; /* one RNN for all text columns of the branch */
        enum loom_seq_pool pool;
        struct {
            bool enabled; /* a 1-D convolution in front of the RNN */
            int kernel, channels;
        } conv1d;
    } rnn;
    struct {
        int image_size;                /* S: photos become S×S (belongs to the branch: one CNN) */
        struct loom_int_list channels; /* per stage; at least one */
        enum loom_bag_pool pool;
        int attention; /* width of the attention's hidden layer */
        enum loom_image_fit fit;
        struct {
            bool flip, crop; /* training only: random horizontal flip, random crop */
        } augment;
    } cnn;
};

struct loom_schema_fusion {
    struct loom_int_list layers; /* the last width is the embedding's */
    double dropout;
    bool batch_norm;
    double modality_dropout; /* chance of zeroing a whole branch in training */
};

struct loom_schema_output {
    int column;              /* index into schema.columns; the name is that column's */
    enum loom_col_type type; /* the column's: number, binary, category, set or vector */
    struct loom_schema_pos at;
    enum loom_loss loss;
    double huber_delta; /* huber only */
    bool has_range;     /* number only: range[0] < range[1] */
    double range[2];
    enum loom_range_mode range_mode;
    double margin; /* sigmoid: the range is widened by margin·(hi − lo) each side */
    enum loom_class_weights class_weights; /* binary, category, set */
    double weight;                         /* this loss's weight in the sum */
    enum loom_metric metric;
};

struct loom_schema_training {
    int epochs;
    int batch_size;
    struct {
        enum loom_optimizer type;
        double lr;
        double weight_decay;
        double momentum; /* SGD's momentum, AdamW's β1 */
        bool nesterov;   /* SGD */
        double beta2;    /* AdamW */
        double eps;      /* AdamW */
    } optimizer;
    struct {
        enum loom_schedule_kind type;
        int64_t warmup_steps;    /* warmup */
        double start_factor;     /* warmup */
        double pct_start;        /* one_cycle */
        double div_factor;       /* one_cycle */
        double final_div_factor; /* one_cycle */
        double mom_max, mom_min; /* one_cycle */
    } schedule;
    double clip_norm; /* 0: no clipping */
    struct {
        char *metric;           /* "loss", or "OUTPUT.METRIC" */
        int output;             /* index of that output, -1 for "loss" */
        enum loom_metric which; /* when output >= 0 */
        int patience;           /* epochs without improvement; 0: never stop early */
    } early_stopping;
    int64_t seed;
    int threads; /* 0: all cores */
    enum loom_precision precision;
    char *checkpoint_dir; /* resolved against the schema's directory */
};

struct loom_schema {
    char *source;   /* the file (or name) it was read from, for messages */
    char *base_dir; /* relative paths were resolved against it; NULL: left as written */
    struct loom_schema_data data;
    struct loom_schema_column *columns;
    int ncolumns;
    struct loom_schema_branch *branches;
    int nbranches;
    struct loom_schema_fusion fusion;
    struct loom_schema_output *outputs;
    int noutputs;
    struct loom_schema_training training;
};

/* Options of a load; a zeroed struct (or NULL) means the defaults. */
struct loom_schema_options {
    size_t max_bytes;      /* the file's size limit; 0: 1 MiB */
    bool skip_file_checks; /* do not check that data files and the image root exist */
};

/* Read, check and resolve the schema file at path. Relative paths in it are
 * resolved against the file's directory (made absolute). On success fills
 * *out and returns LOOM_OK. Otherwise returns the first error's code
 * (LOOM_ERR_IO, _LIMIT, _PARSE, _SCHEMA, _NOMEM), leaves *out untouched and
 * puts EVERY error found in diag (appended; may be NULL), sorted by place.
 * opt may be NULL. Thread-safe. */
LOOM_WUR enum loom_status loom_schema_load(const char *path, const struct loom_schema_options *opt,
                                           struct loom_schema *out, struct loom_diag *diag);

/* The same from memory (a test, or a schema stored in a model file). name
 * names the text in errors (may be NULL: "<schema>"); relative paths are
 * resolved against base_dir, or left as written when base_dir is NULL. */
LOOM_WUR enum loom_status loom_schema_load_mem(const char *buf, size_t len, const char *base_dir,
                                               const char *name,
                                               const struct loom_schema_options *opt,
                                               struct loom_schema *out, struct loom_diag *diag);

/* Free what a loaded schema owns and zero it. Accepts NULL and a zeroed struct. */
void loom_schema_free(struct loom_schema *s);

/* Write s as YAML with every default explicit; loading the text again gives
 * the same schema (and the same dump). Returns LOOM_ERR_IO if a write failed. */
LOOM_WUR enum loom_status loom_schema_dump(const struct loom_schema *s, FILE *f);

/* Keep only the branches named in names[0..n) (an ablation): the other
 * branches, and the columns only they read, are removed and every index
 * renumbered; outputs, id columns, data and training are unchanged, so the
 * result is an ordinary schema (its dump loads to it). LOOM_ERR_SCHEMA for
 * a name that is no branch (the message names it, with a suggestion and the
 * schema's branches), LOOM_ERR_INVALID for an empty list. On failure *s is
 * unchanged. */
LOOM_WUR enum loom_status loom_schema_keep_branches(struct loom_schema *s, const char *const *names,
                                                    int n, struct loom_error *err);

/* Index of the column (branch, output) named name, or -1. */
int loom_schema_find_column(const struct loom_schema *s, const char *name);
int loom_schema_find_branch(const struct loom_schema *s, const char *name);

/* Names as written in a schema ("number", "mlp", "mse", ...); never NULL. */
const char *loom_col_type_name(enum loom_col_type t);
const char *loom_encoder_name(enum loom_encoder_kind e);
const char *loom_loss_name(enum loom_loss l);
const char *loom_metric_name(enum loom_metric m);

#endif
