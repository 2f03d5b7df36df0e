/*
 * bad_codes_module.c — a module that returns codes outside the documented set, or fails after
 * emitting (issue 11, defect 9); written only against plugin-api/smart_plugin.h.
 *
 * Config {"init_rc": N} makes init return N (after storing an instance), {"commit_rc": N}
 * makes every commit return N. "codes.ping" answers "codes.pong". "codes.fail" emits the
 * output "codes.dropped", an alert and a posted "codes.ping", then fails with SMART_EINVAL;
 * "codes.odd" does the same and returns +3: in both the host must keep none of the three.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smart_plugin.h"

typedef struct codes_module {
    const smart_host *host;
    int commit_rc;
} codes_module;

static int config_int(const char *config_json, const char *key, int fallback)
{
    const char *p = strstr(config_json, key);
    int n;
    if (p == NULL || sscanf(p + strlen(key), " : %d", &n) != 1)
        return fallback;
    return n;
}

static int codes_init(const smart_host *host, const char *config_json, size_t config_len,
                      void **self, smart_error *err)
{
    (void)config_len;
    (void)err;
    static codes_module one; /* a test module, one instance per image */
    one.host = host;
    one.commit_rc = config_int(config_json, "\"commit_rc\"", 0);
    *self = &one;
    return config_int(config_json, "\"init_rc\"", 0);
}

static int codes_on_event(void *self, const smart_event *event, smart_error *err)
{
    codes_module *c = self;
    const smart_host *h = c->host;
    if (strcmp(event->topic, "codes.ping") == 0)
        return h->emit_event(h, "codes.pong", "{}", 2, err);
    bool fail = strcmp(event->topic, "codes.fail") == 0;
    bool odd = strcmp(event->topic, "codes.odd") == 0;
    if (!fail && !odd)
        return SMART_ENOTSUP;
    h->emit_event(h, "codes.dropped", "{}", 2, NULL);
    const char alert[] = "{\"alert_type\":\"dropped\",\"severity\":\"low\"}";
    h->emit_alert(h, alert, sizeof alert - 1, NULL);
    h->post_event(h, "codes.ping", "{}", 2, NULL);
    snprintf(err->text, sizeof err->text, "data: refused after emitting");
    err->code = fail ? SMART_EINVAL : 3;
    return fail ? SMART_EINVAL : 3;
}

static int codes_commit(void *self, smart_error *err)
{
    codes_module *c = self;
    if (c->commit_rc != 0)
        snprintf(err->text, sizeof err->text, "commit: code %d on purpose", c->commit_rc);
    return c->commit_rc;
}

static void codes_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    (void)self;
    done(arg);
}

static const smart_plugin codes_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-bad-codes",
    .version = "1.0.0",
    .init = codes_init,
    .on_event = codes_on_event,
    .commit = codes_commit,
    .shutdown = codes_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &codes_plugin;
}
