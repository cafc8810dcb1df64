/*
 * cmd_embed.c — `loom embed MODEL --data CSV --out FILE.npy`: the fused
 * embedding of every good row of the CSV (the fusion MLP's last hidden
 * layer, in evaluation mode), one row each in input order, as a NumPy .npy
 * file (format 1.0: little-endian float32, C order, shape (rows, F)), and
 * beside it FILE.ids.txt with each row's id when the schema has an id
 * column (one per line; a backslash or line break inside an id is written
 * \\ or \n). Rows are read as predict reads them. Exit 0 ok, 1 failure, 2
 * usage.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *const CMD = "embed";

static void usage(FILE *f)
{
    fprintf(f, "usage: loom embed [OPTIONS] MODEL --data CSV --out FILE.npy\n\n"
               "Write the fused embedding of every row of CSV as a float32 .npy matrix,\n"
               "and the rows' ids to FILE.ids.txt when the schema has an id column.\n"
               "  --data CSV      the rows (the outputs' columns may be absent)\n"
               "  --out FILE.npy  the matrix\n"
               "  --batch N       rows per forward pass (default: the schema's batch size)\n"
               "  --images DIR    root of relative photo paths (default: the schema's)\n"
               "  --strict        a bad row stops the run (default: reported and skipped)\n"
               "  --threads N     compute threads (0: all cores)\n"
               "  --quiet         no data report (bad rows and photos are still reported)\n");
}

/* The .npy 1.0 header of a (rows, cols) float32 matrix: magic, version,
 * u16 little-endian length of the dict text, the dict padded with spaces
 * and ended by a newline so that the data starts at a multiple of 64. */
static bool npy_header(FILE *f, int64_t rows, int cols)
{
    char dict[128];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %d), }",
                     (long long)rows, cols);
    size_t total = loom_align_up(10 + (size_t)n + 1, 64);
    size_t hlen = total - 10;
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n) return false;
    for (size_t i = (size_t)n; i + 1 < hlen; i++) fputc(' ', f);
    return fputc('\n', f) != EOF;
}

static bool little_endian(void)
{
    uint32_t x = 1;
    unsigned char b;
    memcpy(&b, &x, 1);
    return b == 1;
}

static void put_id(FILE *f, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\')
            fputs("\\\\", f);
        else if (p[i] == '\n')
            fputs("\\n", f);
        else
            fputc(p[i], f);
    }
    fputc('\n', f);
}

/* Every batch's embedding into npy (after its header) and ids (may be NULL). */
static bool embed_all(struct loom_cli_input *in, FILE *npy, FILE *ids)
{
    struct loom_ctx c;
    loom_ctx_init(&c, 0, 0);
    c.frozen = true; /* the loaded model does not change */
    struct loom_error err = {0};
    enum loom_status st = in->src.seek(in->src.self, 0, 0, &err);
    int64_t written = 0;
    while (!st) {
        const struct loom_batch *b = NULL;
        if ((st = in->src.next(in->src.self, &b, &err)) || !b) break;
        loom_ctx_reset(&c);
        struct loom_forward fw;
        if ((st = loom_model_forward(&c, in->m, b, &fw))) {
            err = c.err;
            break;
        }
        size_t cells = (size_t)b->n * (size_t)in->m->width;
        if (fwrite(fw.embedding->data, sizeof(float), cells, npy) != cells) {
            st = loom_error_set(&err, LOOM_ERR_IO, "write failed: %s", strerror(errno));
            break;
        }
        for (int64_t i = 0; ids && i < b->n; i++) {
            size_t len = 0;
            const char *t = loom_dataset_row_id(in->d, b->rows[i], &len);
            put_id(ids, t ? t : "", t ? len : 0);
        }
        written += b->n;
    }
    loom_ctx_done(&c);
    if (!st && written != loom_dataset_rows(in->d))
        st = loom_error_set(&err, LOOM_ERR_INTERNAL, "%lld rows embedded of %lld",
                            (long long)written, (long long)loom_dataset_rows(in->d));
    if (st) loom_cli_error(CMD, &err);
    return !st;
}

