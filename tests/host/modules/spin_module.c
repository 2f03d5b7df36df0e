/*
 * spin_module.c — a module whose on_event holds the loop (issue 11, defect 5); written only
 * against plugin-api/smart_plugin.h. "spin.for" with data {"ms": N} spins N ms then answers
 * "spin.done"; "spin.forever" never returns; "spin.ping" answers "spin.pong". Its decode_event
 * (ABI 1.1, run on the host's parse-ahead thread) spins N ms on "spin.decode_for" {"ms": N},
 * and for ever on "spin.decode_forever"; on_event answers both with "spin.done".
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "smart_plugin.h"

static const smart_host *the_host;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spin_init(const smart_host *host, const char *config_json, size_t config_len,
                     void **self, smart_error *err)
{
    (void)config_json;
    (void)config_len;
    (void)err;
    the_host = host;
    *self = &the_host;
    return 0;
}

/* {"ms": N} in `data`, or 0. */
static long long ms_of(const char *data)
{
    long long ms = 0;
    const char *p = strstr(data, "\"ms\":");
    if (p != NULL)
        sscanf(p + 5, "%lld", &ms);
    return ms;
}

static void spin_ms(long long ms)
{
    long long until = now_ms() + ms;
    while (now_ms() < until)
        ;
}

static int spin_decode(const smart_event *event, void **decoded, smart_error *err)
{
    (void)err;
    *decoded = NULL;
    if (strcmp(event->topic, "spin.decode_forever") == 0) {
        volatile unsigned long n = 0;
        for (;;)
            n++;
    }
    if (strcmp(event->topic, "spin.decode_for") == 0)
        spin_ms(ms_of(event->data_json));
    return 0;
}

static void spin_release_decoded(void *decoded)
{
    (void)decoded;
}

static int spin_on_event(void *self, const smart_event *event, smart_error *err)
{
    (void)self;
    if (strcmp(event->topic, "spin.decode_for") == 0 ||
        strcmp(event->topic, "spin.decode_forever") == 0)
        return the_host->emit_event(the_host, "spin.done", "{}", 2, err);
    if (strcmp(event->topic, "spin.ping") == 0)
        return the_host->emit_event(the_host, "spin.pong", "{}", 2, err);
    if (strcmp(event->topic, "spin.forever") == 0) {
        volatile unsigned long n = 0;
        for (;;)
            n++;
    }
    if (strcmp(event->topic, "spin.for") != 0)
        return SMART_ENOTSUP;
    spin_ms(ms_of(event->data_json));
    return the_host->emit_event(the_host, "spin.done", "{}", 2, err);
}

static int spin_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void spin_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    (void)self;
    done(arg);
}

static const smart_plugin spin_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-spin",
    .version = "1.0.0",
    .init = spin_init,
    .on_event = spin_on_event,
    .commit = spin_commit,
    .shutdown = spin_shutdown,
    .decode_event = spin_decode,
    .release_decoded = spin_release_decoded,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &spin_plugin;
}
