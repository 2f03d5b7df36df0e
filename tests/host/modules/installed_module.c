/*
 * installed_module.c — the smallest module a module author writes against the installed
 * header: compiled by tests/host/install.sh with `pkg-config --cflags smart-plugin` only (not by
 * meson), it answers "tiny.ping" with "tiny.pong" and the same data.
 */
#include <smart/smart_plugin.h>
#include <string.h>

static const smart_host *the_host;

static int tiny_init(const smart_host *host, const char *config_json, size_t config_len,
                     void **self, smart_error *err)
{
    (void)config_json;
    (void)config_len;
    (void)err;
    the_host = host;
    *self = &the_host;
    return 0;
}

static int tiny_on_event(void *self, const smart_event *event, smart_error *err)
{
    (void)self;
    if (strcmp(event->topic, "tiny.ping") != 0)
        return SMART_ENOTSUP;
    return the_host->emit_event(the_host, "tiny.pong", event->data_json, event->data_len, err);
}

static int tiny_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void tiny_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    (void)self;
    done(arg);
}

static const smart_plugin tiny_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-installed",
    .version = "1.0.0",
    .init = tiny_init,
    .on_event = tiny_on_event,
    .commit = tiny_commit,
    .shutdown = tiny_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &tiny_plugin;
}
