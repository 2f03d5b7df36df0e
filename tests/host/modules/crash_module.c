/*
 * crash_module.c — a module that dies of a fatal signal on request, for the crash and
 * quarantine test (issue 11, defect 6). "crash.segv" writes to an unmapped address (SIGSEGV),
 * "crash.abort" calls abort() (SIGABRT), "crash.fpe" divides by zero (SIGFPE); "crash.ok"
 * answers "crash.ok" with the event's data. Anything else: SMART_ENOTSUP.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smart_plugin.h"

typedef struct crash_module {
    const smart_host *host;
} crash_module;

static int crash_init(const smart_host *host, const char *config_json, size_t config_len,
                      void **self, smart_error *err)
{
    (void)config_json;
    (void)config_len;
    (void)err;
    crash_module *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SMART_ENOMEM;
    c->host = host;
    *self = c;
    return 0;
}

static int crash_on_event(void *self, const smart_event *event, smart_error *err)
{
    crash_module *c = self;
    if (strcmp(event->topic, "crash.segv") == 0) {
        /* An unmapped address that is not NULL: a real fault, which no sanitizer's null check
         * turns into a report of its own before it happens. */
        volatile int *volatile nowhere = (volatile int *)(uintptr_t)16;
        *nowhere = 1;
    } else if (strcmp(event->topic, "crash.abort") == 0) {
        abort();
    } else if (strcmp(event->topic, "crash.fpe") == 0) {
        volatile int zero = 0;
        volatile int n = 1 / zero;
        (void)n;
        raise(SIGFPE); /* where integer division by zero does not trap */
    } else if (strcmp(event->topic, "crash.ok") == 0) {
        return c->host->emit_event(c->host, "crash.ok", event->data_json, event->data_len, err);
    }
    return SMART_ENOTSUP;
}

static int crash_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void crash_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    free(self);
    done(arg);
}

static const smart_plugin crash_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-crash",
    .version = "1.0.0",
    .init = crash_init,
    .on_event = crash_on_event,
    .commit = crash_commit,
    .shutdown = crash_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &crash_plugin;
}
