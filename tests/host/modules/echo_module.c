/*
 * echo_module.c — a minimal, well-behaved SMART module for the host stub's tests.
 *
 * Topics: "echo.ping" emits output "echo.pong" with the same data and a ledger record;
 * "echo.post" posts an "echo.ping" with its data (delivered on a later loop turn);
 * "echo.alert" raises a low-severity alert; "echo.bad" is rejected (SMART_EINVAL, naming a
 * field); "echo.fail" reports a failed store (SMART_EIO). Anything else: SMART_ENOTSUP.
 * It owns a uv_timer (never due during a test) that it closes in shutdown, as a real module
 * must, and records "echo.stopped" while shutting down. Config {"fail_init": true} makes init
 * fail. "echo.version" answers "echo.version" with {"version": V}, so a reload test can tell
 * which build runs. Built with -DECHO_VERSION='"2.0.0"' it is a newer build of the same module;
 * with -DECHO_BROKEN_INIT its init always fails (a bad build, for the reload roll-back test).
 * It decodes "echo.decoded" events ahead (ABI 1.1), and answers them with {"decoded": D}: "own"
 * when the decoding its on_event got was made by this very image, "foreign" when by another
 * (a host bug), "none" when there was none. Built with -DECHO_ABI_1_0 it is a module built
 * for ABI 1.0: a smaller descriptor without the decoder.
 * "echo.big" {"n": N, "bytes": B} answers "echo.big" {"n": N, "commits": C, "pad": B x's}, C
 * the commits the host has called so far (so a test sees where the host ended each batch),
 * and records "echo.big" with metadata {"n": N}. "echo.many" {"records": R, "bytes": B} records
 * R "echo.many" records, each with metadata {"i": I, "pad": B x's}, and answers {"records": R}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smart_plugin.h"

#ifndef ECHO_VERSION
#define ECHO_VERSION "1.0.0"
#endif

typedef struct echo_module {
    const smart_host *host;
    uv_timer_t timer;
    smart_shutdown_done done;
    void *done_arg;
    long commits; /* commit calls so far */
} echo_module;

static void fill_error(smart_error *err, int code, const char *text)
{
    if (err != NULL) {
        err->code = code;
        snprintf(err->text, sizeof err->text, "%s", text);
    }
}

static void on_timer(uv_timer_t *timer)
{
    (void)timer;
}

static int echo_init(const smart_host *host, const char *config_json, size_t config_len,
                     void **self, smart_error *err)
{
    *self = NULL;
    if (host->struct_size < sizeof(smart_host)) {
        fill_error(err, SMART_EVERSION, "host table too small");
        return SMART_EVERSION;
    }
    (void)config_len;
#ifdef ECHO_BROKEN_INIT
    (void)config_json;
    fill_error(err, SMART_ECONFIG, "init: this build of test-echo is broken on purpose");
    return SMART_ECONFIG;
#endif
    if (strstr(config_json, "\"fail_init\":true") != NULL) {
        fill_error(err, SMART_ECONFIG, "config.fail_init: asked to fail");
        return SMART_ECONFIG;
    }
    echo_module *echo = calloc(1, sizeof *echo);
    if (echo == NULL) {
        fill_error(err, SMART_ENOMEM, "out of memory");
        return SMART_ENOMEM;
    }
    echo->host = host;
    int rc = uv_timer_init(host->loop, &echo->timer);
    if (rc == 0)
        rc = uv_timer_start(&echo->timer, on_timer, 3600 * 1000, 3600 * 1000);
    if (rc < 0) {
        free(echo); /* uv_timer_init cannot fail on a valid loop, so nothing to close */
        fill_error(err, SMART_ENOMEM, uv_strerror(rc));
        return SMART_ENOMEM;
    }
    uv_unref((uv_handle_t *)&echo->timer); /* must not keep the host's loop alive */
    echo->timer.data = echo;
    *self = echo;
    return 0;
}

static int record(echo_module *echo, const char *action, const char *details, const char *metadata,
                  smart_error *err)
{
    smart_ledger_entry entry = {
        .struct_size = sizeof entry,
        .action = action,
        .target = "echo",
        .details = details,
        .user_id = "system",
        .metadata_json = metadata,
    };
    return echo->host->ledger_append(echo->host, &entry, err);
}

static const smart_plugin echo_plugin;

/* A decoding: which image made it. */
typedef struct echo_decoding {
    const smart_plugin *by;
} echo_decoding;

#ifndef ECHO_ABI_1_0

static int echo_decode(const smart_event *event, void **decoded, smart_error *err)
{
    (void)err;
    *decoded = NULL;
    if (strcmp(event->topic, "echo.decoded") != 0)
        return 0;
    echo_decoding *d = malloc(sizeof *d);
    if (d == NULL)
        return SMART_ENOMEM;
    d->by = &echo_plugin;
    *decoded = d;
    return 0;
}

static void echo_release_decoded(void *decoded)
{
    free(decoded);
}
#endif

/* The integer after `"key":` in the event's data, or -1 (a test module: no JSON library). */
static long data_number(const smart_event *event, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(event->data_json, pattern);
    return at ? strtol(at + strlen(pattern), NULL, 10) : -1;
}

