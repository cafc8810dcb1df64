/*
 * text.h — checks and conversions of field text shared by the loaders:
 * UTF-8 validation and strict, locale-independent number parsing.
 * Both are pure functions: thread-safe, no allocation on the common path.
 */
#ifndef LOOM_LOADERS_TEXT_H
#define LOOM_LOADERS_TEXT_H

#include "core/base.h"

/* The offset of the first byte of s[0..n) that does not start a valid UTF-8
 * sequence (stray continuation bytes, C0/C1/F5..FF, overlong forms,
 * surrogates U+D800..DFFF, code points past U+10FFFF, a sequence cut short
 * by the end), or n when all of it is valid. NUL bytes count as valid. */
size_t loom_utf8_check(const void *s, size_t n);

/* Parses s[0..len) as a decimal number: optional spaces or tabs around,
 * an optional sign, digits with an optional '.' (at least one digit on
 * either side), an optional exponent (e or E, optional sign, digits).
 * Nothing else: no hex, no "nan"/"inf", no thousands separators, no
 * trailing junk, and '.' whatever the process locale says. *out is written
 * only on success. LOOM_ERR_PARSE for anything that is not such a number
 * (an empty or all-blank field included: test for missing first),
 * LOOM_ERR_NUMERIC when it overflows a double, LOOM_ERR_NOMEM when a
 * very long number (over 128 bytes) cannot be copied. */
LOOM_WUR enum loom_status loom_parse_number(const char *s, size_t len, double *out);

#endif
