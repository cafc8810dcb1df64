/*
 * tokenize.c — UTF-8 decoding, the lower-case table, character classes and
 * the word tokenizer (see tokenize.h for the rules). Not a full Unicode
 * segmenter: the classes below cover the scripts loom's users write in, and
 * everything unlisted is treated as a letter, which keeps unknown scripts in
 * whole words rather than shredding them.
 */
#include <string.h>

#include "tokenize.h"

size_t loom_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const uint8_t *b = (const uint8_t *)s;
    uint8_t c = b[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    uint8_t lo = 0x80, hi = 0xBF; /* the allowed range of the next byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, v = c & 0x0Fu;
        if (c == 0xE0) lo = 0xA0; /* no overlong forms */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, v = c & 0x07u;
        if (c == 0xF0) lo = 0x90; /* no overlong forms */
        if (c == 0xF4) hi = 0x8F; /* nothing past U+10FFFF */
    } else {
        *cp = LOOM_UTF8_REPLACEMENT; /* a continuation byte, C0, C1 or F5..FF */
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= len || b[i] < lo || b[i] > hi) {
            *cp = LOOM_UTF8_REPLACEMENT; /* the maximal subpart b[0..i) */
            return i;
        }
        v = (v << 6) | (b[i] & 0x3Fu);
        lo = 0x80, hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

bool loom_utf8_is_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = loom_utf8_decode(s + i, len - i, &cp);
        if (cp == LOOM_UTF8_REPLACEMENT && (n != 3 || memcmp(s + i, "\xEF\xBF\xBD", 3) != 0))
            return false; /* a replacement, not a U+FFFD of the text */
        i += n;
    }
    return true;
}

size_t loom_utf8_encode(uint32_t cp, char out[4])
{
    LOOM_ASSERT(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF));
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Case ranges. OFFSET: every code point in [lo, hi] is upper case and maps
 * to cp + delta (so [lo + delta, hi + delta] are their lower cases). PAIRS:
 * alternating upper/lower starting with upper at lo; upper maps to cp + 1.
 * Sorted by lo, not overlapping (the lookup is a binary search). */
enum case_kind { OFFSET, PAIRS };
static const struct case_range {
    uint32_t lo, hi;
    int32_t delta;
    enum case_kind kind;
} case_table[] = {
    {0x0041, 0x005A, 32, OFFSET},    /* A-Z */
    {0x00C0, 0x00D6, 32, OFFSET},    /* Latin-1 À..Ö */
    {0x00D8, 0x00DE, 32, OFFSET},    /* Ø..Þ */
    {0x0100, 0x012F, 1, PAIRS},      /* Ā..į */
    {0x0130, 0x0130, -199, OFFSET},  /* İ -> i (simple mapping) */
    {0x0132, 0x0137, 1, PAIRS},      /* Ĳ..ķ */
    {0x0139, 0x0148, 1, PAIRS},      /* Ĺ..ň */
    {0x014A, 0x0177, 1, PAIRS},      /* Ŋ..ŷ */
    {0x0178, 0x0178, -121, OFFSET},  /* Ÿ -> ÿ */
    {0x0179, 0x017E, 1, PAIRS},      /* Ź..ž */
    {0x0386, 0x0386, 38, OFFSET},    /* Ά */
    {0x0388, 0x038A, 37, OFFSET},    /* Έ Ή Ί */
    {0x038C, 0x038C, 64, OFFSET},    /* Ό */
    {0x038E, 0x038F, 63, OFFSET},    /* Ύ Ώ */
    {0x0391, 0x03A1, 32, OFFSET},    /* Α..Ρ */
    {0x03A3, 0x03AB, 32, OFFSET},    /* Σ..Ϋ */
    {0x0400, 0x040F, 80, OFFSET},    /* Ѐ..Џ */
    {0x0410, 0x042F, 32, OFFSET},    /* А..Я */
    {0x0460, 0x0481, 1, PAIRS},      /* Ѡ..ҁ */
    {0x048A, 0x04BF, 1, PAIRS},      /* Ҋ..ҿ */
    {0x04C0, 0x04C0, 15, OFFSET},    /* Ӏ -> ӏ */
    {0x04C1, 0x04CE, 1, PAIRS},      /* Ӂ..ӎ */
    {0x04D0, 0x052F, 1, PAIRS},      /* Ӑ..ԯ */
    {0x1E00, 0x1E95, 1, PAIRS},      /* Latin Extended Additional (Vietnamese, ...) */
    {0x1E9E, 0x1E9E, -7615, OFFSET}, /* ẞ -> ß */
    {0x1EA0, 0x1EFF, 1, PAIRS},      {0xFF21, 0xFF3A, 32, OFFSET}, /* fullwidth Ａ..Ｚ */
};

