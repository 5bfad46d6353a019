/*
 * iggy_connector_sdk.h — header-only helpers for iggy-connectors plugins written in C (ABI 1.1).
 *
 * Licensed under the Apache License, Version 2.0.
 *
 * The contract is abi/iggy_connector.h; this header only makes it easy to keep. It has:
 *   - iggy_view: a (ptr, len) view into a caller-owned buffer;
 *   - iggy_cbor_writer: a growable CBOR writer (definite lengths, minimal integers) whose buffer is
 *     malloc'ed, so a plugin's iggy_plugin_free is simply free(ptr);
 *   - iggy_cbor_reader: a bounds-checked CBOR reader over a caller-owned buffer (text and byte
 *     strings come back as views, unknown items of any type can be skipped, truncated input,
 *     indefinite lengths and nesting deeper than IGGY_CBOR_MAX_DEPTH are errors, never crashes);
 *   - typed helpers for the records a sink or a source needs: decode SinkBatch (CBOR, ABI 1.0, or
 *     by reference, ABI 1.1: iggy_sink_batch_from_ref); encode PluginInfo,
 *     Error, SinkResult, LogBatch and PollResult;
 *   - iggy_json_object: a small, strict reader for the plugin config (a flat JSON object);
 *   - iggy_log_buffer: the bounded, thread-safe log buffer behind iggy_plugin_drain_logs;
 *   - iggy_instance_table: instance ids to plugin state, safe for concurrent calls.
 *
 * Requirements: C99 and POSIX (pthread, clock_gettime). Include this header before any system header,
 * or compile with -D_POSIX_C_SOURCE=200809L. Add -I<repo>/abi so that iggy_connector.h is found.
 *
 * Conventions: functions that can fail return 0 on success. Decoders return an IGGY_STATUS_* code
 * (IGGY_STATUS_BAD_INPUT for malformed input, IGGY_STATUS_RETRYABLE when memory ran out) and write a
 * message naming the offending field and byte offset. Encoders return 0 or -1 (out of memory). C
 * strings passed to encoders must be valid UTF-8 (the Go side rejects invalid text strings); NULL or
 * "" is written as absent where the record's field is optional (Go's omitempty), as "" otherwise.
 * Nothing here keeps a pointer to an input buffer beyond the views it returns.
 */
#ifndef IGGY_CONNECTOR_SDK_H
#define IGGY_CONNECTOR_SDK_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iggy_connector.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reported in PluginInfo.sdk by plugins built with this header. */
#define IGGY_C_SDK_VERSION "c-sdk/0.1.0"

/* Marks a function as exported from the shared library (build with -fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define IGGY_EXPORT __attribute__((visibility("default")))
#define IGGY_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define IGGY_EXPORT
#define IGGY_PRINTF(fmt, args)
#endif

/* ==============================================================================================
 * Views
 * ============================================================================================== */

/* A byte range inside a buffer someone else owns. ptr may be NULL when len is 0. */
typedef struct iggy_view {
    const uint8_t *ptr;
    size_t len;
} iggy_view;

/* 1 when the view holds exactly the NUL-terminated string s. */
static inline int iggy_view_eq(iggy_view v, const char *s) {
    size_t n = strlen(s);
    return v.len == n && (n == 0 || memcmp(v.ptr, s, n) == 0);
}

/* 1 when the view holds exactly the n bytes at p. */
static inline int iggy_view_eq_bytes(iggy_view v, const void *p, size_t n) {
    return v.len == n && (n == 0 || memcmp(v.ptr, p, n) == 0);
}

/* A malloc'ed NUL-terminated copy of the view (NULL when out of memory). */
static inline char *iggy_view_strdup(iggy_view v) {
    char *s = (char *)malloc(v.len + 1);
    if (s == NULL) return NULL;
    if (v.len > 0) memcpy(s, v.ptr, v.len);
    s[v.len] = '\0';
    return s;
}

/* 1 when p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static inline int iggy_utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
        else return 0;
        if (n - i - 1 < need) return 0;
        for (size_t k = 1; k <= need; k++) {
            uint8_t cc = p[i + k];
            if ((cc & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* Replaces every byte of the NUL-terminated string s that is not part of a well-formed UTF-8 sequence
 * with '?', in place (so that text quoting raw input, or cut mid-character, is valid CBOR text). */
static inline void iggy_utf8_sanitize(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        while (k <= 4 && k <= n - i && !iggy_utf8_valid((const uint8_t *)s + i, k)) k++;
        if (k > 4 || k > n - i) { s[i] = '?'; i++; } else i += k;
    }
}

/* Microseconds since the Unix epoch (0 if the clock cannot be read). */
static inline uint64_t iggy_now_us(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)(ts.tv_nsec / 1000);
}

/* ==============================================================================================
 * CBOR writer
 * ============================================================================================== */

/* A growable output buffer. Start from IGGY_CBOR_WRITER_INIT; write items; then either hand the buffer
 * to the runtime with iggy_cw_finish or drop it with iggy_cw_discard. Errors (out of memory) are
 * sticky: later writes do nothing and iggy_cw_finish reports the failure. */
typedef struct iggy_cbor_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int failed;
} iggy_cbor_writer;

#define IGGY_CBOR_WRITER_INIT {NULL, 0, 0, 0}

/* CBOR major types. */
#define IGGY_CBOR_UINT 0u
#define IGGY_CBOR_NEGINT 1u
#define IGGY_CBOR_BYTES 2u
#define IGGY_CBOR_TEXT 3u
#define IGGY_CBOR_ARRAY 4u
#define IGGY_CBOR_MAP 5u
#define IGGY_CBOR_TAG 6u
#define IGGY_CBOR_SIMPLE 7u

static inline int iggy_cw_reserve(iggy_cbor_writer *w, size_t n) {
    if (w->failed) return -1;
    if (n > SIZE_MAX - w->len) { w->failed = 1; return -1; }
    if (w->len + n <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < w->len + n) {
        if (cap > SIZE_MAX / 2) { cap = w->len + n; break; }
        cap *= 2;
    }
    uint8_t *nb = (uint8_t *)realloc(w->buf, cap);
    if (nb == NULL) { w->failed = 1; return -1; }
    w->buf = nb;
    w->cap = cap;
    return 0;
}

/* Appends n raw bytes (already-encoded CBOR). */
static inline void iggy_cw_raw(iggy_cbor_writer *w, const void *p, size_t n) {
    if (n == 0 || iggy_cw_reserve(w, n) != 0) return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* Writes an item head with the shortest argument encoding (RFC 8949 §4.2.1 preferred serialisation). */
static inline void iggy_cw_head(iggy_cbor_writer *w, unsigned major, uint64_t arg) {
    uint8_t h[9];
    size_t n;
    uint8_t m = (uint8_t)(major << 5);
    if (arg < 24) { h[0] = (uint8_t)(m | arg); n = 1; }
    else if (arg <= 0xffu) { h[0] = m | 24; h[1] = (uint8_t)arg; n = 2; }
    else if (arg <= 0xffffu) { h[0] = m | 25; h[1] = (uint8_t)(arg >> 8); h[2] = (uint8_t)arg; n = 3; }
    else if (arg <= 0xffffffffu) {
        h[0] = m | 26;
        for (int i = 0; i < 4; i++) h[1 + i] = (uint8_t)(arg >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = m | 27;
        for (int i = 0; i < 8; i++) h[1 + i] = (uint8_t)(arg >> (56 - 8 * i));
        n = 9;
    }
    iggy_cw_raw(w, h, n);
}

static inline void iggy_cw_uint(iggy_cbor_writer *w, uint64_t v) { iggy_cw_head(w, IGGY_CBOR_UINT, v); }
/* A map of n key/value pairs follows (write 2n items). */
static inline void iggy_cw_map(iggy_cbor_writer *w, size_t n) { iggy_cw_head(w, IGGY_CBOR_MAP, (uint64_t)n); }
/* An array of n items follows. */
static inline void iggy_cw_array(iggy_cbor_writer *w, size_t n) { iggy_cw_head(w, IGGY_CBOR_ARRAY, (uint64_t)n); }
static inline void iggy_cw_bool(iggy_cbor_writer *w, int b) {
    uint8_t v = b ? 0xf5 : 0xf4;
    iggy_cw_raw(w, &v, 1);
}
static inline void iggy_cw_null(iggy_cbor_writer *w) {
    uint8_t v = 0xf6;
    iggy_cw_raw(w, &v, 1);
}
/* A text string of n bytes (must be UTF-8). */
static inline void iggy_cw_text(iggy_cbor_writer *w, const char *s, size_t n) {
    iggy_cw_head(w, IGGY_CBOR_TEXT, (uint64_t)n);
    iggy_cw_raw(w, s, n);
}
/* A text string from a NUL-terminated string (NULL is written as ""). */
static inline void iggy_cw_cstr(iggy_cbor_writer *w, const char *s) {
    iggy_cw_text(w, s ? s : "", s ? strlen(s) : 0);
}
/* A byte string of n bytes (p may be NULL when n is 0). */
static inline void iggy_cw_bytes(iggy_cbor_writer *w, const void *p, size_t n) {
    iggy_cw_head(w, IGGY_CBOR_BYTES, (uint64_t)n);
    iggy_cw_raw(w, p, n);
}

/* Hands the buffer over: on success *out is the malloc'ed buffer (release with free, which is what
 * iggy_plugin_free does) and the writer is reset. On failure the buffer is released, *out stays NULL
 * and -1 is returned. */
static inline int iggy_cw_finish(iggy_cbor_writer *w, uint8_t **out, size_t *out_len) {
    if (w->failed || w->len == 0) {
        free(w->buf);
        w->buf = NULL; w->len = w->cap = 0;
        return w->failed ? -1 : 0;
    }
    *out = w->buf;
    *out_len = w->len;
    w->buf = NULL; w->len = w->cap = 0;
    return 0;
}

/* Drops whatever was written. */
static inline void iggy_cw_discard(iggy_cbor_writer *w) {
    free(w->buf);
    w->buf = NULL; w->len = w->cap = 0; w->failed = 0;
}

/* ==============================================================================================
 * CBOR reader
 * ============================================================================================== */

/* Deepest nesting of arrays, maps and tags the reader follows. */
#define IGGY_CBOR_MAX_DEPTH 32

/* A cursor over a caller-owned buffer. Every read checks bounds; the first error is kept (with the
 * byte offset it happened at) and makes every later read fail, so a decoder can read a whole record
 * and test r->failed once. */
typedef struct iggy_cbor_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int failed;
    size_t err_pos;
    char err[192];
} iggy_cbor_reader;

static inline void iggy_cr_init(iggy_cbor_reader *r, const void *buf, size_t len) {
    r->buf = (const uint8_t *)buf;
    r->len = buf ? len : 0;
    r->pos = 0;
    r->failed = 0;
    r->err_pos = 0;
    r->err[0] = '\0';
}

/* Records an error (the first one wins) and returns -1. */
static inline int iggy_cr_fail(iggy_cbor_reader *r, const char *fmt, ...) IGGY_PRINTF(2, 3);
static inline int iggy_cr_fail(iggy_cbor_reader *r, const char *fmt, ...) {
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof r->err, fmt, ap);
        va_end(ap);
        r->failed = 1;
        r->err_pos = r->pos;
    }
    return -1;
}

