/*
 * bad_abi_module.c — a module the host must refuse: built with -DBAD_MAJOR it claims the next
 * ABI major; with -DBAD_MINOR a newer minor than the host's. Its functions are never called.
 */
#include "smart_plugin.h"

static int never_init(const smart_host *host, const char *config_json, size_t config_len,
                      void **self, smart_error *err)
{
    (void)host;
    (void)config_json;
    (void)config_len;
    (void)err;
    *self = NULL;
    return SMART_EVERSION;
}

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

static const smart_plugin bad_plugin = {
    .struct_size = sizeof(smart_plugin),
#if defined(BAD_MAJOR)
    .abi_major = SMART_ABI_MAJOR + 1,
    .abi_minor = 0,
#else
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR + 1,
#endif
    .name = "test-bad-abi",
    .version = "9.9.9",
    .init = never_init,
    .on_event = never_on_event,
    .commit = never_commit,
    .shutdown = never_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &bad_plugin;
}
