/*
 * spin_module.c — a module whose on_event holds the loop (issue 11, defect 5); written only
 * against plugin-api/smart_plugin.h. "spin.for" with data {"ms": N} spins N ms then answers
 * "spin.done"; "spin.forever" never returns; "spin.ping" answers "spin.pong".
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

static int spin_on_event(void *self, const smart_event *event, smart_error *err)
{
    (void)self;
    if (strcmp(event->topic, "spin.ping") == 0)
        return the_host->emit_event(the_host, "spin.pong", "{}", 2, err);
    if (strcmp(event->topic, "spin.forever") == 0) {
        volatile unsigned long n = 0;
        for (;;)
            n++;
    }
    if (strcmp(event->topic, "spin.for") != 0)
        return SMART_ENOTSUP;
    long long ms = 0;
    const char *p = strstr(event->data_json, "\"ms\":");
    if (p != NULL)
        sscanf(p + 5, "%lld", &ms);
    long long until = now_ms() + ms;
    while (now_ms() < until)
        ;
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
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &spin_plugin;
}