/* Lower-case letters with no upper case in the table above. */
static const uint32_t lower_only[] = {0x00DF, 0x0131, 0x0138, 0x0149,
                                      0x017F, 0x0390, 0x03B0, 0x03C2};

static const struct case_range *find_range(uint32_t cp)
{
    size_t lo = 0, hi = LOOM_ARRAY_LEN(case_table);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < case_table[mid].lo)
            hi = mid;
        else if (cp > case_table[mid].hi)
            lo = mid + 1;
        else
            return &case_table[mid];
    }
    return NULL;
}

static bool is_upper(uint32_t cp)
{
    const struct case_range *r = find_range(cp);
    return r && (r->kind == OFFSET || (cp - r->lo) % 2 == 0);
}

uint32_t loom_unicode_lower(uint32_t cp)
{
    const struct case_range *r = find_range(cp);
    if (!r || (r->kind == PAIRS && (cp - r->lo) % 2 == 1)) return cp;
    return (uint32_t)((int32_t)cp + r->delta);
}

static bool is_lower(uint32_t cp)
{
    if (cp >= 'a' && cp <= 'z') return true;
    if (cp < 0x80) return false;
    const struct case_range *r = find_range(cp);
    if (r) return r->kind == PAIRS && (cp - r->lo) % 2 == 1;
    for (size_t i = 0; i < LOOM_ARRAY_LEN(lower_only); i++)
        if (cp == lower_only[i]) return true;
    /* The lower halves of the OFFSET ranges. */
    for (size_t i = 0; i < LOOM_ARRAY_LEN(case_table); i++) {
        const struct case_range *c = &case_table[i];
        if (c->kind == OFFSET && (int64_t)cp >= (int64_t)c->lo + c->delta &&
            (int64_t)cp <= (int64_t)c->hi + c->delta)
            return true;
    }
    return false;
}

enum cls {
    C_SPACE, /* separates, never part of a token (whitespace, controls) */
    C_PUNCT, /* one token per character */
    C_IDEO,  /* one token per character (CJK ideographs, kana) */
    C_EMOJI, /* one token per emoji sequence */
    C_DIGIT, /* ASCII digits: a word character that also joins '.' and ',' */
    C_WORD,  /* letters, marks and everything unlisted */
};

static const struct cls_range {
    uint32_t lo, hi;
    enum cls cls;
} cls_table[] = {
    {0x0000, 0x001F, C_SPACE}, {0x0020, 0x0020, C_SPACE},   {0x0021, 0x002F, C_PUNCT},
    {0x0030, 0x0039, C_DIGIT}, {0x003A, 0x0040, C_PUNCT},   {0x005B, 0x0060, C_PUNCT},
    {0x007B, 0x007E, C_PUNCT}, {0x007F, 0x00A0, C_SPACE},   {0x00A1, 0x00A9, C_PUNCT},
    {0x00AB, 0x00B1, C_PUNCT}, {0x00B4, 0x00B4, C_PUNCT},   {0x00B6, 0x00B8, C_PUNCT},
    {0x00BB, 0x00BB, C_PUNCT}, {0x00BF, 0x00BF, C_PUNCT},   {0x00D7, 0x00D7, C_PUNCT},
    {0x00F7, 0x00F7, C_PUNCT}, {0x037E, 0x037E, C_PUNCT},   {0x0387, 0x0387, C_PUNCT},
    {0x055A, 0x055F, C_PUNCT}, {0x0589, 0x058A, C_PUNCT},   {0x060C, 0x060D, C_PUNCT},
    {0x061B, 0x061F, C_PUNCT}, {0x06D4, 0x06D4, C_PUNCT},   {0x0964, 0x0965, C_PUNCT},
    {0x1680, 0x1680, C_SPACE}, {0x2000, 0x200B, C_SPACE},   {0x200E, 0x200F, C_SPACE},
    {0x2010, 0x2027, C_PUNCT}, {0x2028, 0x202F, C_SPACE},   {0x2030, 0x205E, C_PUNCT},
    {0x205F, 0x206F, C_SPACE}, {0x20A0, 0x20CF, C_PUNCT},   {0x2100, 0x214F, C_PUNCT},
    {0x2190, 0x25FF, C_PUNCT}, {0x2600, 0x27BF, C_EMOJI},   {0x27C0, 0x2BFF, C_PUNCT},
    {0x2E00, 0x2E7F, C_PUNCT}, {0x3000, 0x3000, C_SPACE},   {0x3001, 0x303F, C_PUNCT},
    {0x3040, 0x30FF, C_IDEO},  {0x3100, 0x312F, C_IDEO},    {0x31F0, 0x31FF, C_IDEO},
    {0x3400, 0x4DBF, C_IDEO},  {0x4E00, 0x9FFF, C_IDEO},    {0xF900, 0xFAFF, C_IDEO},
    {0xFE10, 0xFE19, C_PUNCT}, {0xFE30, 0xFE6F, C_PUNCT},   {0xFEFF, 0xFEFF, C_SPACE},
    {0xFF01, 0xFF0F, C_PUNCT}, {0xFF1A, 0xFF20, C_PUNCT},   {0xFF3B, 0xFF40, C_PUNCT},
    {0xFF5B, 0xFF65, C_PUNCT}, {0x1F000, 0x1FAFF, C_EMOJI}, {0x20000, 0x3FFFF, C_IDEO},
};