/* Prefixes the recorded error with a field path ("SinkBatch.messages[1].payload"), once: the
 * innermost caller that knows the path names it. */
static inline void iggy_cr_context(iggy_cbor_reader *r, const char *fmt, ...) IGGY_PRINTF(2, 3);
static inline void iggy_cr_context(iggy_cbor_reader *r, const char *fmt, ...) {
    if (!r->failed || r->failed == 2) return;
    char path[96], old[sizeof r->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    memcpy(old, r->err, sizeof old);
    /* r->err = path + ": " + old, cut to fit (bounded copies rather than snprintf, which warns) */
    size_t cap = sizeof r->err - 1, n = 0, k;
    for (k = 0; path[k] != '\0' && n < cap; k++) r->err[n++] = path[k];
    for (k = 0; ": "[k] != '\0' && n < cap; k++) r->err[n++] = ": "[k];
    for (k = 0; old[k] != '\0' && n < cap; k++) r->err[n++] = old[k];
    r->err[n] = '\0';
    r->failed = 2;
}

static inline size_t iggy_cr_remaining(const iggy_cbor_reader *r) { return r->len - r->pos; }
static inline int iggy_cr_at_end(const iggy_cbor_reader *r) { return r->pos >= r->len; }

static inline const char *iggy_cbor_major_name(unsigned major) {
    static const char *const names[8] = {"unsigned integer", "negative integer", "byte string",
                                         "text string", "array", "map", "tag", "simple value/float"};
    return names[major & 7];
}

/* Looks at the next item's major type and additional information without consuming it. */
static inline int iggy_cr_peek(iggy_cbor_reader *r, unsigned *major, unsigned *info) {
    *major = *info = 0;
    if (r->failed) return -1;
    if (r->pos >= r->len) return iggy_cr_fail(r, "unexpected end of input at offset %zu", r->pos);
    *major = r->buf[r->pos] >> 5;
    *info = r->buf[r->pos] & 0x1f;
    return 0;
}

/* Reads an item head of major type 0-6 and its argument. Indefinite lengths and reserved encodings
 * are errors. */
static inline int iggy_cr_head(iggy_cbor_reader *r, unsigned *major, uint64_t *arg) {
    unsigned info;
    *arg = 0;
    if (iggy_cr_peek(r, major, &info) != 0) return -1;
    size_t start = r->pos;
    size_t extra;
    if (*major == IGGY_CBOR_SIMPLE) return iggy_cr_fail(r, "unexpected simple value or float at offset %zu", start);
    if (info < 24) { *arg = info; r->pos++; return 0; }
    switch (info) {
    case 24: extra = 1; break;
    case 25: extra = 2; break;
    case 26: extra = 4; break;
    case 27: extra = 8; break;
    case 31:
        return iggy_cr_fail(r, "indefinite-length %s at offset %zu is not allowed", iggy_cbor_major_name(*major), start);
    default:
        return iggy_cr_fail(r, "reserved additional information %u at offset %zu", info, start);
    }
    if (r->len - r->pos - 1 < extra) return iggy_cr_fail(r, "truncated item head at offset %zu", start);
    uint64_t v = 0;
    for (size_t i = 0; i < extra; i++) v = (v << 8) | r->buf[r->pos + 1 + i];
    *arg = v;
    r->pos += 1 + extra;
    return 0;
}

static inline int iggy_cr_expect(iggy_cbor_reader *r, unsigned want, uint64_t *arg) {
    unsigned major;
    size_t start = r->pos;
    if (iggy_cr_head(r, &major, arg) != 0) return -1;
    if (major != want) {
        r->pos = start;
        return iggy_cr_fail(r, "expected %s, found %s at offset %zu", iggy_cbor_major_name(want),
                            iggy_cbor_major_name(major), start);
    }
    return 0;
}

/* Reads an unsigned integer. */
static inline int iggy_cr_uint(iggy_cbor_reader *r, uint64_t *v) { return iggy_cr_expect(r, IGGY_CBOR_UINT, v); }

/* Reads an unsigned integer that must fit in max (e.g. UINT32_MAX). */
static inline int iggy_cr_uint_max(iggy_cbor_reader *r, uint64_t max, uint64_t *v) {
    size_t start = r->pos;
    if (iggy_cr_uint(r, v) != 0) return -1;
    if (*v > max) {
        r->pos = start;
        return iggy_cr_fail(r, "integer %llu at offset %zu exceeds %llu", (unsigned long long)*v, start,
                            (unsigned long long)max);
    }
    return 0;
}

/* Reads true or false. */
static inline int iggy_cr_bool(iggy_cbor_reader *r, int *b) {
    unsigned major, info;
    *b = 0;
    if (iggy_cr_peek(r, &major, &info) != 0) return -1;
    uint8_t c = r->buf[r->pos];
    if (c != 0xf4 && c != 0xf5) return iggy_cr_fail(r, "expected a boolean at offset %zu", r->pos);
    *b = c == 0xf5;
    r->pos++;
    return 0;
}

/* If the next item is null (or undefined), consumes it and returns 1; otherwise returns 0. Go writes a
 * nil slice as null, so readers of byte strings and arrays accept null as "empty". */
static inline int iggy_cr_null(iggy_cbor_reader *r) {
    if (r->failed || r->pos >= r->len) return 0;
    if (r->buf[r->pos] == 0xf6 || r->buf[r->pos] == 0xf7) { r->pos++; return 1; }
    return 0;
}

static inline int iggy_cr_string(iggy_cbor_reader *r, unsigned major, iggy_view *v) {
    uint64_t n;
    v->ptr = NULL;
    v->len = 0;
    size_t start = r->pos;
    if (iggy_cr_expect(r, major, &n) != 0) return -1;
    if (n > iggy_cr_remaining(r)) {
        r->pos = start;
        return iggy_cr_fail(r, "%s of %llu bytes at offset %zu runs past the end of the input",
                            iggy_cbor_major_name(major), (unsigned long long)n, start);
    }
    v->ptr = r->buf + r->pos;
    v->len = (size_t)n;
    r->pos += (size_t)n;
    return 0;
}

/* Reads a text string as a view into the input (not NUL-terminated, not UTF-8 checked). */
static inline int iggy_cr_text(iggy_cbor_reader *r, iggy_view *v) { return iggy_cr_string(r, IGGY_CBOR_TEXT, v); }

/* Reads a byte string as a view into the input; null reads as an empty view. */
static inline int iggy_cr_bytes(iggy_cbor_reader *r, iggy_view *v) {
    if (iggy_cr_null(r)) { v->ptr = NULL; v->len = 0; return 0; }
    return iggy_cr_string(r, IGGY_CBOR_BYTES, v);
}

/* Reads an array head: *n items follow. null reads as an empty array. A count that cannot fit in the
 * remaining input is an error, so callers may allocate n elements safely. */
static inline int iggy_cr_array(iggy_cbor_reader *r, size_t *n) {
    uint64_t v;
    *n = 0;
    size_t start = r->pos;
    if (iggy_cr_null(r)) { *n = 0; return 0; }
    if (iggy_cr_expect(r, IGGY_CBOR_ARRAY, &v) != 0) return -1;
    if (v > iggy_cr_remaining(r)) {
        r->pos = start;
        return iggy_cr_fail(r, "array of %llu items at offset %zu runs past the end of the input", (unsigned long long)v, start);
    }
    *n = (size_t)v;
    return 0;
}

/* Reads a map head: *n key/value pairs follow. Same bound as iggy_cr_array. */
static inline int iggy_cr_map(iggy_cbor_reader *r, size_t *n) {
    uint64_t v;
    *n = 0;
    size_t start = r->pos;
    if (iggy_cr_expect(r, IGGY_CBOR_MAP, &v) != 0) return -1;
    if (v > iggy_cr_remaining(r) / 2) {
        r->pos = start;
        return iggy_cr_fail(r, "map of %llu pairs at offset %zu runs past the end of the input", (unsigned long long)v, start);
    }
    *n = (size_t)v;
    return 0;
}

static inline int iggy_cr_skip_depth(iggy_cbor_reader *r, unsigned depth) {
    unsigned major = 0, info = 0;
    uint64_t arg = 0;
    if (iggy_cr_peek(r, &major, &info) != 0) return -1;
    if (depth > IGGY_CBOR_MAX_DEPTH) return iggy_cr_fail(r, "nesting deeper than %d at offset %zu", IGGY_CBOR_MAX_DEPTH, r->pos);
    size_t start = r->pos;
    if (major == IGGY_CBOR_SIMPLE) {
        size_t n;
        switch (info) {
        case 24: n = 2; break;
        case 25: n = 3; break;
        case 26: n = 5; break;
        case 27: n = 9; break;
        case 28: case 29: case 30:
            return iggy_cr_fail(r, "reserved additional information %u at offset %zu", info, start);
        case 31:
            return iggy_cr_fail(r, "unexpected break at offset %zu", start);
        default: n = 1;
        }
        if (n > iggy_cr_remaining(r)) return iggy_cr_fail(r, "truncated item at offset %zu", start);
        r->pos += n;
        return 0;
    }
    if (iggy_cr_head(r, &major, &arg) != 0) return -1;
    switch (major) {
    case IGGY_CBOR_UINT:
    case IGGY_CBOR_NEGINT:
        return 0;
    case IGGY_CBOR_BYTES:
    case IGGY_CBOR_TEXT:
        if (arg > iggy_cr_remaining(r)) {
            r->pos = start;
            return iggy_cr_fail(r, "%s at offset %zu runs past the end of the input", iggy_cbor_major_name(major), start);
        }
        r->pos += (size_t)arg;
        return 0;
    case IGGY_CBOR_ARRAY:
    case IGGY_CBOR_MAP: {
        uint64_t items = arg;
        if (items > iggy_cr_remaining(r) || (major == IGGY_CBOR_MAP && items > iggy_cr_remaining(r) / 2)) {
            r->pos = start;
            return iggy_cr_fail(r, "%s at offset %zu runs past the end of the input", iggy_cbor_major_name(major), start);
        }
        if (major == IGGY_CBOR_MAP) items *= 2;
        for (uint64_t i = 0; i < items; i++)
            if (iggy_cr_skip_depth(r, depth + 1) != 0) return -1;
        return 0;
    }
    default: /* tag: skip the tagged item */
        return iggy_cr_skip_depth(r, depth + 1);
    }
}

/* Skips one item of any type (with everything nested in it). */
static inline int iggy_cr_skip(iggy_cbor_reader *r) { return iggy_cr_skip_depth(r, 0); }

/* Reads a map key. An unsigned integer key is returned in *key; any other key (the records use none)
 * is skipped and reads as UINT64_MAX, an unknown key whose value the caller skips like any other. */
static inline int iggy_cr_key(iggy_cbor_reader *r, uint64_t *key) {
    unsigned major, info;
    *key = UINT64_MAX;
    if (iggy_cr_peek(r, &major, &info) != 0) return -1;
    if (major == IGGY_CBOR_UINT) return iggy_cr_uint(r, key);
    *key = UINT64_MAX;
    return iggy_cr_skip(r);
}

/* Marks key k (1..63) as seen; a repeated key is an error, as in the Go decoder. */
static inline int iggy_cr_seen(iggy_cbor_reader *r, uint64_t *seen, uint64_t k, size_t key_pos) {
    if (k == 0 || k > 63) return 0;
    if (*seen & ((uint64_t)1 << k)) {
        r->pos = key_pos;
        return iggy_cr_fail(r, "duplicate map key %llu at offset %zu", (unsigned long long)k, key_pos);
    }
    *seen |= (uint64_t)1 << k;
    return 0;
}

/* Checks that nothing follows the record. */
static inline int iggy_cr_finish(iggy_cbor_reader *r) {
    if (r->failed) return -1;
    if (r->pos != r->len) return iggy_cr_fail(r, "%zu trailing bytes after the record at offset %zu", r->len - r->pos, r->pos);
    return 0;
}

/* Copies the reader's error ("<message>") into err[0..cap). */
static inline void iggy_cr_error(const iggy_cbor_reader *r, char *err, size_t cap) {
    if (err != NULL && cap > 0) snprintf(err, cap, "%s", r->failed ? r->err : "no error");
}

/* ==============================================================================================
 * Records: SinkBatch (decode)
 * ============================================================================================== */

/* Iggy header kinds (HeaderKind in abi/abi.go). */
enum {
    IGGY_HEADER_RAW = 1, IGGY_HEADER_STRING = 2, IGGY_HEADER_BOOL = 3, IGGY_HEADER_INT8 = 4,
    IGGY_HEADER_INT16 = 5, IGGY_HEADER_INT32 = 6, IGGY_HEADER_INT64 = 7, IGGY_HEADER_INT128 = 8,
    IGGY_HEADER_UINT8 = 9, IGGY_HEADER_UINT16 = 10, IGGY_HEADER_UINT32 = 11, IGGY_HEADER_UINT64 = 12,
    IGGY_HEADER_UINT128 = 13, IGGY_HEADER_FLOAT32 = 14, IGGY_HEADER_FLOAT64 = 15
};

/* Header: [key_kind, key, value_kind, value]; numbers in key/value are little-endian. */
typedef struct iggy_header {
    uint8_t key_kind;
    iggy_view key;
    uint8_t value_kind;
    iggy_view value;
} iggy_header;

/* Message of a SinkBatch. Views point into the batch buffer given to iggy_sink_consume. */
typedef struct iggy_message {
    uint8_t id[16]; /* u128, big-endian */
    uint64_t offset;
    uint64_t checksum;
    uint64_t timestamp;        /* µs since the epoch (broker) */
    uint64_t origin_timestamp; /* µs since the epoch (producer) */
    iggy_header *headers;      /* malloc'ed, headers_len entries (NULL when none) */
    size_t headers_len;
    iggy_view payload;
} iggy_message;

/* SinkBatch. Release with iggy_sink_batch_free; views stay valid only while the input buffer does. */
typedef struct iggy_sink_batch {
    iggy_view stream;
    iggy_view topic;
    uint32_t partition_id;
    uint64_t current_offset;
    iggy_view schema; /* "json", "raw", "text", "proto", "flatbuffer" */
    iggy_message *messages; /* malloc'ed, messages_len entries (NULL when none) */
    size_t messages_len;
} iggy_sink_batch;

static inline void iggy_sink_batch_free(iggy_sink_batch *b) {
    if (b->messages != NULL)
        for (size_t i = 0; i < b->messages_len; i++) free(b->messages[i].headers);
    free(b->messages);
    memset(b, 0, sizeof *b);
}

/* Decodes a Header array element. */
static inline int iggy_decode_header(iggy_cbor_reader *r, iggy_header *h) {
    size_t n;
    uint64_t kind;
    size_t start = r->pos;
    if (iggy_cr_array(r, &n) != 0) return -1;
    if (n != 4) {
        r->pos = start;
        return iggy_cr_fail(r, "expected a 4-element array [key_kind, key, value_kind, value], found %zu elements at offset %zu", n, start);
    }
    if (iggy_cr_uint_max(r, 255, &kind) != 0) return -1;
    h->key_kind = (uint8_t)kind;
    if (iggy_cr_bytes(r, &h->key) != 0) return -1;
    if (iggy_cr_uint_max(r, 255, &kind) != 0) return -1;
    h->value_kind = (uint8_t)kind;
    return iggy_cr_bytes(r, &h->value);
}

static inline int iggy_decode_message(iggy_cbor_reader *r, iggy_message *m, size_t index) {
    size_t pairs = 0;
    uint64_t seen = 0;
    memset(m, 0, sizeof *m);
    if (iggy_cr_map(r, &pairs) != 0) { iggy_cr_context(r, "SinkBatch.messages[%zu]", index); return -1; }
    for (size_t i = 0; i < pairs; i++) {
        uint64_t key;
        size_t key_pos = r->pos;
        if (iggy_cr_key(r, &key) != 0 || iggy_cr_seen(r, &seen, key, key_pos) != 0) {
            iggy_cr_context(r, "SinkBatch.messages[%zu]", index);
            return -1;
        }
        switch (key) {
        case 1: {
            iggy_view id = {NULL, 0};
            size_t at = r->pos;
            if (iggy_cr_bytes(r, &id) != 0) break;
            if (id.len == 0) break; /* null: zero id */
            if (id.len != 16) {
                r->pos = at;
                iggy_cr_fail(r, "expected 16 bytes, found %zu at offset %zu", id.len, at);
                break;
            }
            memcpy(m->id, id.ptr, 16);
            break;
        }
        case 2: iggy_cr_uint(r, &m->offset); break;
        case 3: iggy_cr_uint(r, &m->checksum); break;
        case 4: iggy_cr_uint(r, &m->timestamp); break;
        case 5: iggy_cr_uint(r, &m->origin_timestamp); break;
        case 6: {
            size_t n;
            if (iggy_cr_array(r, &n) != 0 || n == 0) break;
            m->headers = (iggy_header *)calloc(n, sizeof *m->headers);
            if (m->headers == NULL) return iggy_cr_fail(r, "out of memory");
            m->headers_len = n;
            for (size_t h = 0; h < n; h++)
                if (iggy_decode_header(r, &m->headers[h]) != 0) {
                    iggy_cr_context(r, "SinkBatch.messages[%zu].headers[%zu]", index, h);
                    return -1;
                }
            break;
        }
        case 7: iggy_cr_bytes(r, &m->payload); break;
        default: iggy_cr_skip(r); break;
        }
        if (r->failed) {
            static const char *const names[] = {"?", "id", "offset", "checksum", "timestamp", "origin_timestamp", "headers", "payload"};
            if (key >= 1 && key <= 7) iggy_cr_context(r, "SinkBatch.messages[%zu].%s", index, names[key]);
            else iggy_cr_context(r, "SinkBatch.messages[%zu]", index);
            return -1;
        }
    }
    return 0;
}

/* Decodes the SinkBatch record given to iggy_sink_consume. Returns IGGY_STATUS_OK, or
 * IGGY_STATUS_BAD_INPUT with a message naming the field and offset in err (the caller answers with
 * status 4 and an Error{code "bad_input"}), or IGGY_STATUS_RETRYABLE when memory ran out. Unknown
 * keys are skipped; absent keys read as zero / empty. On success release *b with
 * iggy_sink_batch_free; on failure nothing needs releasing. */
static inline int32_t iggy_decode_sink_batch(const uint8_t *buf, size_t len, iggy_sink_batch *b, char *err, size_t err_cap) {
    iggy_cbor_reader r;
    size_t pairs = 0;
    uint64_t seen = 0;
    static const char *const names[] = {"?", "stream", "topic", "partition_id", "current_offset", "schema", "messages"};
    memset(b, 0, sizeof *b);
    iggy_cr_init(&r, buf, len);
    if (iggy_cr_map(&r, &pairs) != 0) { iggy_cr_context(&r, "SinkBatch"); goto fail; }
    for (size_t i = 0; i < pairs; i++) {
        uint64_t key, v;
        size_t key_pos = r.pos;
        if (iggy_cr_key(&r, &key) != 0 || iggy_cr_seen(&r, &seen, key, key_pos) != 0) { iggy_cr_context(&r, "SinkBatch"); goto fail; }
        switch (key) {
        case 1: iggy_cr_text(&r, &b->stream); break;
        case 2: iggy_cr_text(&r, &b->topic); break;
        case 3: if (iggy_cr_uint_max(&r, UINT32_MAX, &v) == 0) b->partition_id = (uint32_t)v; break;
        case 4: iggy_cr_uint(&r, &b->current_offset); break;
        case 5: iggy_cr_text(&r, &b->schema); break;
        case 6: {
            size_t n;
            if (iggy_cr_array(&r, &n) != 0 || n == 0) break;
            if (b->messages != NULL) break; /* unreachable: duplicate keys are rejected */
            b->messages = (iggy_message *)calloc(n, sizeof *b->messages);
            if (b->messages == NULL) {
                iggy_sink_batch_free(b);
                if (err != NULL && err_cap > 0) snprintf(err, err_cap, "out of memory decoding %zu messages", n);
                return IGGY_STATUS_RETRYABLE;
            }
            b->messages_len = n;
            for (size_t m = 0; m < n; m++)
                if (iggy_decode_message(&r, &b->messages[m], m) != 0) goto fail;
            break;
        }
        default: iggy_cr_skip(&r); break;
        }
        if (r.failed) {
            if (key >= 1 && key <= 6) iggy_cr_context(&r, "SinkBatch.%s", names[key]);
            else iggy_cr_context(&r, "SinkBatch");
            goto fail;
        }
    }
    if (iggy_cr_finish(&r) != 0) { iggy_cr_context(&r, "SinkBatch"); goto fail; }
    return IGGY_STATUS_OK;
fail:
    iggy_cr_error(&r, err, err_cap);
    {
        int oom = strstr(r.err, "out of memory") != NULL;
        iggy_sink_batch_free(b);
        return oom ? IGGY_STATUS_RETRYABLE : IGGY_STATUS_BAD_INPUT;
    }
}

/* ABI 1.1 (iggy_connector.h §6): fills *b from the batch given by reference to iggy_sink_consume_ref,
 * so one consume function serves both iggy_sink_consume and iggy_sink_consume_ref. Nothing is copied:
 * stream, topic, schema and payload views point into the runtime's memory and, like the header views
 * (decoded from each message's CBOR header array into a malloc'ed array), are valid only until the
 * call returns. Returns like iggy_decode_sink_batch (BAD_INPUT for a NULL batch, a size or
 * message_size smaller than 1.1's, a NULL pointer with a length, or undecodable headers, with the
 * message naming the field); release *b with iggy_sink_batch_free. */
static inline int32_t iggy_sink_batch_from_ref(const IggySinkBatchRef *ref, iggy_sink_batch *b, char *err, size_t err_cap) {
    memset(b, 0, sizeof *b);
#define IGGY__REF_FAIL(...) do { if (err != NULL && err_cap > 0) snprintf(err, err_cap, __VA_ARGS__); iggy_sink_batch_free(b); return IGGY_STATUS_BAD_INPUT; } while (0)
    if (ref == NULL) IGGY__REF_FAIL("SinkBatchRef: NULL batch");
    if (ref->size < sizeof(IggySinkBatchRef)) IGGY__REF_FAIL("SinkBatchRef: size %u is smaller than ABI 1.1's %zu", ref->size, sizeof(IggySinkBatchRef));
    if (ref->messages_len > 0 && (ref->messages == NULL || ref->message_size < sizeof(IggyMessageRef)))
        IGGY__REF_FAIL("SinkBatchRef.messages: %zu messages with stride %zu (want a pointer and stride >= %zu)", ref->messages_len, ref->message_size, sizeof(IggyMessageRef));
    if ((ref->stream == NULL && ref->stream_len > 0) || (ref->topic == NULL && ref->topic_len > 0) || (ref->schema == NULL && ref->schema_len > 0))
        IGGY__REF_FAIL("SinkBatchRef: NULL stream, topic or schema with a length");
    b->stream = (iggy_view){(const uint8_t *)ref->stream, ref->stream_len};
    b->topic = (iggy_view){(const uint8_t *)ref->topic, ref->topic_len};
    b->schema = (iggy_view){(const uint8_t *)ref->schema, ref->schema_len};
    if (!iggy_utf8_valid(b->stream.ptr, b->stream.len) || !iggy_utf8_valid(b->topic.ptr, b->topic.len) || !iggy_utf8_valid(b->schema.ptr, b->schema.len))
        IGGY__REF_FAIL("SinkBatchRef: stream, topic or schema is not valid UTF-8");
    b->partition_id = ref->partition_id;
    b->current_offset = ref->current_offset;
    if (ref->messages_len == 0) return IGGY_STATUS_OK;
    b->messages = (iggy_message *)calloc(ref->messages_len, sizeof *b->messages);
    if (b->messages == NULL) {
        if (err != NULL && err_cap > 0) snprintf(err, err_cap, "out of memory for %zu messages", ref->messages_len);
        return IGGY_STATUS_RETRYABLE;
    }
    b->messages_len = ref->messages_len;
    for (size_t i = 0; i < ref->messages_len; i++) {
        const IggyMessageRef *mr = (const IggyMessageRef *)((const uint8_t *)ref->messages + i * ref->message_size);
        iggy_message *m = &b->messages[i];
        memcpy(m->id, mr->id, 16);
        m->offset = mr->offset;
        m->checksum = mr->checksum;
        m->timestamp = mr->timestamp;
        m->origin_timestamp = mr->origin_timestamp;
        if (mr->payload == NULL && mr->payload_len > 0) IGGY__REF_FAIL("SinkBatchRef.messages[%zu].payload: NULL with length %zu", i, mr->payload_len);
        if (mr->headers == NULL && mr->headers_len > 0) IGGY__REF_FAIL("SinkBatchRef.messages[%zu].headers: NULL with length %zu", i, mr->headers_len);
        m->payload = (iggy_view){mr->payload, mr->payload_len};
        if (mr->headers_len == 0) continue;
        iggy_cbor_reader r;
        size_t n;
        iggy_cr_init(&r, mr->headers, mr->headers_len);
        if (iggy_cr_array(&r, &n) == 0 && n > 0) {
            m->headers = (iggy_header *)calloc(n, sizeof *m->headers);
            if (m->headers == NULL) {
                if (err != NULL && err_cap > 0) snprintf(err, err_cap, "out of memory for %zu headers", n);
                iggy_sink_batch_free(b);
                return IGGY_STATUS_RETRYABLE;
            }
            m->headers_len = n;
            for (size_t h = 0; h < n && !r.failed; h++)
                if (iggy_decode_header(&r, &m->headers[h]) != 0) iggy_cr_context(&r, "headers[%zu]", h);
        }
        if (!r.failed) iggy_cr_finish(&r);
        if (r.failed) {
            char why[200];
            iggy_cr_error(&r, why, sizeof why);
            IGGY__REF_FAIL("SinkBatchRef.messages[%zu].%s", i, why);
        }
    }
#undef IGGY__REF_FAIL
    return IGGY_STATUS_OK;
}

/* ==============================================================================================
 * Records: encoders
 * ============================================================================================== */

/* One plugin_config key, as reported in PluginInfo.config_fields. */
typedef struct iggy_config_field {
    const char *name;
    const char *type;          /* string|int|float|bool|duration|array|object|any */
    int required;
    const char *default_json;  /* JSON text of the default, or NULL */
    const char *description;   /* or NULL */
    int secret;
} iggy_config_field;

/* PluginInfo, the answer of iggy_plugin_info. */
typedef struct iggy_plugin_info_record {
    uint32_t abi_version; /* IGGY_ABI_VERSION */
    const char *kind;     /* "sink" or "source" */
    const char *name;
    const char *version;
    const char *description; /* optional */
    const iggy_config_field *config_fields;
    size_t config_fields_len;
    const char *sdk; /* optional; IGGY_C_SDK_VERSION */
} iggy_plugin_info_record;

static inline int iggy__set(const char *s) { return s != NULL && s[0] != '\0'; }

static inline void iggy_write_plugin_info(iggy_cbor_writer *w, const iggy_plugin_info_record *p) {
    size_t n = 4 + (size_t)iggy__set(p->description) + (p->config_fields_len > 0) + (size_t)iggy__set(p->sdk);
    iggy_cw_map(w, n);
    iggy_cw_uint(w, 1); iggy_cw_uint(w, p->abi_version);
    iggy_cw_uint(w, 2); iggy_cw_cstr(w, p->kind);
    iggy_cw_uint(w, 3); iggy_cw_cstr(w, p->name);
    iggy_cw_uint(w, 4); iggy_cw_cstr(w, p->version);
    if (iggy__set(p->description)) { iggy_cw_uint(w, 5); iggy_cw_cstr(w, p->description); }
    if (p->config_fields_len > 0) {
        iggy_cw_uint(w, 6);
        iggy_cw_array(w, p->config_fields_len);
        for (size_t i = 0; i < p->config_fields_len; i++) {
            const iggy_config_field *f = &p->config_fields[i];
            size_t m = 2 + (size_t)(f->required != 0) + (size_t)iggy__set(f->default_json) +
                       (size_t)iggy__set(f->description) + (size_t)(f->secret != 0);
            iggy_cw_map(w, m);
            iggy_cw_uint(w, 1); iggy_cw_cstr(w, f->name);
            iggy_cw_uint(w, 2); iggy_cw_cstr(w, f->type);
            if (f->required) { iggy_cw_uint(w, 3); iggy_cw_bool(w, 1); }
            if (iggy__set(f->default_json)) { iggy_cw_uint(w, 4); iggy_cw_cstr(w, f->default_json); }
            if (iggy__set(f->description)) { iggy_cw_uint(w, 5); iggy_cw_cstr(w, f->description); }
            if (f->secret) { iggy_cw_uint(w, 6); iggy_cw_bool(w, 1); }
        }
    }
    if (iggy__set(p->sdk)) { iggy_cw_uint(w, 7); iggy_cw_cstr(w, p->sdk); }
}

/* Encodes a PluginInfo into a malloc'ed buffer. Returns 0, or -1 when out of memory. */
static inline int iggy_encode_plugin_info(const iggy_plugin_info_record *p, uint8_t **out, size_t *out_len) {
    iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
    iggy_write_plugin_info(&w, p);
    return iggy_cw_finish(&w, out, out_len);
}

/* Writes an Error record {1: code, 2: message, 3?: retryable, 4?: field}. */
static inline void iggy_write_error(iggy_cbor_writer *w, const char *code, const char *message, int retryable, const char *field) {
    iggy_cw_map(w, 2 + (size_t)(retryable != 0) + (size_t)iggy__set(field));
    iggy_cw_uint(w, 1); iggy_cw_cstr(w, code);
    iggy_cw_uint(w, 2); iggy_cw_cstr(w, message);
    if (retryable) { iggy_cw_uint(w, 3); iggy_cw_bool(w, 1); }
    if (iggy__set(field)) { iggy_cw_uint(w, 4); iggy_cw_cstr(w, field); }
}

/* Encodes an Error record into a malloc'ed buffer. Returns 0, or -1 when out of memory. */
static inline int iggy_encode_error(const char *code, const char *message, int retryable, const char *field, uint8_t **out, size_t *out_len) {
    iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
    iggy_write_error(&w, code, message, retryable, field);
    return iggy_cw_finish(&w, out, out_len);
}

/* The usual way to fail a call: formats the message, stores Error{code, message, retryable = (status ==
 * IGGY_STATUS_RETRYABLE), field} in *out (left NULL if memory ran out: the runtime then synthesises an
 * error) and returns status. Bytes of the message that are not UTF-8 are replaced with '?'. */
static inline int32_t iggy_fail(int32_t status, const char *code, const char *field, uint8_t **out, size_t *out_len, const char *fmt, ...) IGGY_PRINTF(6, 7);
static inline int32_t iggy_fail(int32_t status, const char *code, const char *field, uint8_t **out, size_t *out_len, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    iggy_utf8_sanitize(msg);
    if (out != NULL && out_len != NULL)
        iggy_encode_error(code, msg, status == IGGY_STATUS_RETRYABLE, field, out, out_len);
    return status;
}

/* One failed message of a SinkResult. */
typedef struct iggy_message_failure {
    uint32_t index; /* position in SinkBatch.messages */
    const char *code;
    const char *message;
    int retryable;
    const char *field; /* usually NULL */
} iggy_message_failure;

/* Encodes SinkResult{1?: failures}. With n == 0 this is the empty map (but a sink that wrote every
 * message may simply return NULL / 0). Returns 0, or -1 when out of memory. */
static inline int iggy_encode_sink_result(const iggy_message_failure *f, size_t n, uint8_t **out, size_t *out_len) {
    iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
    iggy_cw_map(&w, n > 0 ? 1 : 0);
    if (n > 0) {
        iggy_cw_uint(&w, 1);
        iggy_cw_array(&w, n);
        for (size_t i = 0; i < n; i++) {
            iggy_cw_map(&w, 2);
            iggy_cw_uint(&w, 1); iggy_cw_uint(&w, f[i].index);
            iggy_cw_uint(&w, 2); iggy_write_error(&w, f[i].code, f[i].message, f[i].retryable, f[i].field);
        }
    }
    return iggy_cw_finish(&w, out, out_len);
}

/* Log levels of LogRecord. */
enum { IGGY_LOG_TRACE = 0, IGGY_LOG_DEBUG = 1, IGGY_LOG_INFO = 2, IGGY_LOG_WARN = 3, IGGY_LOG_ERROR = 4 };

typedef struct iggy_log_attr {
    const char *key;
    const char *value;
} iggy_log_attr;

typedef struct iggy_log_record {
    uint8_t level;
    uint32_t instance; /* 0 = the library */
    const char *message;
    const char *target;  /* optional */
    uint64_t time_us;    /* optional (0 = absent) */
    const iggy_log_attr *attrs;
    size_t attrs_len;
} iggy_log_record;

static inline void iggy_write_log_record(iggy_cbor_writer *w, const iggy_log_record *l) {
    iggy_cw_map(w, 2 + (size_t)(l->instance != 0) + (size_t)iggy__set(l->target) + (size_t)(l->time_us != 0) + (size_t)(l->attrs_len > 0));
    iggy_cw_uint(w, 1); iggy_cw_uint(w, l->level);
    if (l->instance != 0) { iggy_cw_uint(w, 2); iggy_cw_uint(w, l->instance); }
    iggy_cw_uint(w, 3); iggy_cw_cstr(w, l->message);
    if (iggy__set(l->target)) { iggy_cw_uint(w, 4); iggy_cw_cstr(w, l->target); }
    if (l->time_us != 0) { iggy_cw_uint(w, 5); iggy_cw_uint(w, l->time_us); }
    if (l->attrs_len > 0) {
        iggy_cw_uint(w, 6);
        iggy_cw_array(w, l->attrs_len);
        for (size_t i = 0; i < l->attrs_len; i++) {
            iggy_cw_array(w, 2);
            iggy_cw_cstr(w, l->attrs[i].key);
            iggy_cw_cstr(w, l->attrs[i].value);
        }
    }
}

/* Encodes a LogBatch (an array of LogRecord). Returns 0, or -1 when out of memory. */
static inline int iggy_encode_log_batch(const iggy_log_record *recs, size_t n, uint8_t **out, size_t *out_len) {
    iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
    iggy_cw_array(&w, n);
    for (size_t i = 0; i < n; i++) iggy_write_log_record(&w, &recs[i]);
    return iggy_cw_finish(&w, out, out_len);
}

/* One message a source produces. */
typedef struct iggy_source_message {
    const uint8_t *id; /* 16 bytes (u128 big-endian), or NULL: the runtime assigns a random id */
    const iggy_header *headers;
    size_t headers_len;
    const uint8_t *payload;
    size_t payload_len;
    uint64_t origin_timestamp; /* µs since the epoch, 0 = absent */
    const uint8_t *key;        /* partitioning key, or NULL */
    size_t key_len;
} iggy_source_message;

/* PollResult, the answer of iggy_source_poll. */
typedef struct iggy_poll_result {
    uint64_t batch_id; /* unique and increasing per instance */
    const char *schema; /* "json", "raw", "text", ... */
    const iggy_source_message *messages;
    size_t messages_len;
    const uint8_t *state; /* source state to persist once the batch is in Iggy, or NULL */
    size_t state_len;
    uint64_t wait_hint_ms; /* 0 = the runtime's poll_interval */
} iggy_poll_result;

static inline void iggy_write_header(iggy_cbor_writer *w, const iggy_header *h) {
    iggy_cw_array(w, 4);
    iggy_cw_uint(w, h->key_kind);
    iggy_cw_bytes(w, h->key.ptr, h->key.len);
    iggy_cw_uint(w, h->value_kind);
    iggy_cw_bytes(w, h->value.ptr, h->value.len);
}

/* Encodes a PollResult. Returns 0, or -1 when out of memory. */
static inline int iggy_encode_poll_result(const iggy_poll_result *p, uint8_t **out, size_t *out_len) {
    iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
    iggy_cw_map(&w, 2 + (size_t)(p->messages_len > 0) + (size_t)(p->state_len > 0) + (size_t)(p->wait_hint_ms != 0));
    iggy_cw_uint(&w, 1); iggy_cw_uint(&w, p->batch_id);
    iggy_cw_uint(&w, 2); iggy_cw_cstr(&w, p->schema);
    if (p->messages_len > 0) {
        iggy_cw_uint(&w, 3);
        iggy_cw_array(&w, p->messages_len);
        for (size_t i = 0; i < p->messages_len; i++) {
            const iggy_source_message *m = &p->messages[i];
            iggy_cw_map(&w, 1 + (size_t)(m->id != NULL) + (size_t)(m->headers_len > 0) + (size_t)(m->origin_timestamp != 0) + (size_t)(m->key_len > 0));
            if (m->id != NULL) { iggy_cw_uint(&w, 1); iggy_cw_bytes(&w, m->id, 16); }
            if (m->headers_len > 0) {
                iggy_cw_uint(&w, 2);
                iggy_cw_array(&w, m->headers_len);
                for (size_t h = 0; h < m->headers_len; h++) iggy_write_header(&w, &m->headers[h]);
            }
            iggy_cw_uint(&w, 3); iggy_cw_bytes(&w, m->payload, m->payload_len);
            if (m->origin_timestamp != 0) { iggy_cw_uint(&w, 4); iggy_cw_uint(&w, m->origin_timestamp); }
            if (m->key_len > 0) { iggy_cw_uint(&w, 5); iggy_cw_bytes(&w, m->key, m->key_len); }
        }
    }
    if (p->state_len > 0) { iggy_cw_uint(&w, 4); iggy_cw_bytes(&w, p->state, p->state_len); }
    if (p->wait_hint_ms != 0) { iggy_cw_uint(&w, 5); iggy_cw_uint(&w, p->wait_hint_ms); }
    return iggy_cw_finish(&w, out, out_len);
}

/* ==============================================================================================
 * Plugin config: a strict reader for a flat JSON object
 * ============================================================================================== */

typedef enum iggy_json_type {
    IGGY_JSON_NULL, IGGY_JSON_BOOL, IGGY_JSON_NUMBER, IGGY_JSON_STRING, IGGY_JSON_ARRAY, IGGY_JSON_OBJECT
} iggy_json_type;

/* One top-level key of the config object. Nested arrays and objects are validated and skipped: only
 * their type is kept. */
typedef struct iggy_json_member {
    char *key;         /* decoded, NUL-terminated (may contain NUL if the JSON had \u0000) */
    size_t key_len;
    iggy_json_type type;
    char *str;         /* STRING: decoded value; NUMBER: the number's text; else NULL */
    size_t str_len;
    int boolean;       /* BOOL */
} iggy_json_member;

typedef struct iggy_json_object {
    iggy_json_member *members;
    size_t len;
} iggy_json_object;

static inline const char *iggy_json_type_name(iggy_json_type t) {
    static const char *const names[] = {"null", "bool", "number", "string", "array", "object"};
    return names[t];
}

static inline void iggy_json_free(iggy_json_object *o) {
    for (size_t i = 0; i < o->len; i++) { free(o->members[i].key); free(o->members[i].str); }
    free(o->members);
    o->members = NULL;
    o->len = 0;
}

typedef struct iggy__json {
    const uint8_t *p;
    size_t n, i;
    char *err;
    size_t err_cap;
    int oom;
} iggy__json;

static inline int iggy__json_fail(iggy__json *j, const char *what) {
    if (j->err != NULL && j->err_cap > 0 && !j->oom) snprintf(j->err, j->err_cap, "%s at byte %zu", what, j->i);
    return -1;
}

static inline void iggy__json_ws(iggy__json *j) {
    while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r')) j->i++;
}

static inline int iggy__json_hex4(iggy__json *j, uint32_t *v) {
    *v = 0;
    if (j->n - j->i < 4) return iggy__json_fail(j, "truncated \\u escape");
    for (int k = 0; k < 4; k++) {
        uint8_t c = j->p[j->i++];
        uint32_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return iggy__json_fail(j, "invalid \\u escape");
        *v = (*v << 4) | d;
    }
    return 0;
}

/* Parses a string at j->i (on the opening quote). With out != NULL, stores a malloc'ed decoded copy. */
static inline int iggy__json_string(iggy__json *j, char **out, size_t *out_len) {
    j->i++; /* opening quote */
    size_t start = j->i;
    /* first pass: validate and find the end */
    while (1) {
        if (j->i >= j->n) return iggy__json_fail(j, "unterminated string");
        uint8_t c = j->p[j->i];
        if (c == '"') break;
        if (c < 0x20) return iggy__json_fail(j, "control character in string");
        if (c == '\\') {
            j->i++;
            if (j->i >= j->n) return iggy__json_fail(j, "unterminated string");
            c = j->p[j->i];
            if (c == 'u') {
                uint32_t v = 0;
                j->i++;
                if (iggy__json_hex4(j, &v) != 0) return -1;
                if (v >= 0xd800 && v <= 0xdbff) {
                    uint32_t lo = 0;
                    if (j->n - j->i < 2 || j->p[j->i] != '\\' || j->p[j->i + 1] != 'u') return iggy__json_fail(j, "unpaired surrogate in \\u escape");
                    j->i += 2;
                    if (iggy__json_hex4(j, &lo) != 0) return -1;
                    if (lo < 0xdc00 || lo > 0xdfff) return iggy__json_fail(j, "unpaired surrogate in \\u escape");
                } else if (v >= 0xdc00 && v <= 0xdfff) {
                    return iggy__json_fail(j, "unpaired surrogate in \\u escape");
                }
                continue;
            }
            if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') return iggy__json_fail(j, "invalid escape in string");
            j->i++;
            continue;
        }
        if (c < 0x80) { j->i++; continue; }
        size_t k = 2;
        while (k <= 4 && (j->i + k > j->n || !iggy_utf8_valid(j->p + j->i, k))) k++;
        if (k > 4) return iggy__json_fail(j, "invalid UTF-8 in string");
        j->i += k;
    }
    size_t end = j->i;
    j->i++; /* closing quote */
    if (out == NULL) return 0;
    char *s = (char *)malloc(end - start + 1); /* decoding never grows the text */
    if (s == NULL) { j->oom = 1; if (j->err) snprintf(j->err, j->err_cap, "out of memory"); return -1; }
    size_t o = 0;
    for (size_t x = start; x < end;) {
        uint8_t c = j->p[x];
        if (c != '\\') { s[o++] = (char)c; x++; continue; }
        c = j->p[x + 1];
        x += 2;
        switch (c) {
        case 'b': s[o++] = '\b'; break;
        case 'f': s[o++] = '\f'; break;
        case 'n': s[o++] = '\n'; break;
        case 'r': s[o++] = '\r'; break;
        case 't': s[o++] = '\t'; break;
        case 'u': {
            uint32_t cp = 0;
            for (int k = 0; k < 4; k++) { uint8_t h = j->p[x + k]; cp = (cp << 4) | (uint32_t)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10); }
            x += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo = 0;
                for (int k = 0; k < 4; k++) { uint8_t h = j->p[x + 2 + k]; lo = (lo << 4) | (uint32_t)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10); }
                x += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp < 0x80) s[o++] = (char)cp;
            else if (cp < 0x800) { s[o++] = (char)(0xc0 | (cp >> 6)); s[o++] = (char)(0x80 | (cp & 0x3f)); }
            else if (cp < 0x10000) { s[o++] = (char)(0xe0 | (cp >> 12)); s[o++] = (char)(0x80 | ((cp >> 6) & 0x3f)); s[o++] = (char)(0x80 | (cp & 0x3f)); }
            else { s[o++] = (char)(0xf0 | (cp >> 18)); s[o++] = (char)(0x80 | ((cp >> 12) & 0x3f)); s[o++] = (char)(0x80 | ((cp >> 6) & 0x3f)); s[o++] = (char)(0x80 | (cp & 0x3f)); }
            break;
        }
        default: s[o++] = (char)c; /* " \ / */
        }
    }
    s[o] = '\0';
    *out = s;
    *out_len = o;
    return 0;
}