/* FILE.npy -> FILE.ids.txt; otherwise FILE.ids.txt after the whole name. */
static char *ids_path(const char *out)
{
    size_t n = strlen(out);
    if (n > 4 && !strcmp(out + n - 4, ".npy")) n -= 4;
    char *p = NULL;
    if (asprintf(&p, "%.*s.ids.txt", (int)n, out) < 0) p = NULL;
    return p;
}

static int write_outputs(struct loom_cli_input *in, const char *out)
{
    bool has_id = false;
    for (int c = 0; c < in->m->schema.ncolumns; c++)
        has_id |= in->m->schema.columns[c].type == LOOM_COL_ID;
    char *idp = has_id ? ids_path(out) : NULL;
    FILE *npy = fopen(out, "wb"), *ids = idp ? fopen(idp, "w") : NULL;
    bool ok = npy && (!has_id || ids);
    if (!ok)
        fprintf(stderr, "loom %s: %s: cannot write: %s\n", CMD, npy ? idp : out, strerror(errno));
    ok = ok && npy_header(npy, loom_dataset_rows(in->d), in->m->width);
    ok = ok && embed_all(in, npy, ids);
    if (npy && fclose(npy) != 0) ok = false;
    if (ids && fclose(ids) != 0) ok = false;
    if (!ok) { /* no half-written matrix left behind */
        unlink(out);
        if (idp) unlink(idp);
    } else {
        fprintf(stderr, "loom %s: %s: %lld x %d float32%s%s\n", CMD, out,
                (long long)loom_dataset_rows(in->d), in->m->width, idp ? ", ids in " : "",
                idp ? idp : "");
    }
    free(idp);
    return ok ? LOOM_EXIT_OK : LOOM_EXIT_FAIL;
}

int loom_cmd_embed(int argc, char **argv)
{
    struct loom_cli_input_opts o = {
        .targets_optional = true, .lenient = true, .split = LOOM_SPLIT_TEST, .threads = -1};
    const char *out = NULL;
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (loom_cli_is_help(a)) {
            usage(stdout);
            return LOOM_EXIT_OK;
        } else if (!strcmp(a, "--data") && has) {
            o.data = argv[++i];
        } else if (!strcmp(a, "--out") && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--images") && has) {
            o.images = argv[++i];
        } else if (!strcmp(a, "--batch") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 1, 65536, &v)) return LOOM_EXIT_USAGE;
            o.batch = (int)v;
        } else if (!strcmp(a, "--threads") && has) {
            if (!loom_cli_int(CMD, a, argv[++i], 0, 1024, &v)) return LOOM_EXIT_USAGE;
            o.threads = (int)v;
        } else if (!strcmp(a, "--strict")) {
            o.strict = true;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = true;
        } else if (a[0] == '-' || o.model) {
            usage(stderr);
            return LOOM_EXIT_USAGE;
        } else {
            o.model = a;
        }
    }
    if (!o.model || !o.data || !out) {
        if (o.model) fprintf(stderr, "loom %s: --data CSV and --out FILE.npy are required\n", CMD);
        usage(stderr);
        return LOOM_EXIT_USAGE;
    }
    if (!little_endian()) {
        fprintf(stderr, "loom %s: writing '<f4' .npy needs a little-endian machine\n", CMD);
        return LOOM_EXIT_FAIL;
    }
    struct loom_cli_input in;
    int rc = loom_cli_input_open(CMD, &o, &in);
    if (rc == LOOM_EXIT_OK && o.quiet && (in.rep.rows_bad || in.rep.images_bad))
        loom_cli_report(CMD, in.path, &in.rep);
    if (rc == LOOM_EXIT_OK) rc = write_outputs(&in, out);
    loom_cli_input_close(&in);
    return rc;
}
