/*
 * Tests of sdk/c/iggy_connector_sdk.h and of the example c_file sink.
 *
 * Usage: sdk_test <abi/testdata dir> <path to libiggy_connector_c_file_sink.so>
 *
 * 1. Every golden vector in abi/testdata is read with the helper reader and rendered in CBOR
 *    diagnostic notation, which is compared with a hard-coded expectation (the values of
 *    abi/golden_test.go); SinkBatch is also decoded with the typed decoder and checked field by field.
 * 2. The records a C plugin writes (PluginInfo, Error, SinkResult, LogBatch, PollResult) are encoded
 *    with the helpers and compared byte for byte with the golden files.
 * 3. The reader is fed every truncation and every single-byte corruption of every vector, plus
 *    hand-made malformed items: it must fail cleanly (run under valgrind by `make memcheck`).
 * 4. The JSON config reader is checked on a table of inputs.
 * 5. The example sink is loaded with dlopen and driven through its exported symbols only.
 *
 * Prints one line per failed check and ends with "sdk_c_test: N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "iggy_connector_sdk.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

static const char *testdata;

/* ---------------------------------------------------------------------------------------------- */
/* Helpers                                                                                         */

typedef struct {
    uint8_t *data;
    size_t len;
} blob;

static blob read_file(const char *dir, const char *name) {
    char path[1024];
    blob b = {NULL, 0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    size_t cap = 4096;
    b.data = malloc(cap);
    size_t n;
    while ((n = fread(b.data + b.len, 1, cap - b.len, f)) > 0) {
        b.len += n;
        if (b.len == cap) b.data = realloc(b.data, cap *= 2);
    }
    fclose(f);
    return b;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *s = malloc(1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* A small string builder for diagnostic notation. */
typedef struct {
    char buf[8192];
    size_t len;
} sbuf;

static void sb_add(sbuf *s, const char *fmt, ...) IGGY_PRINTF(2, 3);
static void sb_add(sbuf *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->buf + s->len, sizeof s->buf - s->len, fmt, ap);
    va_end(ap);
    if (n > 0) s->len += (size_t)n < sizeof s->buf - s->len ? (size_t)n : sizeof s->buf - s->len - 1;
}

/* Renders one item in RFC 8949 diagnostic notation using only the helper reader. */
static int diag(iggy_cbor_reader *r, sbuf *s, unsigned depth) {
    unsigned major, info;
    if (depth > IGGY_CBOR_MAX_DEPTH) return iggy_cr_fail(r, "too deep");
    if (iggy_cr_peek(r, &major, &info) != 0) return -1;
    switch (major) {
    case IGGY_CBOR_UINT: {
        uint64_t v;
        if (iggy_cr_uint(r, &v) != 0) return -1;
        sb_add(s, "%llu", (unsigned long long)v);
        return 0;
    }
    case IGGY_CBOR_TEXT: {
        iggy_view v;
        if (iggy_cr_text(r, &v) != 0) return -1;
        sb_add(s, "\"%.*s\"", (int)v.len, (const char *)v.ptr);
        return 0;
    }
    case IGGY_CBOR_BYTES: {
        iggy_view v;
        if (iggy_cr_bytes(r, &v) != 0) return -1;
        sb_add(s, "h'");
        for (size_t i = 0; i < v.len; i++) sb_add(s, "%02x", v.ptr[i]);
        sb_add(s, "'");
        return 0;
    }
    case IGGY_CBOR_ARRAY: {
        size_t n;
        if (iggy_cr_array(r, &n) != 0) return -1;
        sb_add(s, "[");
        for (size_t i = 0; i < n; i++) {
            if (i) sb_add(s, ", ");
            if (diag(r, s, depth + 1) != 0) return -1;
        }
        sb_add(s, "]");
        return 0;
    }
    case IGGY_CBOR_MAP: {
        size_t n;
        if (iggy_cr_map(r, &n) != 0) return -1;
        sb_add(s, "{");
        for (size_t i = 0; i < n; i++) {
            if (i) sb_add(s, ", ");
            if (diag(r, s, depth + 1) != 0) return -1;
            sb_add(s, ": ");
            if (diag(r, s, depth + 1) != 0) return -1;
        }
        sb_add(s, "}");
        return 0;
    }
    case IGGY_CBOR_SIMPLE: {
        int b;
        if (iggy_cr_null(r)) { sb_add(s, "null"); return 0; }
        if (iggy_cr_bool(r, &b) != 0) return -1;
        sb_add(s, b ? "true" : "false");
        return 0;
    }
    default:
        return iggy_cr_fail(r, "unexpected %s at offset %zu", iggy_cbor_major_name(major), r->pos);
    }
}

/* Renders a whole buffer; returns 0 when it is exactly one well-formed item. */
static int diag_all(const uint8_t *p, size_t n, sbuf *s, char *err, size_t err_cap) {
    iggy_cbor_reader r;
    iggy_cr_init(&r, p, n);
    s->len = 0;
    s->buf[0] = '\0';
    if (diag(&r, s, 0) != 0 || iggy_cr_finish(&r) != 0) {
        iggy_cr_error(&r, err, err_cap);
        return -1;
    }
    return 0;
}

/* Decodes an Error record with the reader. */
typedef struct {
    char code[64], message[512], field[64];
    int retryable;
    int ok;
} error_rec;

static void copy_view(char *dst, size_t cap, iggy_view v) {
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n) memcpy(dst, v.ptr, n);
    dst[n] = '\0';
}

static error_rec decode_error(const uint8_t *p, size_t n) {
    error_rec e;
    memset(&e, 0, sizeof e);
    iggy_cbor_reader r;
    size_t pairs;
    iggy_cr_init(&r, p, n);
    if (iggy_cr_map(&r, &pairs) != 0) return e;
    for (size_t i = 0; i < pairs; i++) {
        uint64_t k;
        iggy_view v;
        if (iggy_cr_key(&r, &k) != 0) return e;
        switch (k) {
        case 1: if (iggy_cr_text(&r, &v) == 0) copy_view(e.code, sizeof e.code, v); break;
        case 2: if (iggy_cr_text(&r, &v) == 0) copy_view(e.message, sizeof e.message, v); break;
        case 3: iggy_cr_bool(&r, &e.retryable); break;
        case 4: if (iggy_cr_text(&r, &v) == 0) copy_view(e.field, sizeof e.field, v); break;
        default: iggy_cr_skip(&r);
        }
    }
    e.ok = iggy_cr_finish(&r) == 0;
    return e;
}

/* ---------------------------------------------------------------------------------------------- */
/* 1. Golden vectors, read                                                                         */

static const struct {
    const char *file;
    const char *diag;
} golden[] = {
    {"plugin_info.cbor",
     "{1: 65537, 2: \"sink\", 3: \"stdout\", 4: \"0.1.0\", 5: \"Prints messages to standard output\", "
     "6: [{1: \"print_payload\", 2: \"bool\", 4: \"false\", 5: \"log every payload\"}, "
     "{1: \"connection_string\", 2: \"string\", 3: true, 6: true}], 7: \"go-sdk/0.1.0\"}"},
    {"error.cbor", "{1: \"invalid_config\", 2: \"batch_size must be at least 1\", 4: \"batch_size\"}"},
    {"error_retryable.cbor", "{1: \"connection\", 2: \"connection refused\", 3: true}"},
    {"sink_batch.cbor",
     "{1: \"orders\", 2: \"created\", 3: 3, 4: 1000000000000, 5: \"json\", 6: ["
     "{1: h'0102030405060708090a0b0c0d0e0f10', 2: 41, 3: 18364758544493064720, 4: 1700000000000000, "
     "5: 1699999999999000, 6: [[2, h'7472616365', 2, h'616263'], [2, h'6e', 11, h'07000000']], 7: h'7b2261223a317d'}, "
     "{1: h'00000000000000000000000000000002', 2: 42, 3: 1, 4: 1700000000000001, 5: 0, 7: h'00ff10'}]}"},
    {"sink_result.cbor", "{1: [{1: 1, 2: {1: \"write_failed\", 2: \"invalid input syntax for type json\"}}]}"},
    {"sink_result_empty.cbor", "{}"},
    {"poll_result.cbor",
     "{1: 7, 2: \"json\", 3: [{1: h'0102030405060708090a0b0c0d0e0f10', 2: [[2, h'7461626c65', 2, h'7573657273']], "
     "3: h'7b226964223a317d', 4: 1700000000000000, 5: h'75736572733a31'}, {3: h'7b226964223a327d'}], 4: h'9102'}"},
    {"poll_result_empty.cbor", "{1: 8, 2: \"raw\", 5: 250}"},
    {"log_batch.cbor",
     "[{1: 2, 2: 5, 3: \"opened\", 4: \"stdout\", 5: 1700000000000000, 6: [[\"table\", \"users\"]]}, "
     "{1: 4, 3: \"library-wide failure\"}]"},
};
#define N_GOLDEN (sizeof golden / sizeof golden[0])

static void test_golden_read(void) {
    for (size_t i = 0; i < N_GOLDEN; i++) {
        blob b = read_file(testdata, golden[i].file);
        sbuf s;
        char err[256];
        int rc = diag_all(b.data, b.len, &s, err, sizeof err);
        CHECK(rc == 0, "%s: reader failed: %s", golden[i].file, err);
        CHECK(rc == 0 && strcmp(s.buf, golden[i].diag) == 0, "%s:\n  got  %s\n  want %s", golden[i].file, s.buf, golden[i].diag);
        free(b.data);
    }
}

/* Checks the golden sink_batch record, decoded from CBOR or from its by-reference image; every view
 * must point into [base, base + base_len). */
static void check_golden_sink_batch(const iggy_sink_batch *b, const uint8_t *base, size_t base_len) {
    CHECK(iggy_view_eq(b->stream, "orders"), "stream");
    CHECK(iggy_view_eq(b->topic, "created"), "topic");
    CHECK(b->partition_id == 3, "partition_id %u", b->partition_id);
    CHECK(b->current_offset == 1000000000000ull, "current_offset %llu", (unsigned long long)b->current_offset);
    CHECK(iggy_view_eq(b->schema, "json"), "schema");
    CHECK(b->messages_len == 2, "messages_len %zu", b->messages_len);
    if (b->messages_len == 2) {
        const iggy_message *m = &b->messages[0];
        static const uint8_t id1[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        static const uint8_t id2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        CHECK(memcmp(m->id, id1, 16) == 0, "messages[0].id");
        CHECK(m->offset == 41, "messages[0].offset");
        CHECK(m->checksum == 0xfedcba9876543210ull, "messages[0].checksum");
        CHECK(m->timestamp == 1700000000000000ull, "messages[0].timestamp");
        CHECK(m->origin_timestamp == 1699999999999000ull, "messages[0].origin_timestamp");
        CHECK(m->headers_len == 2, "messages[0].headers_len %zu", m->headers_len);
        if (m->headers_len == 2) {
            CHECK(m->headers[0].key_kind == IGGY_HEADER_STRING && iggy_view_eq(m->headers[0].key, "trace"), "header 0 key");
            CHECK(m->headers[0].value_kind == IGGY_HEADER_STRING && iggy_view_eq(m->headers[0].value, "abc"), "header 0 value");
            CHECK(m->headers[1].key_kind == IGGY_HEADER_STRING && iggy_view_eq(m->headers[1].key, "n"), "header 1 key");
            CHECK(m->headers[1].value_kind == IGGY_HEADER_UINT32 && iggy_view_eq_bytes(m->headers[1].value, "\x07\0\0\0", 4), "header 1 value");
        }
        CHECK(iggy_view_eq(m->payload, "{\"a\":1}"), "messages[0].payload");
        m = &b->messages[1];
        CHECK(memcmp(m->id, id2, 16) == 0, "messages[1].id");
        CHECK(m->offset == 42 && m->checksum == 1 && m->timestamp == 1700000000000001ull && m->origin_timestamp == 0, "messages[1] numbers");
        CHECK(m->headers_len == 0 && m->headers == NULL, "messages[1] has no headers");
        CHECK(iggy_view_eq_bytes(m->payload, "\x00\xff\x10", 3), "messages[1].payload");
        /* views point into the input buffer: nothing was copied */
        CHECK(m->payload.ptr > base && m->payload.ptr + m->payload.len <= base + base_len, "payload is a view into the input");
    }
}

static void test_sink_batch_typed(void) {
    blob raw = read_file(testdata, "sink_batch.cbor");
    iggy_sink_batch b;
    char err[256];
    int32_t st = iggy_decode_sink_batch(raw.data, raw.len, &b, err, sizeof err);
    CHECK(st == IGGY_STATUS_OK, "decode sink_batch: %d %s", st, err);
    if (st != IGGY_STATUS_OK) { free(raw.data); return; }
    check_golden_sink_batch(&b, raw.data, raw.len);
    iggy_sink_batch_free(&b);
    free(raw.data);
}

/* ABI 1.1: sink_batch_ref.bin is the same batch as an IggySinkBatchRef image (64-bit little-endian,
 * pointers as offsets from the start of the file, 0 = NULL); relocated, it decodes to the same batch. */
static void test_sink_batch_ref(void) {
    if (sizeof(void *) != 8 || sizeof(IggySinkBatchRef) != 88 || sizeof(IggyMessageRef) != 80) {
        CHECK(sizeof(void *) != 8, "IggySinkBatchRef %zu / IggyMessageRef %zu bytes, want 88 / 80", sizeof(IggySinkBatchRef), sizeof(IggyMessageRef));
        return; /* the image is of a 64-bit platform */
    }
    CHECK(offsetof(IggySinkBatchRef, messages) == 64 && offsetof(IggyMessageRef, headers) == 48 && offsetof(IggyMessageRef, payload) == 64,
          "the structs have the offsets of iggy_connector.h");
    blob img = read_file(testdata, "sink_batch_ref.bin");
    /* relocate: every pointer field holds an offset into the image */
    IggySinkBatchRef *ref = (IggySinkBatchRef *)(void *)img.data;
#define RELOC(p) do { uint64_t off; memcpy(&off, &(p), 8); if (off != 0) { CHECK(off < img.len, "pointer offset %llu", (unsigned long long)off); (p) = (void *)(img.data + off); } } while (0)
    RELOC(ref->stream);
    RELOC(ref->topic);
    RELOC(ref->schema);
    RELOC(ref->messages);
    for (size_t i = 0; i < ref->messages_len; i++) {
        IggyMessageRef *m = (IggyMessageRef *)(void *)((uint8_t *)ref->messages + i * ref->message_size);
        RELOC(m->headers);
        RELOC(m->payload);
    }
#undef RELOC
    iggy_sink_batch b;
    char err[256];
    int32_t st = iggy_sink_batch_from_ref(ref, &b, err, sizeof err);
    CHECK(st == IGGY_STATUS_OK, "decode sink_batch_ref: %d %s", st, err);
    if (st == IGGY_STATUS_OK) {
        check_golden_sink_batch(&b, img.data, img.len);
        iggy_sink_batch_free(&b);
    }
    /* malformed descriptors are refused with the field named */
    IggySinkBatchRef bad = *ref;
    bad.size = 40;
    st = iggy_sink_batch_from_ref(&bad, &b, err, sizeof err);
    CHECK(st == IGGY_STATUS_BAD_INPUT && strstr(err, "size 40") != NULL, "small size: %d %s", st, err);
    bad = *ref;
    IggyMessageRef ms[2];
    memcpy(ms, ref->messages, sizeof ms);
    ms[1].payload = NULL;
    bad.messages = ms;
    st = iggy_sink_batch_from_ref(&bad, &b, err, sizeof err);
    CHECK(st == IGGY_STATUS_BAD_INPUT && strstr(err, "messages[1].payload") != NULL, "NULL payload: %d %s", st, err);
    memcpy(ms, ref->messages, sizeof ms);
    static const uint8_t junk[] = {0x82, 0x01};
    ms[0].headers = junk;
    ms[0].headers_len = sizeof junk;
    st = iggy_sink_batch_from_ref(&bad, &b, err, sizeof err);
    CHECK(st == IGGY_STATUS_BAD_INPUT && strstr(err, "messages[0].") != NULL, "bad headers: %d %s", st, err);
    st = iggy_sink_batch_from_ref(NULL, &b, err, sizeof err);
    CHECK(st == IGGY_STATUS_BAD_INPUT, "NULL batch: %d", st);
    free(img.data);
}

/* ---------------------------------------------------------------------------------------------- */
/* 2. Golden vectors, written                                                                      */

static void expect_golden(const char *file, uint8_t *out, size_t out_len, int rc) {
    blob want = read_file(testdata, file);
    CHECK(rc == 0 && out != NULL, "%s: encoder failed", file);
    int same = out != NULL && out_len == want.len && memcmp(out, want.data, want.len) == 0;
    if (!same) {
        fprintf(stderr, "  got  ");
        for (size_t i = 0; out && i < out_len; i++) fprintf(stderr, "%02x", out[i]);
        fprintf(stderr, "\n  want ");
        for (size_t i = 0; i < want.len; i++) fprintf(stderr, "%02x", want.data[i]);
        fprintf(stderr, "\n");
    }
    CHECK(same, "%s: encoding differs from the golden bytes", file);
    free(out);
    free(want.data);
}

static void test_golden_write(void) {
    uint8_t *out = NULL;
    size_t len = 0;
    int rc;

    static const iggy_config_field fields[] = {
        {"print_payload", "bool", 0, "false", "log every payload", 0},
        {"connection_string", "string", 1, NULL, NULL, 1},
    };
    iggy_plugin_info_record info = {IGGY_ABI_VERSION, "sink", "stdout", "0.1.0", "Prints messages to standard output", fields, 2, "go-sdk/0.1.0"};
    rc = iggy_encode_plugin_info(&info, &out, &len);
    expect_golden("plugin_info.cbor", out, len, rc);

    out = NULL;
    rc = iggy_encode_error("invalid_config", "batch_size must be at least 1", 0, "batch_size", &out, &len);
    expect_golden("error.cbor", out, len, rc);

    out = NULL;
    rc = iggy_encode_error("connection", "connection refused", 1, NULL, &out, &len);
    expect_golden("error_retryable.cbor", out, len, rc);

    out = NULL;
    iggy_message_failure fail = {1, "write_failed", "invalid input syntax for type json", 0, NULL};
    rc = iggy_encode_sink_result(&fail, 1, &out, &len);
    expect_golden("sink_result.cbor", out, len, rc);

    out = NULL;
    rc = iggy_encode_sink_result(NULL, 0, &out, &len);
    expect_golden("sink_result_empty.cbor", out, len, rc);

    out = NULL;
    static const iggy_log_attr attrs[] = {{"table", "users"}};
    iggy_log_record recs[2] = {
        {IGGY_LOG_INFO, 5, "opened", "stdout", 1700000000000000ull, attrs, 1},
        {IGGY_LOG_ERROR, 0, "library-wide failure", NULL, 0, NULL, 0},
    };
    rc = iggy_encode_log_batch(recs, 2, &out, &len);
    expect_golden("log_batch.cbor", out, len, rc);

    out = NULL;
    static const uint8_t id1[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    iggy_header hdr = {IGGY_HEADER_STRING, {(const uint8_t *)"table", 5}, IGGY_HEADER_STRING, {(const uint8_t *)"users", 5}};
    iggy_source_message msgs[2] = {
        {id1, &hdr, 1, (const uint8_t *)"{\"id\":1}", 8, 1700000000000000ull, (const uint8_t *)"users:1", 7},
        {NULL, NULL, 0, (const uint8_t *)"{\"id\":2}", 8, 0, NULL, 0},
    };
    static const uint8_t state[2] = {0x91, 0x02};
    iggy_poll_result pr = {7, "json", msgs, 2, state, 2, 0};
    rc = iggy_encode_poll_result(&pr, &out, &len);
    expect_golden("poll_result.cbor", out, len, rc);

    out = NULL;
    iggy_poll_result empty = {8, "raw", NULL, 0, NULL, 0, 250};
    rc = iggy_encode_poll_result(&empty, &out, &len);
    expect_golden("poll_result_empty.cbor", out, len, rc);
}

/* Integer heads use the shortest form at every boundary. */
static void test_writer_ints(void) {
    static const struct {
        uint64_t v;
        const char *hex;
    } cases[] = {
        {0, "00"}, {23, "17"}, {24, "1818"}, {255, "18ff"}, {256, "190100"}, {65535, "19ffff"},
        {65536, "1a00010000"}, {4294967295ull, "1affffffff"}, {4294967296ull, "1b0000000100000000"},
        {UINT64_MAX, "1bffffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
        char hex[64] = "";
        iggy_cw_uint(&w, cases[i].v);
        for (size_t k = 0; k < w.len; k++) sprintf(hex + 2 * k, "%02x", w.buf[k]);
        CHECK(strcmp(hex, cases[i].hex) == 0, "uint %llu: got %s want %s", (unsigned long long)cases[i].v, hex, cases[i].hex);
        iggy_cbor_reader r;
        uint64_t back = 1;
        iggy_cr_init(&r, w.buf, w.len);
        CHECK(iggy_cr_uint(&r, &back) == 0 && back == cases[i].v && iggy_cr_finish(&r) == 0, "uint %llu round trip", (unsigned long long)cases[i].v);
        iggy_cw_discard(&w);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* 3. Malformed input                                                                              */

static void test_truncations_and_corruptions(void) {
    for (size_t i = 0; i < N_GOLDEN; i++) {
        blob b = read_file(testdata, golden[i].file);
        int bad_prefix_accepted = 0;
        for (size_t n = 0; n < b.len; n++) {
            /* a copy of exactly n bytes, so valgrind sees any read past the end */
            uint8_t *cut = malloc(n ? n : 1);
            memcpy(cut, b.data, n);
            sbuf s;
            char err[256];
            if (diag_all(cut, n, &s, err, sizeof err) == 0) bad_prefix_accepted++;
            iggy_sink_batch sb;
            if (iggy_decode_sink_batch(cut, n, &sb, err, sizeof err) == IGGY_STATUS_OK) {
                if (n > 0) bad_prefix_accepted++;
                iggy_sink_batch_free(&sb);
            }
            free(cut);
        }
        /* the empty input is no record; every proper prefix of a record is truncated */
        CHECK(bad_prefix_accepted == 0, "%s: %d truncated prefixes were accepted", golden[i].file, bad_prefix_accepted);

        /* every single-byte corruption: must not crash; sink batches that still decode must be sane */
        size_t decoded = 0;
        for (size_t pos = 0; pos < b.len; pos++) {
            for (int v = 0; v < 256; v += (b.len > 100 ? 3 : 1)) {
                uint8_t *c = malloc(b.len);
                memcpy(c, b.data, b.len);
                c[pos] = (uint8_t)v;
                sbuf s;
                char err[256];
                (void)diag_all(c, b.len, &s, err, sizeof err);
                iggy_sink_batch sb;
                if (iggy_decode_sink_batch(c, b.len, &sb, err, sizeof err) == IGGY_STATUS_OK) {
                    decoded++;
                    for (size_t m = 0; m < sb.messages_len; m++) {
                        const iggy_message *msg = &sb.messages[m];
                        if (msg->payload.len > 0 && (msg->payload.ptr < c || msg->payload.ptr + msg->payload.len > c + b.len)) decoded = (size_t)-1;
                    }
                    iggy_sink_batch_free(&sb);
                }
                free(c);
                if (decoded == (size_t)-1) break;
            }
        }
        CHECK(decoded != (size_t)-1, "%s: a corrupted batch decoded with a view outside the input", golden[i].file);
        free(b.data);
    }
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    return n;
}

static void test_malformed_items(void) {
    static const struct {
        const char *hex;
        const char *want_err; /* substring of the reader's error */
    } cases[] = {
        {"9f0102ff", "indefinite-length array"},
        {"5f4101ff", "indefinite-length byte string"},
        {"bf0102ff", "indefinite-length map"},
        {"1c", "reserved additional information 28"},
        {"ff", "unexpected break"},
        {"1b0000", "truncated item head"},
        {"45010203", "runs past the end"},
        {"9b00000000ffffffff00", "runs past the end"},
        {"bb00000000ffffffff0000", "runs past the end"},
        {"a10102a1", "trailing bytes"},
        {"", "unexpected end of input"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[64];
        size_t n = unhex(cases[i].hex, buf);
        iggy_cbor_reader r;
        iggy_cr_init(&r, buf, n);
        int rc = iggy_cr_skip(&r);
        if (rc == 0) rc = iggy_cr_finish(&r);
        CHECK(rc != 0 && strstr(r.err, cases[i].want_err) != NULL, "%s: rc=%d err=\"%s\" want \"%s\"", cases[i].hex, rc, r.err, cases[i].want_err);
    }
    /* nesting beyond the limit */
    uint8_t deep[IGGY_CBOR_MAX_DEPTH + 10];
    memset(deep, 0x81, sizeof deep);
    deep[sizeof deep - 1] = 0x00;
    iggy_cbor_reader r;
    iggy_cr_init(&r, deep, sizeof deep);
    CHECK(iggy_cr_skip(&r) != 0 && strstr(r.err, "nesting deeper") != NULL, "deep nesting: %s", r.err);
    /* skipping floats, tags, negative ints, simple values inside an unknown key works */
    uint8_t ok[64];
    size_t n = unhex("a406fb3ff199999999999a07c2410108200af7", ok); /* {6: 1.1, 7: 2(h'01'), 8: -1, 10: undefined} */
    iggy_cr_init(&r, ok, n);
    CHECK(iggy_cr_skip(&r) == 0 && iggy_cr_finish(&r) == 0, "skip of floats/tags/negatives: %s", r.err);

    /* typed decoder: errors name the field */
    char err[256];
    iggy_sink_batch b;
    n = unhex("a1031b0000000100000000", ok); /* partition_id = 2^32 */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_BAD_INPUT && strstr(err, "SinkBatch.partition_id") != NULL, "partition overflow: %s", err);
    n = unhex("a10681a10143010203", ok); /* messages[0].id of 3 bytes */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_BAD_INPUT && strstr(err, "SinkBatch.messages[0].id") != NULL, "short id: %s", err);
    n = unhex("a10681a1068183024100", ok); /* a 3-element header */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_BAD_INPUT && strstr(err, "SinkBatch.messages[0].headers[0]") != NULL, "short header: %s", err);
    n = unhex("a2016161016162", ok); /* duplicate key 1 */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_BAD_INPUT && strstr(err, "duplicate map key 1") != NULL, "duplicate key: %s", err);
    n = unhex("a10563726177", ok); /* only schema */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_OK && b.messages_len == 0 && iggy_view_eq(b.schema, "raw"), "absent keys read as zero");
    iggy_sink_batch_free(&b);
    n = unhex("a3636b657901056372617706f6", ok); /* text key skipped, messages null */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_OK && b.messages_len == 0, "unknown text key and null messages: %s", err);
    iggy_sink_batch_free(&b);
    n = unhex("a1068ba0", ok); /* 11 messages announced, 1 present */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_BAD_INPUT, "announced more messages than present: %s", err);
    n = unhex("a10681a207f6181901", ok); /* payload null, unknown key 25 */
    CHECK(iggy_decode_sink_batch(ok, n, &b, err, sizeof err) == IGGY_STATUS_OK && b.messages_len == 1 && b.messages[0].payload.len == 0, "null payload: %s", err);
    iggy_sink_batch_free(&b);
    CHECK(iggy_decode_sink_batch(NULL, 0, &b, err, sizeof err) == IGGY_STATUS_BAD_INPUT, "NULL input");
}