static inline int iggy__json_number(iggy__json *j) {
    size_t s = j->i;
    if (j->i < j->n && j->p[j->i] == '-') j->i++;
    if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') return iggy__json_fail(j, "invalid number");
    if (j->p[j->i] == '0') j->i++;
    else while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') j->i++;
    if (j->i < j->n && j->p[j->i] == '.') {
        j->i++;
        if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') return iggy__json_fail(j, "invalid number");
        while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') j->i++;
    }
    if (j->i < j->n && (j->p[j->i] == 'e' || j->p[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->p[j->i] == '+' || j->p[j->i] == '-')) j->i++;
        if (j->i >= j->n || j->p[j->i] < '0' || j->p[j->i] > '9') return iggy__json_fail(j, "invalid number");
        while (j->i < j->n && j->p[j->i] >= '0' && j->p[j->i] <= '9') j->i++;
    }
    return j->i > s ? 0 : -1;
}

static inline int iggy__json_literal(iggy__json *j, const char *lit) {
    size_t n = strlen(lit);
    if (j->n - j->i < n || memcmp(j->p + j->i, lit, n) != 0) return iggy__json_fail(j, "invalid literal");
    j->i += n;
    return 0;
}

/* Validates (and skips) any value; reports its type. */
static inline int iggy__json_value(iggy__json *j, iggy_json_type *t, unsigned depth) {
    iggy__json_ws(j);
    if (j->i >= j->n) return iggy__json_fail(j, "unexpected end of input");
    if (depth > 64) return iggy__json_fail(j, "nesting deeper than 64");
    uint8_t c = j->p[j->i];
    switch (c) {
    case '"': *t = IGGY_JSON_STRING; return iggy__json_string(j, NULL, NULL);
    case 't': *t = IGGY_JSON_BOOL; return iggy__json_literal(j, "true");
    case 'f': *t = IGGY_JSON_BOOL; return iggy__json_literal(j, "false");
    case 'n': *t = IGGY_JSON_NULL; return iggy__json_literal(j, "null");
    case '[': case '{': {
        uint8_t close = c == '[' ? ']' : '}';
        *t = c == '[' ? IGGY_JSON_ARRAY : IGGY_JSON_OBJECT;
        j->i++;
        iggy__json_ws(j);
        if (j->i < j->n && j->p[j->i] == close) { j->i++; return 0; }
        while (1) {
            iggy_json_type it;
            if (c == '{') {
                iggy__json_ws(j);
                if (j->i >= j->n || j->p[j->i] != '"') return iggy__json_fail(j, "expected a string key");
                if (iggy__json_string(j, NULL, NULL) != 0) return -1;
                iggy__json_ws(j);
                if (j->i >= j->n || j->p[j->i] != ':') return iggy__json_fail(j, "expected ':'");
                j->i++;
            }
            if (iggy__json_value(j, &it, depth + 1) != 0) return -1;
            iggy__json_ws(j);
            if (j->i < j->n && j->p[j->i] == ',') { j->i++; continue; }
            if (j->i < j->n && j->p[j->i] == close) { j->i++; return 0; }
            return iggy__json_fail(j, c == '[' ? "expected ',' or ']'" : "expected ',' or '}'");
        }
    }
    default:
        *t = IGGY_JSON_NUMBER;
        return iggy__json_number(j);
    }
}

