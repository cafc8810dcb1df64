/*
 * text.c — UTF-8 validation and strict number parsing (see text.h).
 * Numbers: a strict scanner checks the syntax, then strtod_l in the "C"
 * locale converts (correct rounding is strtod's job, not ours).
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "loaders/text.h"

size_t loom_utf8_check(const void *s, size_t n)
{
    const unsigned char *p = s;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) { /* ASCII runs 8 bytes at a time */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* Table 3-7 of the Unicode standard: the lead byte fixes the length
         * and the range of the second byte (which rules out overlongs,
         * surrogates and code points past U+10FFFF). */
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return i;
        }
        if (n - i - 1 < need) return i;
        if (p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xc0) != 0x80) return i;
        i += need + 1;
    }
    return n;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static size_t skip_digits(const char *s, size_t i, size_t end)
{
    while (i < end && s[i] >= '0' && s[i] <= '9') i++;
    return i;
}

enum loom_status loom_parse_number(const char *s, size_t len, double *out)
{
    size_t b = 0, e = len;
    while (b < e && is_blank(s[b])) b++;
    while (e > b && is_blank(s[e - 1])) e--;
    size_t i = b;
    if (i < e && (s[i] == '+' || s[i] == '-')) i++;
    size_t int_end = skip_digits(s, i, e);
    size_t ndigits = int_end - i;
    i = int_end;
    if (i < e && s[i] == '.') {
        size_t frac_end = skip_digits(s, i + 1, e);
        ndigits += frac_end - (i + 1);
        i = frac_end;
    }
    if (ndigits == 0) return LOOM_ERR_PARSE;
    if (i < e && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < e && (s[i] == '+' || s[i] == '-')) i++;
        size_t exp_end = skip_digits(s, i, e);
        if (exp_end == i) return LOOM_ERR_PARSE;
        i = exp_end;
    }
    if (i != e) return LOOM_ERR_PARSE;

    pthread_once(&c_locale_once, c_locale_init);
    if (!c_locale) return LOOM_ERR_NOMEM;
    char small[128];
    size_t n = e - b;
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) return LOOM_ERR_NOMEM;
    memcpy(copy, s + b, n);
    copy[n] = '\0';
    double v = strtod_l(copy, NULL, c_locale);
    if (copy != small) free(copy);
    if (!isfinite(v)) return LOOM_ERR_NUMERIC;
    *out = v;
    return LOOM_OK;
}