static int answer_big(echo_module *echo, const smart_event *event, smart_error *err)
{
    long n = data_number(event, "n"), bytes = data_number(event, "bytes");
    if (n < 0 || bytes < 0 || bytes > 1000000) {
        fill_error(err, SMART_EINVAL, "data.n, data.bytes: expected counts (bytes up to 1000000)");
        return SMART_EINVAL;
    }
    char *data = malloc((size_t)bytes + 100);
    if (data == NULL) {
        fill_error(err, SMART_ENOMEM, "out of memory");
        return SMART_ENOMEM;
    }
    int len = snprintf(data, 100, "{\"n\":%ld,\"commits\":%ld,\"pad\":\"", n, echo->commits);
    memset(data + len, 'x', (size_t)bytes);
    memcpy(data + len + bytes, "\"}", 2);
    int rc =
        echo->host->emit_event(echo->host, "echo.big", data, (size_t)len + (size_t)bytes + 2, err);
    free(data);
    if (rc == 0) {
        char meta[64];
        snprintf(meta, sizeof meta, "{\"n\":%ld}", n);
        rc = record(echo, "echo.big", "Answered a big ping.", meta, err);
    }
    return rc;
}

static int record_many(echo_module *echo, const smart_event *event, smart_error *err)
{
    long records = data_number(event, "records"), bytes = data_number(event, "bytes");
    if (records < 0 || bytes < 0 || bytes > 1000000) {
        fill_error(err, SMART_EINVAL,
                   "data.records, data.bytes: expected counts (bytes up to 1000000)");
        return SMART_EINVAL;
    }
    char *meta = malloc((size_t)bytes + 100);
    if (meta == NULL) {
        fill_error(err, SMART_ENOMEM, "out of memory");
        return SMART_ENOMEM;
    }
    int rc = 0;
    for (long i = 0; i < records && rc == 0; i++) {
        int len = snprintf(meta, 100, "{\"i\":%ld,\"pad\":\"", i);
        memset(meta + len, 'x', (size_t)bytes);
        memcpy(meta + len + bytes, "\"}", 3);
        rc = record(echo, "echo.many", "One of many records.", meta, err);
    }
    free(meta);
    char data[64];
    snprintf(data, sizeof data, "{\"records\":%ld}", records);
    return rc ? rc : echo->host->emit_event(echo->host, "echo.many", data, strlen(data), err);
}

static int echo_on_event(void *self, const smart_event *event, smart_error *err)
{
    echo_module *echo = self;
    const smart_host *host = echo->host;
    if (strcmp(event->topic, "echo.decoded") == 0) {
        const echo_decoding *d = SMART_HAS(event, decoded) ? event->decoded : NULL;
        const char *data = d == NULL               ? "{\"decoded\":\"none\"}"
                           : d->by == &echo_plugin ? "{\"decoded\":\"own\"}"
                                                   : "{\"decoded\":\"foreign\"}";
        return host->emit_event(host, "echo.decoded", data, strlen(data), err);
    }
    if (strcmp(event->topic, "echo.ping") == 0) {
        int rc = host->emit_event(host, "echo.pong", event->data_json, event->data_len, err);
        if (rc == 0) {
            char meta[128];
            snprintf(meta, sizeof meta, "{\"bytes\":%zu}", event->data_len);
            rc = record(echo, "echo.pong", "Answered a ping.", meta, err);
        }
        return rc;
    }
    if (strcmp(event->topic, "echo.big") == 0)
        return answer_big(echo, event, err);
    if (strcmp(event->topic, "echo.many") == 0)
        return record_many(echo, event, err);
    if (strcmp(event->topic, "echo.version") == 0) {
        static const char version[] = "{\"version\":\"" ECHO_VERSION "\"}";
        return host->emit_event(host, "echo.version", version, sizeof version - 1, err);
    }
    if (strcmp(event->topic, "echo.post") == 0)
        return host->post_event(host, "echo.ping", event->data_json, event->data_len, err);
    if (strcmp(event->topic, "echo.alert") == 0) {
        static const char alert[] =
            "{\"alert_type\":\"echo\",\"severity\":\"low\",\"requires_action\":false}";
        return host->emit_alert(host, alert, sizeof alert - 1, err);
    }
    if (strcmp(event->topic, "echo.bad") == 0) {
        fill_error(err, SMART_EINVAL, "data.value: rejected by the echo module");
        return SMART_EINVAL;
    }
    if (strcmp(event->topic, "echo.fail") == 0) {
        fill_error(err, SMART_EIO, "echo store failed (on request)");
        return SMART_EIO;
    }
    return SMART_ENOTSUP;
}

static int echo_commit(void *self, smart_error *err)
{
    (void)err;
    ((echo_module *)self)->commits++;
    return 0;
}

static void on_timer_closed(uv_handle_t *handle)
{
    echo_module *echo = handle->data;
    record(echo, "echo.stopped", "The echo module stopped.", NULL, NULL);
    smart_shutdown_done done = echo->done;
    void *arg = echo->done_arg;
    free(echo);
    done(arg);
}

static void echo_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    echo_module *echo = self;
    echo->done = done;
    echo->done_arg = arg;
    uv_close((uv_handle_t *)&echo->timer, on_timer_closed);
}

static const smart_plugin echo_plugin = {
#ifdef ECHO_ABI_1_0
    .struct_size = offsetof(smart_plugin, decode_event),
    .abi_minor = 0,
#else
    .struct_size = sizeof(smart_plugin),
    .abi_minor = SMART_ABI_MINOR,
    .decode_event = echo_decode,
    .release_decoded = echo_release_decoded,
#endif
    .abi_major = SMART_ABI_MAJOR,
    .name = "test-echo",
    .version = ECHO_VERSION,
    .init = echo_init,
    .on_event = echo_on_event,
    .commit = echo_commit,
    .shutdown = echo_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &echo_plugin;
}