/* Parses a plugin config: a JSON object whose top-level members are kept (keys and scalar values
 * decoded). Empty input, whitespace or the literal null count as {}. Returns IGGY_STATUS_OK;
 * IGGY_STATUS_BAD_INPUT when the text is not valid JSON (err says what and at which byte);
 * IGGY_STATUS_PERMANENT when it is valid JSON but not an object; IGGY_STATUS_RETRYABLE when memory ran
 * out. On success release *o with iggy_json_free. */
static inline int32_t iggy_json_parse_object(const uint8_t *text, size_t len, iggy_json_object *o, char *err, size_t err_cap) {
    iggy__json j = {text, text ? len : 0, 0, err, err_cap, 0};
    o->members = NULL;
    o->len = 0;
    iggy__json_ws(&j);
    if (j.i == j.n) return IGGY_STATUS_OK;
    if (j.n - j.i >= 4 && memcmp(j.p + j.i, "null", 4) == 0) {
        j.i += 4;
        iggy__json_ws(&j);
        if (j.i == j.n) return IGGY_STATUS_OK;
        iggy__json_fail(&j, "unexpected text after the value");
        return IGGY_STATUS_BAD_INPUT;
    }
    if (j.p[j.i] != '{') {
        iggy_json_type t;
        if (iggy__json_value(&j, &t, 0) != 0) return IGGY_STATUS_BAD_INPUT;
        iggy__json_ws(&j);
        if (j.i != j.n) { iggy__json_fail(&j, "unexpected text after the value"); return IGGY_STATUS_BAD_INPUT; }
        if (err != NULL && err_cap > 0) snprintf(err, err_cap, "plugin_config must be a JSON object, found %s", iggy_json_type_name(t));
        return IGGY_STATUS_PERMANENT;
    }
    j.i++;
    size_t cap = 0;
    iggy__json_ws(&j);
    if (j.i < j.n && j.p[j.i] == '}') { j.i++; goto done; }
    while (1) {
        iggy_json_member m;
        memset(&m, 0, sizeof m);
        iggy__json_ws(&j);
        if (j.i >= j.n || j.p[j.i] != '"') { iggy__json_fail(&j, "expected a string key"); goto bad; }
        if (iggy__json_string(&j, &m.key, &m.key_len) != 0) goto bad;
        iggy__json_ws(&j);
        if (j.i >= j.n || j.p[j.i] != ':') { free(m.key); iggy__json_fail(&j, "expected ':'"); goto bad; }
        j.i++;
        iggy__json_ws(&j);
        size_t vstart = j.i;
        if (j.i < j.n && j.p[j.i] == '"') {
            m.type = IGGY_JSON_STRING;
            if (iggy__json_string(&j, &m.str, &m.str_len) != 0) { free(m.key); goto bad; }
        } else {
            if (iggy__json_value(&j, &m.type, 1) != 0) { free(m.key); goto bad; }
            if (m.type == IGGY_JSON_BOOL) m.boolean = j.p[vstart] == 't';
            if (m.type == IGGY_JSON_NUMBER) {
                m.str_len = j.i - vstart;
                m.str = (char *)malloc(m.str_len + 1);
                if (m.str == NULL) { free(m.key); j.oom = 1; goto bad; }
                memcpy(m.str, j.p + vstart, m.str_len);
                m.str[m.str_len] = '\0';
            }
        }
        if (o->len == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            iggy_json_member *nm = (iggy_json_member *)realloc(o->members, ncap * sizeof *nm);
            if (nm == NULL) { free(m.key); free(m.str); j.oom = 1; goto bad; }
            o->members = nm;
            cap = ncap;
        }
        o->members[o->len++] = m;
        iggy__json_ws(&j);
        if (j.i < j.n && j.p[j.i] == ',') { j.i++; continue; }
        if (j.i < j.n && j.p[j.i] == '}') { j.i++; break; }
        iggy__json_fail(&j, "expected ',' or '}'");
        goto bad;
    }
done:
    iggy__json_ws(&j);
    if (j.i != j.n) { iggy__json_fail(&j, "unexpected text after the object"); goto bad; }
    return IGGY_STATUS_OK;
bad:
    iggy_json_free(o);
    if (j.oom) {
        if (err != NULL && err_cap > 0) snprintf(err, err_cap, "out of memory");
        return IGGY_STATUS_RETRYABLE;
    }
    return IGGY_STATUS_BAD_INPUT;
}

