/*
 * threads_module.c — a module that calls the host from a thread of its own (issue 11, defect 2);
 * written only against plugin-api/smart_plugin.h.
 *
 * "thread.go" starts a pthread that calls every smart_host function, and waits for it in
 * on_event (so the test is deterministic: the loop thread is parked in pthread_join, and a host
 * that let the calls through would still be caught by what they leave behind). Then, on the loop
 * thread, it emits "thread.result" with what each call returned.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "smart_plugin.h"

typedef struct results {
    const smart_host *host;
    int append, alert, emit, post, hash_at;
    long long now;
    int seq_max, head_max; /* 1 when ledger_seq / ledger_head returned UINT64_MAX */
} results;

static const smart_host *the_host;

static void *from_thread(void *arg)
{
    results *r = arg;
    const smart_host *h = r->host;
    smart_ledger_entry entry = {
        .struct_size = sizeof entry,
        .action = "thread.record",
        .target = "thread",
        .details = "appended from another thread",
        .user_id = "system",
        .metadata_json = "{}",
    };
    smart_error err;
    r->append = h->ledger_append(h, &entry, &err);
    r->alert = h->emit_alert(h, "{\"alert_type\":\"thread\"}", 23, &err);
    r->emit = h->emit_event(h, "thread.output", "{}", 2, &err);
    r->post = h->post_event(h, "thread.posted", "{}", 2, &err);
    r->now = (long long)h->now_ms(h);
    r->seq_max = h->ledger_seq(h) == UINT64_MAX;
    char hash[SMART_LEDGER_HASH_LEN + 1];
    r->head_max = h->ledger_head(h, hash) == UINT64_MAX;
    uint64_t last;
    r->hash_at = h->ledger_hash_at(h, 1, hash, &last, &err);
    h->log(h, SMART_LOG_ERROR, "thread.log: this line must not appear");
    return NULL;
}

static int t_init(const smart_host *host, const char *config_json, size_t config_len, void **self,
                  smart_error *err)
{
    (void)config_json;
    (void)config_len;
    (void)err;
    the_host = host;
    *self = &the_host;
    return 0;
}

static int t_on_event(void *self, const smart_event *event, smart_error *err)
{
    (void)self;
    if (strcmp(event->topic, "thread.posted") == 0)
        return the_host->emit_event(the_host, "thread.posted_delivered", "{}", 2, err);
    if (strcmp(event->topic, "thread.go") != 0)
        return SMART_ENOTSUP;
    results r = {.host = the_host};
    pthread_t thread;
    if (pthread_create(&thread, NULL, from_thread, &r) != 0)
        return SMART_ENOMEM;
    pthread_join(thread, NULL);
    char text[256];
    int len = snprintf(text, sizeof text,
                       "{\"append\":%d,\"alert\":%d,\"emit\":%d,\"post\":%d,\"hash_at\":%d,"
                       "\"now\":%lld,\"seq_max\":%d,\"head_max\":%d}",
                       r.append, r.alert, r.emit, r.post, r.hash_at, r.now, r.seq_max, r.head_max);
    return the_host->emit_event(the_host, "thread.result", text, (size_t)len, err);
}

static int t_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void t_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    (void)self;
    done(arg);
}

static const smart_plugin threads_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-threads",
    .version = "1.0.0",
    .init = t_init,
    .on_event = t_on_event,
    .commit = t_commit,
    .shutdown = t_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &threads_plugin;
}