static enum cls classify(uint32_t cp)
{
    size_t lo = 0, hi = LOOM_ARRAY_LEN(cls_table);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < cls_table[mid].lo)
            hi = mid;
        else if (cp > cls_table[mid].hi)
            lo = mid + 1;
        else
            return cls_table[mid].cls;
    }
    return C_WORD;
}

/* What may follow an emoji inside the same token. */
static bool is_emoji_modifier(uint32_t cp)
{
    return cp == 0xFE0E || cp == 0xFE0F || (cp >= 0x1F3FB && cp <= 0x1F3FF) || cp == 0x20E3 ||
           (cp >= 0xE0020 && cp <= 0xE007F);
}

static bool is_regional(uint32_t cp)
{
    return cp >= 0x1F1E6 && cp <= 0x1F1FF;
}

struct loom_tokenize_opts loom_tokenize_opts_default(void)
{
    return (struct loom_tokenize_opts){.lowercase = true, .case_markers = true};
}

struct scan {
    const char *text;
    size_t len, pos;
};

static uint32_t peek(const struct scan *s, size_t at, size_t *n)
{
    if (at >= s->len) {
        *n = 0;
        return 0;
    }
    uint32_t cp;
    *n = loom_utf8_decode(s->text + at, s->len - at, &cp);
    return cp;
}

/* The end of the emoji sequence starting at pos (whose first character, of
 * n bytes, is cp). */
static size_t emoji_end(const struct scan *s, size_t pos, uint32_t cp, size_t n)
{
    size_t at = pos + n, m;
    if (is_regional(cp)) { /* a flag is two regional indicators */
        uint32_t next = peek(s, at, &m);
        return m && is_regional(next) ? at + m : at;
    }
    for (;;) {
        uint32_t next = peek(s, at, &m);
        if (!m) return at;
        if (is_emoji_modifier(next)) {
            at += m;
        } else if (next == 0x200D) { /* a ZWJ sequence joins the next emoji */
            size_t k;
            uint32_t after = peek(s, at + m, &k);
            if (!k || classify(after) != C_EMOJI) return at;
            at += m + k;
        } else {
            return at;
        }
    }
}

/* A word being built: its lower-cased bytes (cut at LOOM_TOKEN_MAX_BYTES) and
 * the case of its characters, for the markers. */
struct word {
    char buf[LOOM_TOKEN_MAX_BYTES];
    size_t len, chars, upper, lower;
    bool first_upper, full;
    bool last_sigma; /* the last character kept was a capital sigma */
};

static void word_add(struct word *w, uint32_t cp, bool lowercase)
{
    bool up = is_upper(cp);
    if (w->chars == 0) w->first_upper = up;
    w->chars++;
    w->upper += up;
    w->lower += is_lower(cp);
    if (cp == 0x2019) cp = '\''; /* only reached as a joining apostrophe */
    if (lowercase) cp = loom_unicode_lower(cp);
    char enc[4];
    size_t n = loom_utf8_encode(cp, enc);
    if (w->full || w->len + n > sizeof w->buf) {
        w->full = true; /* cut at a character boundary; the rest is dropped */
        w->last_sigma = false;
        return;
    }
    memcpy(w->buf + w->len, enc, n);
    w->len += n;
    w->last_sigma = lowercase && cp == 0x03C3 && up;
}

