/*
 * timer_module.c — a module whose own code misbehaves where the host does not call it (issue
 * 11, defects 5 and 6): in a callback of a timer it starts on the host's loop, and in its init,
 * commit or shutdown. Written only against plugin-api/smart_plugin.h.
 *
 * Config {"mode": M}: "spin" — 20 ms after init its timer spins for ever; "slow" — its timer
 * fires every 20 ms, the first time holding the loop 300 ms; "crash" — 20 ms after init its
 * timer writes through a null pointer; "crash_libc" — the same inside memset, a library it
 * calls; "crash_init", "crash_commit", "crash_shutdown" — the same in that call; anything else
 * (or none) — a timer every 20 ms that does nothing. "timer.ping" answers "timer.pong" with
 * how often the timer ran; "timer.repost" posts itself a "timer.repost", for ever. Its decode_event
 * (run on a worker thread, ahead of the loop) spins for ever on "timer.decode_spin", once it has
 * said so on standard error, and crashes (SIGSEGV) on "timer.decode_crash".
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smart_plugin.h"

typedef struct timer_module {
    const smart_host *host;
    uv_timer_t timer;
    char mode[32];
    unsigned long fired;
    smart_shutdown_done done;
    void *done_arg;
} timer_module;

static timer_module the_module;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A write to an unmapped low address the compiler cannot see coming. */
static void crash(void)
{
    volatile int *volatile nowhere =
        (volatile int *)(uintptr_t)16; /* not NULL: UBSan would stop first */
    *nowhere = 1;
}

static char sink[8192];

static void crash_in_libc(size_t size)
{
    const char *volatile nowhere =
        (const char *)(uintptr_t)16; /* not NULL: UBSan would stop first */
    memcpy(sink, nowhere, size);     /* into memory that outlives it, of a size known only now: a
                                        call into the C library that is not optimised away */
    sink[0]++;                       /* and not a tail call: this frame stays on the stack */
}

static void on_timer(uv_timer_t *timer)
{
    timer_module *t = timer->data;
    t->fired++;
    if (strcmp(t->mode, "spin") == 0) {
        volatile unsigned long n = 0;
        for (;;)
            n++;
    }
    if (strcmp(t->mode, "slow") == 0 && t->fired == 1) {
        long long until = now_ms() + 300;
        while (now_ms() < until)
            ;
    }
    if (strcmp(t->mode, "crash") == 0)
        crash();
    if (strcmp(t->mode, "crash_libc") == 0)
        crash_in_libc(4096 + t->fired);
}

static int timer_init(const smart_host *host, const char *config_json, size_t config_len,
                      void **self, smart_error *err)
{
    (void)config_len;
    (void)err;
    timer_module *t = &the_module;
    memset(t, 0, sizeof *t);
    t->host = host;
    const char *p = config_json != NULL ? strstr(config_json, "\"mode\":\"") : NULL;
    if (p != NULL) {
        p += 8;
        size_t n = strcspn(p, "\"");
        if (n >= sizeof t->mode)
            n = sizeof t->mode - 1;
        memcpy(t->mode, p, n);
    }
    if (strcmp(t->mode, "crash_init") == 0)
        crash();
    uv_timer_init(host->loop, &t->timer);
    t->timer.data = t;
    uv_timer_start(&t->timer, on_timer, 20, 20);
    *self = t;
    return 0;
}

static int timer_on_event(void *self, const smart_event *event, smart_error *err)
{
    timer_module *t = self;
    if (strcmp(event->topic, "timer.repost") == 0) /* posts itself the same again, for ever */
        return t->host->post_event(t->host, "timer.repost", "{}", 2, err);
    if (strcmp(event->topic, "timer.ping") != 0)
        return SMART_ENOTSUP;
    char text[64];
    size_t len = (size_t)snprintf(text, sizeof text, "{\"fired\":%lu}", t->fired);
    return t->host->emit_event(t->host, "timer.pong", text, len, err);
}

static int timer_decode(const smart_event *event, void **decoded, smart_error *err)
{
    (void)err;
    *decoded = NULL;
    if (strcmp(event->topic, "timer.decode_spin") == 0) {
        static const char says[] = "test-timer: decode_event spinning\n";
        if (write(STDERR_FILENO, says, sizeof says - 1) < 0) /* for the test to wait on */
            return SMART_EIO;
        volatile unsigned long n = 0;
        for (;;)
            n++;
    }
    if (strcmp(event->topic, "timer.decode_crash") == 0)
        crash();
    return 0;
}

static void timer_release_decoded(void *decoded)
{
    (void)decoded;
}

static int timer_commit(void *self, smart_error *err)
{
    (void)err;
    timer_module *t = self;
    if (strcmp(t->mode, "crash_commit") == 0)
        crash();
    return 0;
}

static void on_closed(uv_handle_t *handle)
{
    timer_module *t = handle->data;
    t->done(t->done_arg);
}

static void timer_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    timer_module *t = self;
    if (strcmp(t->mode, "crash_shutdown") == 0)
        crash();
    t->done = done;
    t->done_arg = arg;
    uv_close((uv_handle_t *)&t->timer, on_closed);
}

static const smart_plugin timer_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-timer",
    .version = "1.0.0",
    .init = timer_init,
    .on_event = timer_on_event,
    .commit = timer_commit,
    .shutdown = timer_shutdown,
    .decode_event = timer_decode,
    .release_decoded = timer_release_decoded,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &timer_plugin;
}
