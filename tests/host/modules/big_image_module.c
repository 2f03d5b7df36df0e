/*
 * big_image_module.c — a module whose image is large (a 1 MiB read-only table), for the test of
 * a module file rewritten in place (issue 11, defect 4): every "big.sum" event reads a page of
 * the table chosen by its "page" number, so after the file under a mapping is truncated or
 * overwritten the read touches pages that are no longer the module's (SIGBUS or garbage),
 * unless the host mapped a private copy. "big.sum" answers {"sum": S}; anything else:
 * SMART_ENOTSUP. It owns no handle, so shutdown is done at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smart_plugin.h"

#define PAGES 256
#define PAGE  4096

/* Filled at build time so the bytes live in the file (not .bss). */
#define ROW(n) [(n)*PAGE] = (unsigned char)((n) + 1)
static const unsigned char table[PAGES * PAGE] = {
    ROW(0),   ROW(16),  ROW(32),  ROW(48),  ROW(64),  ROW(80),  ROW(96),  ROW(112), ROW(128),
    ROW(144), ROW(160), ROW(176), ROW(192), ROW(208), ROW(224), ROW(240), ROW(255),
};

typedef struct big_module {
    const smart_host *host;
} big_module;

static int big_init(const smart_host *host, const char *config_json, size_t config_len, void **self,
                    smart_error *err)
{
    (void)config_json;
    (void)config_len;
    big_module *b = calloc(1, sizeof *b);
    if (b == NULL) {
        err->code = SMART_ENOMEM;
        snprintf(err->text, sizeof err->text, "out of memory");
        return SMART_ENOMEM;
    }
    b->host = host;
    *self = b;
    return 0;
}

static int big_on_event(void *self, const smart_event *event, smart_error *err)
{
    big_module *b = self;
    if (strcmp(event->topic, "big.sum") != 0)
        return SMART_ENOTSUP;
    const char *at = strstr(event->data_json, "\"page\":");
    unsigned page = at != NULL ? (unsigned)strtoul(at + 7, NULL, 10) % PAGES : 0;
    unsigned sum = 0;
    for (unsigned i = 0; i < PAGE; i += 64)
        sum += table[page * PAGE + i];
    char out[64];
    int n = snprintf(out, sizeof out, "{\"sum\":%u}", sum);
    return b->host->emit_event(b->host, "big.sum", out, (size_t)n, err);
}

static int big_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void big_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    free(self);
    done(arg);
}

static const smart_plugin big_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-big-image",
    .version = "1.0.0",
    .init = big_init,
    .on_event = big_on_event,
    .commit = big_commit,
    .shutdown = big_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &big_plugin;
}