static bool is_letterish(enum cls c)
{
    return c == C_WORD;
}

/* Scan the word starting at s->pos into w, advancing s->pos past it. */
static void scan_word(struct scan *s, struct word *w, bool lowercase)
{
    enum cls prev = C_SPACE;
    while (s->pos < s->len) {
        size_t n, m;
        uint32_t cp = peek(s, s->pos, &n);
        enum cls c = classify(cp);
        if (c != C_WORD && c != C_DIGIT) {
            /* Joiners: '.' or ',' between digits, an apostrophe between letters. */
            uint32_t next = peek(s, s->pos + n, &m);
            enum cls nc = m ? classify(next) : C_SPACE;
            bool joins = ((cp == '.' || cp == ',') && prev == C_DIGIT && nc == C_DIGIT) ||
                         ((cp == '\'' || cp == 0x2019) && is_letterish(prev) && is_letterish(nc));
            if (!joins) return;
        }
        word_add(w, cp, lowercase);
        prev = c;
        s->pos += n;
    }
}

/* Greek's one context-dependent lower case: a capital sigma ending a word of
 * more than one letter becomes final sigma (U+03C2, bytes CF 82). */
static void final_sigma(struct word *w)
{
    if (w->last_sigma && w->chars > 1) w->buf[w->len - 1] = (char)0x82;
}

static const struct loom_token tok_maj = {LOOM_TOKEN_MAJ, "xxmaj", 5};
static const struct loom_token tok_up = {LOOM_TOKEN_UP, "xxup", 4};

enum loom_status loom_tokenize(const struct loom_tokenize_opts *o, const char *text, size_t len,
                               size_t max_tokens, loom_token_fn fn, void *user)
{
    struct loom_tokenize_opts def = loom_tokenize_opts_default();
    if (!o) o = &def;
    struct scan s = {text, len, 0};
    size_t emitted = 0;
    enum loom_status st = LOOM_OK;
    while (s.pos < s.len && emitted < max_tokens) {
        size_t n;
        uint32_t cp = peek(&s, s.pos, &n);
        enum cls c = classify(cp);
        if (c == C_SPACE) {
            s.pos += n;
            continue;
        }
        if (c == C_WORD || c == C_DIGIT) {
            struct word w = {.len = 0};
            scan_word(&s, &w, o->lowercase);
            final_sigma(&w);
            const struct loom_token *marker = NULL;
            if (o->lowercase && o->case_markers) {
                if (w.upper > 0 && w.lower == 0 && w.chars > 1)
                    marker = &tok_up;
                else if (w.first_upper)
                    marker = &tok_maj;
            }
            if (marker) {
                if (max_tokens - emitted < 2) break; /* no marker without its word */
                if ((st = fn(user, marker)) != LOOM_OK) return st;
                emitted++;
            }
            struct loom_token t = {LOOM_TOKEN_TEXT, w.buf, w.len};
            if ((st = fn(user, &t)) != LOOM_OK) return st;
            emitted++;
            continue;
        }
        size_t end = c == C_EMOJI ? emoji_end(&s, s.pos, cp, n) : s.pos + n;
        if (end - s.pos > LOOM_TOKEN_MAX_BYTES) { /* an absurd ZWJ chain: cut it */
            size_t cut = s.pos;
            while (cut < end) {
                size_t k;
                peek(&s, cut, &k);
                if (cut + k - s.pos > LOOM_TOKEN_MAX_BYTES) break;
                cut += k;
            }
            struct loom_token t = {LOOM_TOKEN_TEXT, s.text + s.pos, cut - s.pos};
            if ((st = fn(user, &t)) != LOOM_OK) return st;
        } else {
            /* Punctuation, ideographs and emoji are copied as they are: none
             * of them has a case. U+FFFD cannot occur here (it is C_WORD). */
            struct loom_token t = {LOOM_TOKEN_TEXT, s.text + s.pos, end - s.pos};
            if ((st = fn(user, &t)) != LOOM_OK) return st;
        }
        emitted++;
        s.pos = end;
    }
    return LOOM_OK;
}
