/*
 * c_file sink — an example iggy-connectors sink plugin written in C (ABI v1).
 *
 * Licensed under the Apache License, Version 2.0.
 *
 * It appends every message of every batch to a file, one line per message:
 *
 *     <offset> TAB <payload as lowercase hex> LF
 *
 * and fsyncs the file before iggy_sink_consume returns OK, so a batch the runtime commits is on disk.
 * Delivery is at-least-once: a batch replayed after a crash is appended again (lines can repeat, none
 * is lost).
 *
 * plugin_config (JSON object):
 *   path              string, required  the file to append to (created 0644 if missing)
 *   abort_on_payload  string, optional  CRASH SWITCH for the runtime's process-isolation tests: when a
 *                                       message payload equals this string byte for byte, the plugin
 *                                       calls abort() before writing the batch. Never set it in
 *                                       production.
 *
 * Boundary discipline: every input is validated (config, CBOR, instance id); a bad input yields a
 * status code and an Error record, never a crash. The only deliberate crash is abort_on_payload.
 * Calls for different instances may run concurrently; the instance table and the log buffer are
 * thread-safe, and each instance has a mutex of its own.
 */
#define _POSIX_C_SOURCE 200809L
#include "iggy_connector_sdk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SINK_NAME "c_file"
#define SINK_VERSION "0.1.0"
#define LOG_TARGET "c_file_sink"

typedef struct file_sink_config {
    char *path;
    char *abort_on_payload; /* NULL when not set */
    size_t abort_len;
} file_sink_config;

typedef struct file_sink {
    pthread_mutex_t mu; /* serialises calls on this instance (the runtime already does) */
    uint32_t id;
    int fd;
    file_sink_config cfg;
    uint64_t lines;
} file_sink;

static iggy_log_entry log_ring[256];
static iggy_log_buffer logs = IGGY_LOG_BUFFER_INIT(log_ring, 256);
static iggy_instance_table instances = IGGY_INSTANCE_TABLE_INIT;

static const iggy_config_field config_fields[] = {
    {"path", "string", 1, NULL, "file to append one line per message to: <offset>\\t<payload hex>", 0},
    {"abort_on_payload", "string", 0, NULL,
     "crash switch for process-isolation tests: abort() when a payload equals this string", 0},
};
static const char *const known_keys[] = {"path", "abort_on_payload"};

static void config_free(file_sink_config *c) {
    free(c->path);
    free(c->abort_on_payload);
    memset(c, 0, sizeof *c);
}