/* The member named key (the last one if the key repeats), or NULL. */
static inline const iggy_json_member *iggy_json_get(const iggy_json_object *o, const char *key) {
    size_t n = strlen(key);
    for (size_t i = o->len; i > 0; i--) {
        const iggy_json_member *m = &o->members[i - 1];
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
    }
    return NULL;
}

/* Checks every key against the known ones: returns NULL when all are known and none repeats, else
 * the offending key (and *why says "unknown key" or "duplicate key"). */
static inline const char *iggy_json_check_keys(const iggy_json_object *o, const char *const *known, size_t n_known, const char **why) {
    for (size_t i = 0; i < o->len; i++) {
        const iggy_json_member *m = &o->members[i];
        int ok = 0;
        for (size_t k = 0; k < n_known; k++)
            if (strlen(known[k]) == m->key_len && memcmp(known[k], m->key, m->key_len) == 0) ok = 1;
        if (!ok) { *why = "unknown key"; return m->key; }
        for (size_t e = 0; e < i; e++)
            if (o->members[e].key_len == m->key_len && memcmp(o->members[e].key, m->key, m->key_len) == 0) { *why = "duplicate key"; return m->key; }
    }
    return NULL;
}

/* Reads an integer member (no fraction, no exponent). Returns 0, or -1 when it is not an integer that
 * fits in int64_t. */
