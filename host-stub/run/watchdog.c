/* watchdog.c — the thread that reports a module call running too long and ends the host past
 * the hard limit; see watchdog.h. */
#include "run/watchdog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "output/diag.h"
#include "run/host.h"

struct host_watchdog {
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t changed; /* the watchdog stops */
    uint64_t warn_ns, limit_ns;
    /* Under lock: */
    bool stopping;
    bool in_call;
    bool warned;      /* this call was reported */
    uint64_t started; /* uv_hrtime() at watchdog_enter */
    /* Borrowed from the loop thread for the call: it keeps them alive until watchdog_leave,
     * which takes the lock, so the watchdog only reads them while they are valid. */
    const char *module, *call, *topic, *source;
};

static void describe(const host_watchdog *w, char *out, size_t size)
{
    snprintf(out, size, "module %s: %s%s%s%s%s", w->module ? w->module : "?", w->call,
             w->topic ? " of " : "", w->topic ? w->topic : "", w->source ? " from " : "",
             w->source ? w->source : "");
}

/* It looks every `period`: watchdog_enter and watchdog_leave take an uncontended lock and wake
 * no one, so a call costs the loop thread next to nothing. */
static void watch(void *arg)
{
    host_watchdog *w = arg;
    uint64_t period = w->warn_ns / 4;
    period = period < 10000000 ? 10000000 : period > 250000000 ? 250000000 : period;
    uv_mutex_lock(&w->lock);
    while (!w->stopping) {
        uv_cond_timedwait(&w->changed, &w->lock, period);
        if (w->stopping || !w->in_call)
            continue;
        uint64_t elapsed = uv_hrtime() - w->started;
        if (elapsed < w->warn_ns || (w->warned && elapsed < w->limit_ns))
            continue;
        char what[800];
        describe(w, what, sizeof what);
        if (elapsed >= w->limit_ns) {
            host_diag("fatal: %s: still running after %llu ms; ending the host so that it is "
                      "restarted (nothing acknowledged is lost)",
                      what, (unsigned long long)(elapsed / 1000000));
            _exit(HOST_EXIT_WATCHDOG);
        }
        host_diag("warning: %s: running for %llu ms", what,
                  (unsigned long long)(elapsed / 1000000));
        w->warned = true;
    }
    uv_mutex_unlock(&w->lock);
}

int watchdog_start(uint64_t warn_ms, uint64_t limit_ms, host_watchdog **out)
{
    *out = NULL;
    host_watchdog *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->warn_ns = warn_ms * 1000000;
    w->limit_ns = limit_ms * 1000000;
    int rc = uv_mutex_init(&w->lock);
    if (rc < 0) {
        free(w);
        return rc;
    }
    if ((rc = uv_cond_init(&w->changed)) < 0) {
        uv_mutex_destroy(&w->lock);
        free(w);
        return rc;
    }
    if ((rc = uv_thread_create(&w->thread, watch, w)) < 0) {
        uv_cond_destroy(&w->changed);
        uv_mutex_destroy(&w->lock);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void watchdog_enter(host_watchdog *w, const char *module, const char *call, const char *topic,
                    const char *source)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    w->in_call = true;
    w->warned = false;
    w->started = uv_hrtime();
    w->module = module;
    w->call = call;
    w->topic = topic;
    w->source = source;
    uv_mutex_unlock(&w->lock);
}

void watchdog_leave(host_watchdog *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    uint64_t elapsed = uv_hrtime() - w->started;
    if (!w->warned && elapsed >= w->warn_ns) {
        char what[800];
        describe(w, what, sizeof what);
        host_diag("warning: %s: took %llu ms", what, (unsigned long long)(elapsed / 1000000));
    }
    w->in_call = false;
    uv_mutex_unlock(&w->lock);
}

void watchdog_stop(host_watchdog *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    w->stopping = true;
    uv_cond_signal(&w->changed);
    uv_mutex_unlock(&w->lock);
    uv_thread_join(&w->thread);
    uv_cond_destroy(&w->changed);
    uv_mutex_destroy(&w->lock);
    free(w);
}
