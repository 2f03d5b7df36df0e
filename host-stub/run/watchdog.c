/* watchdog.c — the thread that reports module code holding the loop thread too long and ends
 * the host past the hard limit or a stop signal's grace; see watchdog.h. */
#include "run/watchdog.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/diag.h"
#include "run/host.h"

struct host_watchdog {
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t changed; /* the watchdog stops */
    uint64_t warn_ns, limit_ns;
    uint64_t stop_limit_ns; /* after a stop signal the host is gone by then, whatever holds it */
    /* Under lock: */
    bool stopping;
    bool in_call;
    bool warned;      /* the current call, or stretch outside any call, was reported */
    uint64_t started; /* uv_hrtime() at watchdog_enter */
    /* Borrowed from the loop thread for the call: it keeps them alive until watchdog_leave,
     * which takes the lock, so the watchdog only reads them while they are valid. */
    const char *module, *call, *topic, *source;
    /* The call on the parse-ahead thread (watchdog_enter_worker), borrowed the same way: */
    bool worker_in_call, worker_warned;
    uint64_t worker_started;
    const char *worker_module, *worker_call, *worker_topic, *worker_source;
    unsigned host_depth;   /* watchdog_host_begin without its end yet */
    uv_loop_t *loop;       /* watched for module callbacks outside any host call, or NULL */
    uint64_t last_beat;    /* uv_hrtime() when the loop last came back to the host */
    uint64_t last_idle;    /* uv_metrics_idle_time() at the last look */
    char suspects[512];    /* watchdog_suspects */
    char last_module[128]; /* the last module called */
    /* The watchdog's thread only: */
    int stop_seen;    /* stop signals it has seen */
    uint64_t stop_at; /* uv_hrtime() when it saw the first */
    /* Written by the signal handler: */
    atomic_int stop_count;
    atomic_int stop_signal;
    /* The loop thread's: */
    bool obeying;
    struct sigaction previous[2]; /* SIGINT's and SIGTERM's handlers before ours */
};

/* The watchdog that takes the stop signals: a signal handler can reach nothing else. Set and
 * cleared on the loop thread. */
static host_watchdog *_Atomic signal_watchdog;

static const int stop_signals[2] = {SIGINT, SIGTERM};

static void describe(const host_watchdog *w, char *out, size_t size)
{
    if (w->in_call) {
        snprintf(out, size, "module %s: %s%s%s%s%s", w->module ? w->module : "?", w->call,
                 w->topic ? " of " : "", w->topic ? w->topic : "", w->source ? " from " : "",
                 w->source ? w->source : "");
    } else if (w->suspects[0] != '\0') {
        snprintf(out, size, "%s: a callback on the host's loop, outside any host call",
                 w->suspects);
    } else if (w->last_module[0] != '\0') {
        snprintf(out, size,
                 "module %s (the last module called): a callback on the host's loop, outside "
                 "any host call",
                 w->last_module);
    } else {
        snprintf(out, size, "a callback on the host's loop, outside any host call");
    }
}

/* The call on the parse-ahead thread, named as the loop thread's calls are. Under lock. */
static void describe_worker(const host_watchdog *w, char *out, size_t size)
{
    snprintf(out, size, "module %s: %s%s%s%s%s (on the parse-ahead thread)",
             w->worker_module ? w->worker_module : "?", w->worker_call,
             w->worker_topic ? " of " : "", w->worker_topic ? w->worker_topic : "",
             w->worker_source ? " from " : "", w->worker_source ? w->worker_source : "");
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a stop signal";
}

/* When the loop thread has been held since, by a module call or outside any host call; 0 when
 * it is not held (in the host's own code, or waiting in its poll). Under lock. */
static uint64_t held_since(host_watchdog *w, uint64_t now)
{
    if (w->in_call)
        return w->started;
    if (w->loop == NULL || w->host_depth > 0)
        return 0;
    /* The loop's idle time grows while it waits in its poll: it has come back since. */
    uint64_t idle = uv_metrics_idle_time(w->loop);
    if (idle != w->last_idle) {
        w->last_idle = idle;
        w->last_beat = now;
        w->warned = false;
    }
    return w->last_beat;
}

/* A stop signal came: a module holding the loop past the grace ends the host; a second signal
 * while it holds the loop ends it at once, by that signal. Under lock. */