/* Parses and validates plugin_config. Returns OK or a status with an Error record in *out. */
static int32_t parse_config(const uint8_t *text, size_t len, file_sink_config *cfg, uint8_t **out, size_t *out_len) {
    iggy_json_object obj;
    char err[256];
    const char *why = NULL;
    memset(cfg, 0, sizeof *cfg);
    int32_t st = iggy_json_parse_object(text, len, &obj, err, sizeof err);
    if (st == IGGY_STATUS_BAD_INPUT) return iggy_fail(st, "bad_input", NULL, out, out_len, "plugin_config is not valid JSON: %s", err);
    if (st == IGGY_STATUS_RETRYABLE) return iggy_fail(st, "internal", NULL, out, out_len, "%s", err);
    if (st != IGGY_STATUS_OK) return iggy_fail(IGGY_STATUS_PERMANENT, "invalid_config", NULL, out, out_len, "%s", err);

    const char *bad = iggy_json_check_keys(&obj, known_keys, sizeof known_keys / sizeof known_keys[0], &why);
    if (bad != NULL) {
        st = iggy_fail(IGGY_STATUS_PERMANENT, "invalid_config", bad, out, out_len,
                       "%s \"%s\" (known keys: path, abort_on_payload)", why, bad);
        goto done;
    }
    const iggy_json_member *m = iggy_json_get(&obj, "path");
    if (m == NULL || m->type == IGGY_JSON_NULL) {
        st = iggy_fail(IGGY_STATUS_PERMANENT, "invalid_config", "path", out, out_len, "path is required");
        goto done;
    }
    if (m->type != IGGY_JSON_STRING) {
        st = iggy_fail(IGGY_STATUS_PERMANENT, "invalid_config", "path", out, out_len, "path must be a string, found %s",
                       iggy_json_type_name(m->type));
        goto done;
    }
    if (m->str_len == 0 || strlen(m->str) != m->str_len) {
        st = iggy_fail(IGGY_STATUS_PERMANENT, "invalid_config", "path", out, out_len,
                       m->str_len == 0 ? "path must not be empty" : "path must not contain NUL characters");
        goto done;
    }
    cfg->path = strdup(m->str);
    m = iggy_json_get(&obj, "abort_on_payload");
    if (m != NULL && m->type != IGGY_JSON_NULL) {
        if (m->type != IGGY_JSON_STRING) {
            st = iggy_fail(IGGY_STATUS_PERMANENT, "invalid_config", "abort_on_payload", out, out_len,
                           "abort_on_payload must be a string, found %s", iggy_json_type_name(m->type));
            goto done;
        }
        cfg->abort_on_payload = (char *)malloc(m->str_len + 1);
        if (cfg->abort_on_payload != NULL) {
            memcpy(cfg->abort_on_payload, m->str, m->str_len + 1);
            cfg->abort_len = m->str_len;
        }
        if (cfg->abort_on_payload == NULL) {
            st = iggy_fail(IGGY_STATUS_RETRYABLE, "internal", NULL, out, out_len, "out of memory");
            goto done;
        }
    }
    if (cfg->path == NULL) {
        st = iggy_fail(IGGY_STATUS_RETRYABLE, "internal", NULL, out, out_len, "out of memory");
        goto done;
    }
    st = IGGY_STATUS_OK;
done:
    iggy_json_free(&obj);
    if (st != IGGY_STATUS_OK) config_free(cfg);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */

IGGY_EXPORT uint32_t iggy_plugin_abi_version(void) { return IGGY_ABI_VERSION; }

IGGY_EXPORT int32_t iggy_plugin_info(uint8_t **out, size_t *out_len) {
    iggy_plugin_info_record info = {
        IGGY_ABI_VERSION, "sink", SINK_NAME, SINK_VERSION,
        "Example C sink: appends <offset>\\t<payload hex> lines to a file, fsynced per batch",
        config_fields, sizeof config_fields / sizeof config_fields[0], IGGY_C_SDK_VERSION,
    };
    if (out == NULL || out_len == NULL) return IGGY_STATUS_BAD_INPUT;
    if (iggy_encode_plugin_info(&info, out, out_len) != 0) return IGGY_STATUS_RETRYABLE;
    return IGGY_STATUS_OK;
}

IGGY_EXPORT void iggy_plugin_free(uint8_t *ptr, size_t len) {
    (void)len;
    free(ptr);
}

IGGY_EXPORT int32_t iggy_plugin_drain_logs(uint8_t **out, size_t *out_len) {
    if (out == NULL || out_len == NULL) return IGGY_STATUS_BAD_INPUT;
    return iggy_log_drain(&logs, out, out_len);
}

IGGY_EXPORT int32_t iggy_plugin_validate_config(const uint8_t *config, size_t config_len, uint8_t **out, size_t *out_len) {
    file_sink_config cfg;
    int32_t st = parse_config(config, config_len, &cfg, out, out_len);
    if (st == IGGY_STATUS_OK) config_free(&cfg);
    return st;
}

IGGY_EXPORT int32_t iggy_sink_open(uint32_t instance, const uint8_t *config, size_t config_len, uint8_t **out, size_t *out_len) {
    file_sink_config cfg;
    if (instance == 0)
        return iggy_fail(IGGY_STATUS_PERMANENT, "bad_input", NULL, out, out_len, "instance id 0 is reserved");
    int32_t st = parse_config(config, config_len, &cfg, out, out_len);
    if (st != IGGY_STATUS_OK) {
        iggy_log(&logs, IGGY_LOG_ERROR, instance, LOG_TARGET, "open refused: invalid plugin_config");
        return st;
    }
    int fd = open(cfg.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        int permanent = e == ENOENT || e == ENOTDIR || e == EACCES || e == EISDIR || e == EROFS || e == ENAMETOOLONG || e == ELOOP || e == EPERM;
        st = iggy_fail(permanent ? IGGY_STATUS_PERMANENT : IGGY_STATUS_RETRYABLE, permanent ? "invalid_config" : "io",
                       permanent ? "path" : NULL, out, out_len, "cannot open %s: %s", cfg.path, strerror(e));
        config_free(&cfg);
        return st;
    }
    file_sink *s = (file_sink *)calloc(1, sizeof *s);
    if (s == NULL) {
        close(fd);
        config_free(&cfg);
        return iggy_fail(IGGY_STATUS_RETRYABLE, "internal", NULL, out, out_len, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    s->id = instance;
    s->fd = fd;
    s->cfg = cfg;
    int added = iggy_instances_add(&instances, instance, s);
    if (added != 0) {
        close(fd);
        config_free(&s->cfg);
        pthread_mutex_destroy(&s->mu);
        free(s);
        if (added == 1)
            return iggy_fail(IGGY_STATUS_PERMANENT, "already_open", NULL, out, out_len, "instance %u is already open", instance);
        return iggy_fail(IGGY_STATUS_RETRYABLE, "internal", NULL, out, out_len, "out of memory");
    }
    iggy_log(&logs, IGGY_LOG_INFO, instance, LOG_TARGET, "opened %s%s", cfg.path,
             cfg.abort_on_payload ? " (abort_on_payload crash switch armed)" : "");
    return IGGY_STATUS_OK;
}

/* Writes all of buf, retrying short writes and EINTR. Returns 0 or an errno value. */
static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Decodes a batch: CBOR (batch != NULL, iggy_sink_consume) or by reference (ref, ABI 1.1's
 * iggy_sink_consume_ref); both give the same iggy_sink_batch of views into the runtime's memory. */
static int32_t consume_locked(file_sink *s, const uint8_t *batch, size_t batch_len, const IggySinkBatchRef *ref, uint8_t **out, size_t *out_len) {
    static const char hex[] = "0123456789abcdef";
    iggy_sink_batch b;
    char err[256];
    int32_t st = ref != NULL ? iggy_sink_batch_from_ref(ref, &b, err, sizeof err) : iggy_decode_sink_batch(batch, batch_len, &b, err, sizeof err);
    if (st == IGGY_STATUS_BAD_INPUT) {
        iggy_log(&logs, IGGY_LOG_ERROR, s->id, LOG_TARGET, "undecodable batch: %s", err);
        return iggy_fail(st, "bad_input", NULL, out, out_len, "cannot decode SinkBatch: %s", err);
    }
    if (st != IGGY_STATUS_OK) return iggy_fail(st, "internal", NULL, out, out_len, "%s", err);
    if (b.messages_len == 0) {
        iggy_sink_batch_free(&b);
        return IGGY_STATUS_OK;
    }

    size_t total = 0;
    for (size_t i = 0; i < b.messages_len; i++) {
        const iggy_message *m = &b.messages[i];
        if (s->cfg.abort_on_payload != NULL && iggy_view_eq_bytes(m->payload, s->cfg.abort_on_payload, s->cfg.abort_len)) {
            fprintf(stderr, "c_file sink: instance %u: payload at offset %llu matches abort_on_payload: aborting\n",
                    s->id, (unsigned long long)m->offset);
            abort();
        }
        if (m->payload.len > (SIZE_MAX - total - 32) / 2) {
            iggy_sink_batch_free(&b);
            return iggy_fail(IGGY_STATUS_PERMANENT, "bad_input", NULL, out, out_len, "batch too large");
        }
        total += 22 + 2 * m->payload.len; /* 20 digits, TAB, payload hex, LF */
    }
    char *text = (char *)malloc(total);
    if (text == NULL) {
        iggy_sink_batch_free(&b);
        return iggy_fail(IGGY_STATUS_RETRYABLE, "internal", NULL, out, out_len, "out of memory formatting %zu bytes", total);
    }
    size_t pos = 0;
    for (size_t i = 0; i < b.messages_len; i++) {
        const iggy_message *m = &b.messages[i];
        pos += (size_t)snprintf(text + pos, total - pos, "%llu\t", (unsigned long long)m->offset);
        for (size_t k = 0; k < m->payload.len; k++) {
            text[pos++] = hex[m->payload.ptr[k] >> 4];
            text[pos++] = hex[m->payload.ptr[k] & 15];
        }
        text[pos++] = '\n';
    }
    uint64_t first = b.messages[0].offset, last = b.messages[b.messages_len - 1].offset;
    size_t count = b.messages_len;
    iggy_sink_batch_free(&b);

    int e = write_all(s->fd, text, pos);
    free(text);
    if (e == 0 && fsync(s->fd) != 0) e = errno;
    if (e != 0) {
        iggy_log(&logs, IGGY_LOG_WARN, s->id, LOG_TARGET, "write to %s failed: %s", s->cfg.path, strerror(e));
        return iggy_fail(IGGY_STATUS_RETRYABLE, "write_failed", NULL, out, out_len, "write to %s failed: %s", s->cfg.path, strerror(e));
    }
    s->lines += count;
    iggy_log(&logs, IGGY_LOG_DEBUG, s->id, LOG_TARGET, "wrote %zu messages (offsets %llu..%llu)", count,
             (unsigned long long)first, (unsigned long long)last);
    return IGGY_STATUS_OK;
}

IGGY_EXPORT int32_t iggy_sink_consume(uint32_t instance, const uint8_t *batch, size_t batch_len, uint8_t **out, size_t *out_len) {
    iggy_instance *in = iggy_instances_acquire(&instances, instance);
    if (in == NULL)
        return iggy_fail(IGGY_STATUS_UNKNOWN_INSTANCE, "unknown_instance", NULL, out, out_len, "instance %u is not open", instance);
    file_sink *s = (file_sink *)in->ptr;
    pthread_mutex_lock(&s->mu);
    int32_t st = consume_locked(s, batch, batch_len, NULL, out, out_len);
    pthread_mutex_unlock(&s->mu);
    iggy_instances_release(&instances, in);
    return st;
}

/* ABI 1.1: the same, with the batch by reference (valid only during the call). */
IGGY_EXPORT int32_t iggy_sink_consume_ref(uint32_t instance, const IggySinkBatchRef *batch, uint8_t **out, size_t *out_len) {
    iggy_instance *in = iggy_instances_acquire(&instances, instance);
    if (in == NULL)
        return iggy_fail(IGGY_STATUS_UNKNOWN_INSTANCE, "unknown_instance", NULL, out, out_len, "instance %u is not open", instance);
    file_sink *s = (file_sink *)in->ptr;
    pthread_mutex_lock(&s->mu);
    int32_t st = consume_locked(s, NULL, 0, batch, out, out_len);
    pthread_mutex_unlock(&s->mu);
    iggy_instances_release(&instances, in);
    return st;
}

IGGY_EXPORT int32_t iggy_sink_close(uint32_t instance, uint8_t **out, size_t *out_len) {
    file_sink *s = (file_sink *)iggy_instances_remove(&instances, instance);
    if (s == NULL)
        return iggy_fail(IGGY_STATUS_UNKNOWN_INSTANCE, "unknown_instance", NULL, out, out_len, "instance %u is not open", instance);
    int32_t st = IGGY_STATUS_OK;
    if (fsync(s->fd) != 0 && errno != EINVAL)
        st = iggy_fail(IGGY_STATUS_PERMANENT, "write_failed", NULL, out, out_len, "fsync %s: %s", s->cfg.path, strerror(errno));
    if (close(s->fd) != 0 && st == IGGY_STATUS_OK)
        st = iggy_fail(IGGY_STATUS_PERMANENT, "write_failed", NULL, out, out_len, "close %s: %s", s->cfg.path, strerror(errno));
    iggy_log(&logs, IGGY_LOG_INFO, instance, LOG_TARGET, "closed %s after %llu lines", s->cfg.path, (unsigned long long)s->lines);
    config_free(&s->cfg);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return st;
}
