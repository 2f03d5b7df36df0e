/*
 * fail_init_module.c — a well-formed SMART module (right ABI, every function present) whose init
 * always fails, as a module does when its configuration or its data is unusable. The host must
 * refuse it with init's message and run on with the other modules.
 */
#include <stdio.h>

#include "smart_plugin.h"

static int fail_init(const smart_host *host, const char *config_json, size_t config_len,
                     void **self, smart_error *err)
{
    (void)host;
    (void)config_json;
    (void)config_len;
    *self = NULL;
    if (err != NULL) {
        err->code = SMART_ECONFIG;
        snprintf(err->text, sizeof err->text, "config.store: this test module never starts");
    }
    return SMART_ECONFIG;
}

/* Never called: init never succeeds. */
static int never_on_event(void *self, const smart_event *event, smart_error *err)
{
    (void)self;
    (void)event;
    (void)err;
    return SMART_ENOTSUP;
}

static int never_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void never_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    (void)self;
    done(arg);
}

static const smart_plugin fail_init_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-fail-init",
    .version = "1.0.0",
    .init = fail_init,
    .on_event = never_on_event,
    .commit = never_commit,
    .shutdown = never_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &fail_init_plugin;
}