static void obey_stop(host_watchdog *w, uint64_t now, uint64_t since)
{
    int count = atomic_load(&w->stop_count);
    if (count == 0)
        return;
    if (w->stop_seen == 0)
        w->stop_at = now;
    bool again = w->stop_seen > 0 && count > w->stop_seen;
    w->stop_seen = count;
    int sig = atomic_load(&w->stop_signal);
    if (now - w->stop_at >= w->stop_limit_ns) {
        /* Whatever holds it where this thread cannot see (a module's decoding ahead on a worker
         * thread that never returns, which the input then waits for): a bound all the same. */
        char held[800] = "";
        if (w->worker_in_call) {
            char what[760];
            describe_worker(w, what, sizeof what);
            snprintf(held, sizeof held, " (%s is running)", what);
        }
        host_diag("fatal: %s received %llu ms ago and the host has not ended within its %llu ms "
                  "(the shutdown's deadline and the graces)%s; ending it now (nothing "
                  "acknowledged is lost)",
                  signal_name(sig), (unsigned long long)((now - w->stop_at) / 1000000),
                  (unsigned long long)(w->stop_limit_ns / 1000000), held);
        _exit(HOST_EXIT_WATCHDOG);
    }
    if (since == 0)
        return;
    uint64_t from = since > w->stop_at ? since : w->stop_at;
    char what[800];
    describe(w, what, sizeof what);
    if (again && now - since >= 50000000) {
        host_diag("fatal: %s received again while %s has run for %llu ms; dying by it",
                  signal_name(sig), what, (unsigned long long)((now - since) / 1000000));
        signal(sig, SIG_DFL);
        raise(sig); /* this thread takes it: the loop thread blocks it */
        _exit(128 + sig);
    }
    if (now - from < (uint64_t)WATCHDOG_STOP_GRACE_MS * 1000000)
        return;
    host_diag("fatal: %s received, and %s has run for %llu ms, still not returned %d ms after it; "
              "ending the host without it (nothing acknowledged is lost)",
              signal_name(sig), what, (unsigned long long)((now - since) / 1000000),
              WATCHDOG_STOP_GRACE_MS);
    _exit(HOST_EXIT_WATCHDOG);
}

/* A call (on the loop thread, or the parse-ahead thread's when `worker`) running since `since`:
 * reported once past warn_ns, the host ended past limit_ns. Under lock. */
static void check(host_watchdog *w, uint64_t now, uint64_t since, bool worker)
{
    bool *warned = worker ? &w->worker_warned : &w->warned;
    uint64_t elapsed = now - since;
    if (elapsed < w->warn_ns || (*warned && elapsed < w->limit_ns))
        return;
    char what[800];
    if (worker)
        describe_worker(w, what, sizeof what);
    else
        describe(w, what, sizeof what);
    if (elapsed >= w->limit_ns) {
        host_diag("fatal: %s: still running after %llu ms; ending the host so that it is "
                  "restarted (nothing acknowledged is lost)",
                  what, (unsigned long long)(elapsed / 1000000));
        _exit(HOST_EXIT_WATCHDOG);
    }
    host_diag("warning: %s: running for %llu ms", what, (unsigned long long)(elapsed / 1000000));
    *warned = true;
}

/* It looks every `period`: the loop thread's marks take an uncontended lock and wake no one, so
 * they cost it next to nothing. */
static void watch(void *arg)
{
    host_watchdog *w = arg;
    uint64_t period = w->warn_ns / 4;
    period = period < 10000000 ? 10000000 : period > 100000000 ? 100000000 : period;
    uv_mutex_lock(&w->lock);
    while (!w->stopping) {
        uv_cond_timedwait(&w->changed, &w->lock, period);
        if (w->stopping)
            break;
        uint64_t now = uv_hrtime();
        uint64_t since = held_since(w, now);
        obey_stop(w, now, since);
        if (since != 0)
            check(w, now, since, false);
        if (w->worker_in_call)
            check(w, now, w->worker_started, true);
    }
    uv_mutex_unlock(&w->lock);
}

int watchdog_start(uint64_t warn_ms, uint64_t limit_ms, uint64_t stop_limit_ms, host_watchdog **out)
{
    *out = NULL;
    host_watchdog *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->warn_ns = warn_ms * 1000000;
    w->limit_ns = limit_ms * 1000000;
    w->stop_limit_ns = stop_limit_ms * 1000000;
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
    uint64_t now = uv_hrtime();
    uint64_t elapsed = now - w->started;
    if (!w->warned && elapsed >= w->warn_ns) {
        char what[800];
        describe(w, what, sizeof what);
        host_diag("warning: %s: took %llu ms", what, (unsigned long long)(elapsed / 1000000));
    }
    /* Copied as snprintf("%s") would, without its cost on every call. */
    const char *module = w->module ? w->module : "";
    size_t n = strnlen(module, sizeof w->last_module - 1);
    memcpy(w->last_module, module, n);
    w->last_module[n] = '\0';
    w->in_call = false;
    w->warned = false;
    w->last_beat = now; /* back in the host */
    uv_mutex_unlock(&w->lock);
}