/* ---------------------------------------------------------------------------------------------- */
/* 4. JSON config reader                                                                           */

static void test_json(void) {
    static const struct {
        const char *text;
        int32_t status;
        size_t members;
    } cases[] = {
        {"", IGGY_STATUS_OK, 0},
        {"  null ", IGGY_STATUS_OK, 0},
        {"{}", IGGY_STATUS_OK, 0},
        {"{\"a\": \"x\", \"b\": -1.5e3, \"c\": true, \"d\": null, \"e\": [1, {\"f\": []}], \"g\": {}}", IGGY_STATUS_OK, 6},
        {"{\"a\":1,}", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\" 1}", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\":01}", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\":\"\\x\"}", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\":\"\\ud800\"}", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\":\"\xff\"}", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\":\"x\"} x", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\":tru}", IGGY_STATUS_BAD_INPUT, 0},
        {"{\"a\":\"unterminated}", IGGY_STATUS_BAD_INPUT, 0},
        {"[1,2]", IGGY_STATUS_PERMANENT, 0},
        {"\"text\"", IGGY_STATUS_PERMANENT, 0},
        {"[1,2", IGGY_STATUS_BAD_INPUT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iggy_json_object o;
        char err[128] = "";
        int32_t st = iggy_json_parse_object((const uint8_t *)cases[i].text, strlen(cases[i].text), &o, err, sizeof err);
        CHECK(st == cases[i].status, "json %s: status %d want %d (%s)", cases[i].text, st, cases[i].status, err);
        if (st == IGGY_STATUS_OK) {
            CHECK(o.len == cases[i].members, "json %s: %zu members", cases[i].text, o.len);
            iggy_json_free(&o);
        }
    }
    const char *t = "{\"s\": \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\n\", \"n\": 1234567890123, \"f\": 1.5, \"b\": false, \"s\": \"dup\"}";
    iggy_json_object o;
    char err[128];
    CHECK(iggy_json_parse_object((const uint8_t *)t, strlen(t), &o, err, sizeof err) == IGGY_STATUS_OK, "json escapes: %s", err);
    const iggy_json_member *m = &o.members[0];
    CHECK(m->type == IGGY_JSON_STRING && strcmp(m->str, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\n") == 0, "decoded string: %s", m->str);
    int64_t v = 0;
    CHECK(iggy_json_int(iggy_json_get(&o, "n"), &v) == 0 && v == 1234567890123ll, "integer");
    CHECK(iggy_json_int(iggy_json_get(&o, "f"), &v) != 0, "1.5 is not an integer");
    CHECK(iggy_json_get(&o, "b")->type == IGGY_JSON_BOOL && iggy_json_get(&o, "b")->boolean == 0, "bool");
    CHECK(strcmp(iggy_json_get(&o, "s")->str, "dup") == 0, "last duplicate wins in iggy_json_get");
    static const char *const known[] = {"s", "n", "f", "b"};
    const char *why = NULL;
    const char *bad = iggy_json_check_keys(&o, known, 4, &why);
    CHECK(bad != NULL && strcmp(bad, "s") == 0 && strcmp(why, "duplicate key") == 0, "duplicate key reported");
    bad = iggy_json_check_keys(&o, known, 3, &why);
    CHECK(bad != NULL && strcmp(bad, "b") == 0 && strcmp(why, "unknown key") == 0, "unknown key reported");
    iggy_json_free(&o);
}

static void test_log_levels(void) {
    static const struct {
        const char *s;
        int want;
    } cases[] = {{"trace", 0}, {"DEBUG", 1}, {" info", 2}, {"warn", 3}, {"Warning", 3}, {"error", 4}, {"loud", -1}, {"", -1}, {NULL, -1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(iggy_log_parse_level(cases[i].s) == cases[i].want, "log level %s", cases[i].s ? cases[i].s : "(null)");
    static iggy_log_entry ring[4];
    iggy_log_buffer b = IGGY_LOG_BUFFER_INIT(ring, 4);
    b.min_level = IGGY_LOG_WARN;
    iggy_log(&b, IGGY_LOG_INFO, 1, "t", "dropped %d", 1);
    iggy_log(&b, IGGY_LOG_ERROR, 1, "t", "kept %d", 2);
    uint8_t *out = NULL;
    size_t len = 0;
    sbuf s;
    char err[64];
    CHECK(iggy_log_drain(&b, &out, &len) == IGGY_STATUS_OK && out != NULL, "drain");
    CHECK(out && diag_all(out, len, &s, err, sizeof err) == 0 && strstr(s.buf, "kept 2") && !strstr(s.buf, "dropped 1"), "level filter: %s", s.buf);
    free(out);
}

/* ---------------------------------------------------------------------------------------------- */
/* 5. The example sink, through its exported symbols                                               */

typedef uint32_t (*fn_abi_version)(void);
typedef int32_t (*fn_out)(uint8_t **, size_t *);
typedef void (*fn_free)(uint8_t *, size_t);
typedef int32_t (*fn_validate)(const uint8_t *, size_t, uint8_t **, size_t *);
typedef int32_t (*fn_open)(uint32_t, const uint8_t *, size_t, uint8_t **, size_t *);
typedef int32_t (*fn_consume)(uint32_t, const uint8_t *, size_t, uint8_t **, size_t *);
typedef int32_t (*fn_close)(uint32_t, uint8_t **, size_t *);

static struct {
    fn_abi_version abi_version;
    fn_out info, drain_logs;
    fn_free free_;
    fn_validate validate;
    fn_open open;
    fn_consume consume;
    fn_close close;
} sink;

/* A call's result: status and the decoded Error record, the out buffer freed with iggy_plugin_free. */
typedef struct {
    int32_t status;
    int had_out;
    error_rec err;
} result;

static result finish(int32_t st, uint8_t *out, size_t len) {
    result r;
    memset(&r, 0, sizeof r);
    r.status = st;
    r.had_out = out != NULL;
    if (out != NULL) {
        if (st != IGGY_STATUS_OK) r.err = decode_error(out, len);
        sink.free_(out, len);
    }
    return r;
}

static result s_validate(const char *cfg) {
    uint8_t *out = NULL;
    size_t len = 0;
    int32_t st = sink.validate((const uint8_t *)cfg, strlen(cfg), &out, &len);
    return finish(st, out, len);
}

static result s_open(uint32_t id, const char *cfg) {
    uint8_t *out = NULL;
    size_t len = 0;
    int32_t st = sink.open(id, (const uint8_t *)cfg, cfg ? strlen(cfg) : 0, &out, &len);
    return finish(st, out, len);
}

static result s_consume(uint32_t id, const uint8_t *p, size_t n) {
    uint8_t *out = NULL;
    size_t len = 0;
    int32_t st = sink.consume(id, p, n, &out, &len);
    return finish(st, out, len);
}

static result s_close(uint32_t id) {
    uint8_t *out = NULL;
    size_t len = 0;
    int32_t st = sink.close(id, &out, &len);
    return finish(st, out, len);
}

/* Drains the sink's logs; returns the number of records and renders them into s. */
static size_t drain(sbuf *s) {
    uint8_t *out = NULL;
    size_t len = 0;
    int32_t st = sink.drain_logs(&out, &len);
    CHECK(st == IGGY_STATUS_OK, "drain_logs status %d", st);
    s->len = 0;
    s->buf[0] = '\0';
    if (out == NULL) return 0;
    iggy_cbor_reader r;
    size_t n = 0;
    iggy_cr_init(&r, out, len);
    unsigned major, info;
    if (iggy_cr_peek(&r, &major, &info) == 0 && major == IGGY_CBOR_ARRAY) {
        size_t save = r.pos;
        iggy_cr_array(&r, &n);
        r.pos = save;
    }
    char err[128];
    CHECK(diag_all(out, len, s, err, sizeof err) == 0, "log batch does not decode: %s", err);
    sink.free_(out, len);
    return n;
}

static char *batch_cfg(char *buf, size_t cap, const char *path, const char *extra) {
    snprintf(buf, cap, "{\"path\": \"%s\"%s}", path, extra ? extra : "");
    return buf;
}

/* Builds a SinkBatch with n messages whose payloads are "<tag>-<i>". */
static blob make_batch(const char *tag, uint64_t first_offset, size_t n) {
    iggy_cbor_writer w = IGGY_CBOR_WRITER_INIT;
    iggy_cw_map(&w, 6);
    iggy_cw_uint(&w, 1); iggy_cw_cstr(&w, "s");
    iggy_cw_uint(&w, 2); iggy_cw_cstr(&w, "t");
    iggy_cw_uint(&w, 3); iggy_cw_uint(&w, 1);
    iggy_cw_uint(&w, 4); iggy_cw_uint(&w, first_offset + n);
    iggy_cw_uint(&w, 5); iggy_cw_cstr(&w, "text");
    iggy_cw_uint(&w, 6); iggy_cw_array(&w, n);
    for (size_t i = 0; i < n; i++) {
        char payload[64];
        int len = snprintf(payload, sizeof payload, "%s-%zu", tag, i);
        uint8_t id[16] = {0};
        id[15] = (uint8_t)i;
        iggy_cw_map(&w, 6);
        iggy_cw_uint(&w, 1); iggy_cw_bytes(&w, id, 16);
        iggy_cw_uint(&w, 2); iggy_cw_uint(&w, first_offset + i);
        iggy_cw_uint(&w, 3); iggy_cw_uint(&w, 0);
        iggy_cw_uint(&w, 4); iggy_cw_uint(&w, 1);
        iggy_cw_uint(&w, 5); iggy_cw_uint(&w, 1);
        iggy_cw_uint(&w, 7); iggy_cw_bytes(&w, payload, (size_t)len);
    }
    blob b;
    b.data = w.buf;
    b.len = w.len;
    return b;
}

typedef struct {
    uint32_t id;
    char path[256];
    int batches, ok;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    char cfg[512];
    a->ok = s_open(a->id, batch_cfg(cfg, sizeof cfg, a->path, NULL)).status == IGGY_STATUS_OK;
    for (int i = 0; i < a->batches && a->ok; i++) {
        blob b = make_batch("w", (uint64_t)i * 3, 3);
        if (s_consume(a->id, b.data, b.len).status != IGGY_STATUS_OK) a->ok = 0;
        free(b.data);
    }
    if (s_close(a->id).status != IGGY_STATUS_OK) a->ok = 0;
    return NULL;
}

static void test_sink(const char *so_path) {
    void *lib = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL, "dlopen %s: %s", so_path, dlerror());
    if (lib == NULL) return;
    static const char *const required[] = {"iggy_plugin_abi_version", "iggy_plugin_info", "iggy_plugin_free",
                                           "iggy_plugin_drain_logs", "iggy_plugin_validate_config", "iggy_sink_open",
                                           "iggy_sink_consume", "iggy_sink_close"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        CHECK(dlsym(lib, required[i]) != NULL, "symbol %s is not exported", required[i]);
    CHECK(dlsym(lib, "iggy_source_poll") == NULL, "a sink must not export iggy_source_poll");
    CHECK(dlsym(lib, "iggy_cw_uint") == NULL && dlsym(lib, "parse_config") == NULL, "helpers must not be exported");
    *(void **)&sink.abi_version = dlsym(lib, "iggy_plugin_abi_version");
    *(void **)&sink.info = dlsym(lib, "iggy_plugin_info");
    *(void **)&sink.drain_logs = dlsym(lib, "iggy_plugin_drain_logs");
    *(void **)&sink.free_ = dlsym(lib, "iggy_plugin_free");
    *(void **)&sink.validate = dlsym(lib, "iggy_plugin_validate_config");
    *(void **)&sink.open = dlsym(lib, "iggy_sink_open");
    *(void **)&sink.consume = dlsym(lib, "iggy_sink_consume");
    *(void **)&sink.close = dlsym(lib, "iggy_sink_close");
    if (!sink.abi_version || !sink.info || !sink.drain_logs || !sink.free_ || !sink.validate || !sink.open || !sink.consume || !sink.close) return;

    CHECK(sink.abi_version() == 0x00010001u, "abi version 0x%x", sink.abi_version());

    /* plugin info */
    uint8_t *out = NULL;
    size_t len = 0;
    sbuf s;
    char err[256];
    CHECK(sink.info(&out, &len) == IGGY_STATUS_OK && out != NULL, "info");
    CHECK(out && diag_all(out, len, &s, err, sizeof err) == 0, "info decodes");
    CHECK(strcmp(s.buf, "{1: 65537, 2: \"sink\", 3: \"c_file\", 4: \"0.1.0\", "
                        "5: \"Example C sink: appends <offset>\\t<payload hex> lines to a file, fsynced per batch\", "
                        "6: [{1: \"path\", 2: \"string\", 3: true, 5: \"file to append one line per message to: <offset>\\t<payload hex>\"}, "
                        "{1: \"abort_on_payload\", 2: \"string\", 5: \"crash switch for process-isolation tests: abort() when a payload equals this string\"}], "
                        "7: \"c-sdk/0.1.0\"}") == 0,
          "info: %s", s.buf);
    if (out) sink.free_(out, len);

    /* config validation */
    char dir[] = "/tmp/iggy_c_sdk_test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[512], cfg[1024];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    result r = s_validate(batch_cfg(cfg, sizeof cfg, path, NULL));
    CHECK(r.status == IGGY_STATUS_OK && !r.had_out, "valid config: %d %s", r.status, r.err.message);
    r = s_validate(batch_cfg(cfg, sizeof cfg, path, ", \"pathh\": 1"));
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.code, "invalid_config") == 0 && strcmp(r.err.field, "pathh") == 0 && !r.err.retryable,
          "unknown key: %d %s %s %s", r.status, r.err.code, r.err.field, r.err.message);
    CHECK(strstr(r.err.message, "unknown key \"pathh\"") != NULL, "unknown key message: %s", r.err.message);
    r = s_validate("{}");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0 && strstr(r.err.message, "required"), "missing path: %s", r.err.message);
    r = s_validate("null");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0, "null config: %s", r.err.message);
    r = s_validate("{\"path\": 5}");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0 && strstr(r.err.message, "must be a string, found number"), "path type: %s", r.err.message);
    r = s_validate("{\"path\": \"\"}");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0, "empty path: %s", r.err.message);
    r = s_validate("{\"path\": \"a\\u0000b\"}");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0 && strstr(r.err.message, "NUL"), "NUL in path: %s", r.err.message);
    r = s_validate("{\"path\": \"x\", \"abort_on_payload\": true}");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "abort_on_payload") == 0, "abort_on_payload type: %s", r.err.message);
    r = s_validate("{\"path\": \"x\", \"path\": \"y\"}");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0 && strstr(r.err.message, "duplicate"), "duplicate key: %s", r.err.message);
    r = s_validate("{\"path\": ");
    CHECK(r.status == IGGY_STATUS_BAD_INPUT && strcmp(r.err.code, "bad_input") == 0 && strstr(r.err.message, "at byte"), "malformed JSON: %d %s", r.status, r.err.message);
    r = s_validate("[\"path\"]");
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.code, "invalid_config") == 0 && strstr(r.err.message, "JSON object"), "array config: %s", r.err.message);
    r = s_validate("{\"\xc3\x28\": 1}");
    CHECK(r.status == IGGY_STATUS_BAD_INPUT, "invalid UTF-8 key: %d", r.status);

    /* open errors */
    r = s_open(7, batch_cfg(cfg, sizeof cfg, path, ", \"bogus\": \"x\""));
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.code, "invalid_config") == 0 && strcmp(r.err.field, "bogus") == 0, "open with bad config: %s", r.err.message);
    r = s_open(7, batch_cfg(cfg, sizeof cfg, "/nonexistent-dir-iggy/x.txt", NULL));
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0 && strstr(r.err.message, "/nonexistent-dir-iggy/x.txt"), "open in missing dir: %s", r.err.message);
    r = s_open(0, batch_cfg(cfg, sizeof cfg, path, NULL));
    CHECK(r.status == IGGY_STATUS_PERMANENT, "instance 0 refused");
    r = s_open(7, NULL);
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.field, "path") == 0, "NULL config");

    /* the golden batch */
    r = s_open(7, batch_cfg(cfg, sizeof cfg, path, NULL));
    CHECK(r.status == IGGY_STATUS_OK && !r.had_out, "open: %d %s", r.status, r.err.message);
    r = s_open(7, batch_cfg(cfg, sizeof cfg, path, NULL));
    CHECK(r.status == IGGY_STATUS_PERMANENT && strcmp(r.err.code, "already_open") == 0, "second open of the same id: %s", r.err.code);
    blob golden_batch = read_file(testdata, "sink_batch.cbor");
    r = s_consume(7, golden_batch.data, golden_batch.len);
    CHECK(r.status == IGGY_STATUS_OK && !r.had_out, "consume golden batch: %d %s", r.status, r.err.message);
    char *content = read_text(path);
    CHECK(content && strcmp(content, "41\t7b2261223a317d\n42\t00ff10\n") == 0, "file content: [%s]", content ? content : "(null)");
    free(content);

    /* bad input, unknown instances */
    r = s_consume(7, (const uint8_t *)"\xa6\x01", 2);
    CHECK(r.status == IGGY_STATUS_BAD_INPUT && strcmp(r.err.code, "bad_input") == 0 && strstr(r.err.message, "SinkBatch"), "truncated batch: %d %s", r.status, r.err.message);
    r = s_consume(7, (const uint8_t *)"\x9f\xff", 2);
    CHECK(r.status == IGGY_STATUS_BAD_INPUT, "indefinite array: %d %s", r.status, r.err.message);
    r = s_consume(7, NULL, 0);
    CHECK(r.status == IGGY_STATUS_BAD_INPUT, "empty input: %d", r.status);
    r = s_consume(8, golden_batch.data, golden_batch.len);
    CHECK(r.status == IGGY_STATUS_UNKNOWN_INSTANCE && strcmp(r.err.code, "unknown_instance") == 0, "consume on unknown instance: %d %s", r.status, r.err.code);
    r = s_close(8);
    CHECK(r.status == IGGY_STATUS_UNKNOWN_INSTANCE, "close unknown instance: %d", r.status);
    r = s_consume(7, (const uint8_t *)"\xa1\x05\x64json", 7);
    CHECK(r.status == IGGY_STATUS_OK && !r.had_out, "empty batch: %d", r.status);
    content = read_text(path);
    CHECK(content && strcmp(content, "41\t7b2261223a317d\n42\t00ff10\n") == 0, "empty batch wrote nothing");
    free(content);
    r = s_close(7);
    CHECK(r.status == IGGY_STATUS_OK, "close: %d %s", r.status, r.err.message);
    r = s_consume(7, golden_batch.data, golden_batch.len);
    CHECK(r.status == IGGY_STATUS_UNKNOWN_INSTANCE, "consume after close: %d", r.status);

    /* logs */
    size_t n = drain(&s);
    CHECK(n >= 3 && strstr(s.buf, "3: \"opened ") && strstr(s.buf, "3: \"closed ") && strstr(s.buf, "4: \"c_file_sink\""), "logs: %s", s.buf);
    CHECK(strstr(s.buf, "2: 7,") != NULL, "log records carry the instance: %s", s.buf);
    CHECK(drain(&s) == 0, "second drain is empty");
    for (int i = 0; i < 300; i++) s_validate("{}"), s_open(9, "{\"nope\":1}");
    n = drain(&s);
    CHECK(n == 257 && strstr(s.buf, "log records dropped"), "bounded log buffer: %zu records: %.200s", n, s.buf);

    /* a write that fails is retryable */
    r = s_open(10, "{\"path\": \"/dev/full\"}");
    if (r.status == IGGY_STATUS_OK) {
        r = s_consume(10, golden_batch.data, golden_batch.len);
        CHECK(r.status == IGGY_STATUS_RETRYABLE && strcmp(r.err.code, "write_failed") == 0 && r.err.retryable, "write to /dev/full: %d %s", r.status, r.err.message);
        s_close(10);
    }

    /* concurrent instances */
    enum { WORKERS = 4 };
    pthread_t th[WORKERS];
    worker_arg args[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        args[i].id = 100 + (uint32_t)i;
        args[i].batches = 50;
        snprintf(args[i].path, sizeof args[i].path, "%s/w%d.txt", dir, i);
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].ok, "worker %d failed", i);
        char *c = read_text(args[i].path);
        size_t lines = 0;
        for (char *p = c; p && *p; p++) lines += *p == '\n';
        CHECK(lines == 150, "worker %d wrote %zu lines", i, lines);
        CHECK(c && strncmp(c, "0\t772d30\n1\t772d31\n2\t772d32\n3\t772d30\n", 36) == 0, "worker %d content", i);
        free(c);
        unlink(args[i].path);
    }

    /* the crash switch: abort() in a child process, while every other payload is written */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char c2[1024];
        snprintf(c2, sizeof c2, "{\"path\": \"%s\", \"abort_on_payload\": \"{\\\"a\\\":1}\"}", path);
        s_open(11, c2);
        s_consume(11, golden_batch.data, golden_batch.len);
        _exit(0); /* not reached */
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    CHECK(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGABRT, "abort_on_payload: child status 0x%x", wstatus);
    snprintf(cfg, sizeof cfg, "{\"path\": \"%s\", \"abort_on_payload\": \"no match\"}", path);
    r = s_open(12, cfg);
    r = s_consume(12, golden_batch.data, golden_batch.len);
    CHECK(r.status == IGGY_STATUS_OK, "abort switch that does not match: %d", r.status);
    s_close(12);
    content = read_text(path);
    CHECK(content && strcmp(content, "41\t7b2261223a317d\n42\t00ff10\n41\t7b2261223a317d\n42\t00ff10\n") == 0,
          "after the crash: %s", content ? content : "(null)");
    free(content);

    drain(&s);
    free(golden_batch.data);
    unlink(path);
    rmdir(dir);
    dlclose(lib);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <abi/testdata dir> <libiggy_connector_c_file_sink.so>\n", argv[0]);
        return 2;
    }
    testdata = argv[1];
    test_golden_read();
    test_sink_batch_typed();
    test_sink_batch_ref();
    test_golden_write();
    test_writer_ints();
    test_truncations_and_corruptions();
    test_malformed_items();
    test_json();
    test_log_levels();
    test_sink(argv[2]);
    printf("sdk_c_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