static inline int iggy_json_int(const iggy_json_member *m, int64_t *v) {
    if (m->type != IGGY_JSON_NUMBER || strpbrk(m->str, ".eE") != NULL) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(m->str, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *v = (int64_t)x;
    return 0;
}

/* ==============================================================================================
 * Log buffer (iggy_plugin_drain_logs)
 * ============================================================================================== */

typedef struct iggy_log_entry {
    uint8_t level;
    uint32_t instance;
    uint64_t time_us;
    char *target;
    char *message;
} iggy_log_entry;

/* Environment variable naming the lowest level that is buffered (as in the Go and Rust SDKs). */
#define IGGY_LOG_LEVEL_ENV "IGGY_PLUGIN_LOG_LEVEL"

/* Parses trace, debug, info, warn (or warning) and error, case-insensitively; -1 for anything else. */
static inline int iggy_log_parse_level(const char *s) {
    static const char *const names[] = {"trace", "debug", "info", "warn", "error", "warning"};
    char low[16];
    size_t n = 0;
    if (s == NULL) return -1;
    while (*s == ' ') s++;
    for (; s[n] != '\0' && s[n] != ' ' && n < sizeof low - 1; n++) low[n] = (char)(s[n] >= 'A' && s[n] <= 'Z' ? s[n] + 32 : s[n]);
    low[n] = '\0';
    for (int i = 0; i < 6; i++)
        if (strcmp(low, names[i]) == 0) return i == 5 ? IGGY_LOG_WARN : i;
    return -1;
}

/* A bounded ring of log records shared by every instance of a library; the oldest record is dropped
 * when it is full, and the next drain starts with a warning saying how many were dropped. Records
 * below the level named by IGGY_PLUGIN_LOG_LEVEL (read at the first record; default info) are dropped
 * before they are formatted. Thread-safe.
 * Declare one per library:
 *     static iggy_log_entry log_ring[256];
 *     static iggy_log_buffer logs = IGGY_LOG_BUFFER_INIT(log_ring, 256);
 */
typedef struct iggy_log_buffer {
    pthread_mutex_t mu;
    iggy_log_entry *ring;
    size_t cap;
    size_t head; /* index of the oldest record */
    size_t count;
    uint64_t dropped;
    int min_level; /* -1 until IGGY_PLUGIN_LOG_LEVEL has been read */
} iggy_log_buffer;

#define IGGY_LOG_BUFFER_INIT(storage, capacity) {PTHREAD_MUTEX_INITIALIZER, (storage), (capacity), 0, 0, 0, -1}

/* 1 when a record of this level would be kept. */
static inline int iggy_log_enabled(iggy_log_buffer *b, uint8_t level) {
    pthread_mutex_lock(&b->mu);
    if (b->min_level < 0) {
        int l = iggy_log_parse_level(getenv(IGGY_LOG_LEVEL_ENV));
        b->min_level = l >= 0 ? l : IGGY_LOG_INFO;
    }
    int ok = level >= b->min_level;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static inline void iggy_log_entry_free(iggy_log_entry *e) {
    free(e->target);
    free(e->message);
    e->target = e->message = NULL;
}

/* Adds a record (message formatted with printf rules). Never blocks on I/O; drops the oldest record
 * when full, or this one when memory runs out (counted as dropped). */
static inline void iggy_log(iggy_log_buffer *b, uint8_t level, uint32_t instance, const char *target, const char *fmt, ...) IGGY_PRINTF(5, 6);
static inline void iggy_log(iggy_log_buffer *b, uint8_t level, uint32_t instance, const char *target, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    if (!iggy_log_enabled(b, level)) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    iggy_utf8_sanitize(buf);
    iggy_log_entry e;
    e.level = level;
    e.instance = instance;
    e.time_us = iggy_now_us();
    e.message = strdup(buf);
    e.target = target ? strdup(target) : NULL;
    pthread_mutex_lock(&b->mu);
    if (e.message == NULL || (target != NULL && e.target == NULL) || b->cap == 0) {
        b->dropped++;
        pthread_mutex_unlock(&b->mu);
        iggy_log_entry_free(&e);
        return;
    }
    if (b->count == b->cap) {
        iggy_log_entry_free(&b->ring[b->head]);
        b->head = (b->head + 1) % b->cap;
        b->count--;
        b->dropped++;
    }
    b->ring[(b->head + b->count) % b->cap] = e;
    b->count++;
    pthread_mutex_unlock(&b->mu);
}

/* Implements iggy_plugin_drain_logs: moves every buffered record into a LogBatch in *out (NULL / 0 when
 * there is none). Returns IGGY_STATUS_OK, or IGGY_STATUS_RETRYABLE when memory ran out (the records
 * stay buffered). */
static inline int32_t iggy_log_drain(iggy_log_buffer *b, uint8_t **out, size_t *out_len) {
    char warn[96];
    pthread_mutex_lock(&b->mu);
    size_t n = b->count + (b->dropped > 0);
    if (n == 0) { pthread_mutex_unlock(&b->mu); return IGGY_STATUS_OK; }
    iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
    iggy_cw_array(&w, n);
    if (b->dropped > 0) {
        iggy_log_record rec = {IGGY_LOG_WARN, 0, warn, "iggy_plugin", iggy_now_us(), NULL, 0};
        snprintf(warn, sizeof warn, "log buffer full: %llu log records dropped", (unsigned long long)b->dropped);
        iggy_write_log_record(&w, &rec);
    }
    for (size_t i = 0; i < b->count; i++) {
        const iggy_log_entry *e = &b->ring[(b->head + i) % b->cap];
        iggy_log_record rec = {e->level, e->instance, e->message, e->target, e->time_us, NULL, 0};
        iggy_write_log_record(&w, &rec);
    }
    if (iggy_cw_finish(&w, out, out_len) != 0) { pthread_mutex_unlock(&b->mu); return IGGY_STATUS_RETRYABLE; }
    for (size_t i = 0; i < b->count; i++) iggy_log_entry_free(&b->ring[(b->head + i) % b->cap]);
    b->head = b->count = 0;
    b->dropped = 0;
    pthread_mutex_unlock(&b->mu);
    return IGGY_STATUS_OK;
}

/* ==============================================================================================
 * Instance table
 * ============================================================================================== */

typedef struct iggy_instance {
    uint32_t id;
    unsigned refs;
    int closing;
    void *ptr;
} iggy_instance;

/* Maps instance ids to the plugin's per-instance state. Lookups take a reference, so a close that
 * races with another call on the same id (the runtime never does this, but a plugin must not crash if
 * it happens) waits for that call to finish before the state is released. Declare one per library:
 *     static iggy_instance_table instances = IGGY_INSTANCE_TABLE_INIT;
 */
typedef struct iggy_instance_table {
    pthread_mutex_t mu;
    pthread_cond_t released;
    iggy_instance **items;
    size_t len, cap;
} iggy_instance_table;

#define IGGY_INSTANCE_TABLE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0}

/* Registers ptr under id. Returns 0; 1 when the id is already open; -1 when out of memory. */
static inline int iggy_instances_add(iggy_instance_table *t, uint32_t id, void *ptr) {
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->len; i++)
        if (t->items[i]->id == id) { pthread_mutex_unlock(&t->mu); return 1; }
    if (t->len == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 8;
        iggy_instance **ni = (iggy_instance **)realloc(t->items, ncap * sizeof *ni);
        if (ni == NULL) { pthread_mutex_unlock(&t->mu); return -1; }
        t->items = ni;
        t->cap = ncap;
    }
    iggy_instance *in = (iggy_instance *)calloc(1, sizeof *in);
    if (in == NULL) { pthread_mutex_unlock(&t->mu); return -1; }
    in->id = id;
    in->ptr = ptr;
    t->items[t->len++] = in;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

/* Looks an open instance up and takes a reference. Returns NULL for an unknown (or closing) id.
 * Every non-NULL result must be given back with iggy_instances_release. */
static inline iggy_instance *iggy_instances_acquire(iggy_instance_table *t, uint32_t id) {
    iggy_instance *found = NULL;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->len; i++)
        if (t->items[i]->id == id && !t->items[i]->closing) { found = t->items[i]; found->refs++; break; }
    pthread_mutex_unlock(&t->mu);
    return found;
}

static inline void iggy_instances_release(iggy_instance_table *t, iggy_instance *in) {
    pthread_mutex_lock(&t->mu);
    in->refs--;
    if (in->refs == 0) pthread_cond_broadcast(&t->released);
    pthread_mutex_unlock(&t->mu);
}

/* Removes id from the table, waiting for calls that hold a reference to it, and returns its ptr (NULL
 * when the id is unknown or already being closed). The caller then destroys the state. */
static inline void *iggy_instances_remove(iggy_instance_table *t, uint32_t id) {
    iggy_instance *in = NULL;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->len; i++)
        if (t->items[i]->id == id && !t->items[i]->closing) { in = t->items[i]; break; }
    if (in == NULL) { pthread_mutex_unlock(&t->mu); return NULL; }
    in->closing = 1;
    while (in->refs > 0) pthread_cond_wait(&t->released, &t->mu);
    for (size_t i = 0; i < t->len; i++)
        if (t->items[i] == in) { t->items[i] = t->items[--t->len]; break; }
    if (t->len == 0) { /* nothing open: release the array, so an unloaded library leaks nothing */
        free(t->items);
        t->items = NULL;
        t->cap = 0;
    }
    pthread_mutex_unlock(&t->mu);
    void *ptr = in->ptr;
    free(in);
    return ptr;
}

#ifdef __cplusplus
}
#endif

#endif /* IGGY_CONNECTOR_SDK_H */