void watchdog_enter_worker(host_watchdog *w, const char *module, const char *call,
                           const char *topic, const char *source)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    w->worker_in_call = true;
    w->worker_warned = false;
    w->worker_started = uv_hrtime();
    w->worker_module = module;
    w->worker_call = call;
    w->worker_topic = topic;
    w->worker_source = source;
    uv_mutex_unlock(&w->lock);
}

void watchdog_leave_worker(host_watchdog *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    uint64_t elapsed = uv_hrtime() - w->worker_started;
    if (!w->worker_warned && elapsed >= w->warn_ns) {
        char what[800];
        describe_worker(w, what, sizeof what);
        host_diag("warning: %s: took %llu ms", what, (unsigned long long)(elapsed / 1000000));
    }
    w->worker_in_call = false;
    w->worker_warned = false;
    uv_mutex_unlock(&w->lock);
}

void watchdog_host_begin(host_watchdog *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    w->host_depth++;
    uv_mutex_unlock(&w->lock);
}

void watchdog_host_end(host_watchdog *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    if (w->host_depth > 0 && --w->host_depth == 0) {
        w->last_beat = uv_hrtime();
        w->warned = false;
    }
    uv_mutex_unlock(&w->lock);
}

int watchdog_watch_loop(host_watchdog *w, uv_loop_t *loop)
{
    if (w == NULL)
        return 0;
    uv_mutex_lock(&w->lock);
    w->loop = loop;
    w->last_idle = uv_metrics_idle_time(loop);
    w->last_beat = uv_hrtime();
    w->warned = false;
    uv_mutex_unlock(&w->lock);
    return 0;
}

void watchdog_unwatch_loop(host_watchdog *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    w->loop = NULL;
    uv_mutex_unlock(&w->lock);
}

void watchdog_beat(host_watchdog *w)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    w->last_beat = uv_hrtime();
    w->warned = false;
    uv_mutex_unlock(&w->lock);
}

void watchdog_suspects(host_watchdog *w, const char *text)
{
    if (w == NULL)
        return;
    uv_mutex_lock(&w->lock);
    snprintf(w->suspects, sizeof w->suspects, "%s", text ? text : "");
    uv_mutex_unlock(&w->lock);
}

/* Async-signal-safe: atomics, then the handler there before (libuv's writes to its pipe, the
 * output writer's sets a flag). */
static void on_stop_signal(int sig, siginfo_t *info, void *context)
{
    host_watchdog *w = atomic_load(&signal_watchdog);
    if (w == NULL)
        return;
    atomic_store(&w->stop_signal, sig);
    atomic_fetch_add(&w->stop_count, 1);
    const struct sigaction *before = &w->previous[sig == SIGINT ? 0 : 1];
    if (before->sa_flags & SA_SIGINFO) {
        if (before->sa_sigaction != NULL)
            before->sa_sigaction(sig, info, context);
    } else if (before->sa_handler == SIG_DFL) {
        signal(sig, SIG_DFL);
        raise(sig);
    } else if (before->sa_handler != SIG_IGN) {
        before->sa_handler(sig);
    }
}

void watchdog_obey_signals(host_watchdog *w)
{
    if (w == NULL || atomic_load(&signal_watchdog) != NULL)
        return;
    atomic_store(&signal_watchdog, w);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_stop_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&action.sa_mask);
    for (int i = 0; i < 2; i++)
        sigaction(stop_signals[i], &action, &w->previous[i]);
    w->obeying = true;
}

void watchdog_release_signals(host_watchdog *w)
{
    if (w == NULL || !w->obeying)
        return;
    for (int i = 0; i < 2; i++)
        sigaction(stop_signals[i], &w->previous[i], NULL);
    atomic_store(&signal_watchdog, NULL);
    w->obeying = false;
}

void watchdog_stop(host_watchdog *w)
{
    if (w == NULL)
        return;
    watchdog_release_signals(w);
    uv_mutex_lock(&w->lock);
    w->stopping = true;
    w->loop = NULL;
    uv_cond_signal(&w->changed);
    uv_mutex_unlock(&w->lock);
    uv_thread_join(&w->thread);
    uv_cond_destroy(&w->changed);
    uv_mutex_destroy(&w->lock);
    free(w);
}
