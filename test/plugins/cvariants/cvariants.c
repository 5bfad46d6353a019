/*
 * Test-only C sink plugins built from this one file with a -D flag (see build flags in
 * test/plugintest and scripts/build-plugins.sh --test):
 *   -DVARIANT_BADABI   exports every symbol but reports ABI 2.0      -> libiggy_connector_badabi_sink.so
 *   -DVARIANT_NOSYM    lacks iggy_sink_consume                      -> libiggy_connector_nosym_sink.so
 *   -DVARIANT_ABORT    abort()s inside iggy_sink_consume            -> libiggy_connector_cabort_sink.so
 *   -DVARIANT_HANG     sleeps for an hour inside iggy_sink_consume   -> libiggy_connector_chang_sink.so
 *                      when the batch holds a message with payload "wait"
 * Instances are not tracked: these plugins exist to make the runtime's loader and process transport
 * fail in controlled ways.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "iggy_connector.h"

#if defined(VARIANT_BADABI)
#define ABI ((uint32_t)(2u << 16))
#define NAME "badabi"
#elif defined(VARIANT_NOSYM)
#define ABI IGGY_ABI_VERSION
#define NAME "nosym"
#elif defined(VARIANT_ABORT)
#define ABI IGGY_ABI_VERSION
#define NAME "cabort"
#elif defined(VARIANT_HANG)
#define ABI IGGY_ABI_VERSION
#define NAME "chang"
#else
#error "define one of VARIANT_BADABI, VARIANT_NOSYM, VARIANT_ABORT, VARIANT_HANG"
#endif

uint32_t iggy_plugin_abi_version(void) { return ABI; }

static int32_t give(const uint8_t *b, size_t n, uint8_t **out, size_t *out_len) {
    uint8_t *p = malloc(n);
    if (!p) return IGGY_STATUS_PERMANENT;
    memcpy(p, b, n);
    *out = p;
    *out_len = n;
    return IGGY_STATUS_OK;
}

int32_t iggy_plugin_info(uint8_t **out, size_t *out_len) {
    /* PluginInfo {1: ABI, 2: "sink", 3: NAME, 4: "0.1.0"} */
    uint8_t b[64];
    size_t n = 0, l = strlen(NAME);
    b[n++] = 0xa4;
    b[n++] = 0x01; b[n++] = 0x1a;
    b[n++] = (uint8_t)(ABI >> 24); b[n++] = (uint8_t)(ABI >> 16); b[n++] = (uint8_t)(ABI >> 8); b[n++] = (uint8_t)ABI;
    b[n++] = 0x02; b[n++] = 0x64; memcpy(b + n, "sink", 4); n += 4;
    b[n++] = 0x03; b[n++] = (uint8_t)(0x60 | l); memcpy(b + n, NAME, l); n += l;
    b[n++] = 0x04; b[n++] = 0x65; memcpy(b + n, "0.1.0", 5); n += 5;
    return give(b, n, out, out_len);
}

void iggy_plugin_free(uint8_t *ptr, size_t len) { (void)len; free(ptr); }

int32_t iggy_plugin_drain_logs(uint8_t **out, size_t *out_len) { (void)out; (void)out_len; return IGGY_STATUS_OK; }

int32_t iggy_sink_open(uint32_t instance, const uint8_t *config, size_t config_len, uint8_t **out, size_t *out_len) {
    (void)instance; (void)config; (void)config_len; (void)out; (void)out_len;
    return IGGY_STATUS_OK;
}

#ifndef VARIANT_NOSYM
int32_t iggy_sink_consume(uint32_t instance, const uint8_t *batch, size_t batch_len, uint8_t **out, size_t *out_len) {
    (void)instance; (void)batch; (void)batch_len; (void)out; (void)out_len;
#ifdef VARIANT_ABORT
    abort();
#endif
#ifdef VARIANT_HANG
    /* The canonical SinkBatch encodes the payload "wait" as the bytes 0x07 0x44 'w' 'a' 'i' 't'. */
    for (size_t i = 0; i + 6 <= batch_len; i++) {
        if (memcmp(batch + i, "\x07\x44wait", 6) == 0) {
            sleep(3600);
        }
    }
#endif
    return IGGY_STATUS_OK;
}
#endif

int32_t iggy_sink_close(uint32_t instance, uint8_t **out, size_t *out_len) {
    (void)instance; (void)out; (void)out_len;
    return IGGY_STATUS_OK;
}
