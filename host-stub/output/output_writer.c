/* output_writer.c — output lines written on their own thread; see output_writer.h. */
#include "output/output_writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ledger/durable_file.h"
#include "output/diag.h"
#include "util/host_thread.h"

/* How often a wait for the thread looks whether a stop was asked for. */
#define STOP_POLL_NS (50 * 1000 * 1000ULL)

struct output_writer {
    int fd;
    host_thread t; /* its `changed` is broadcast when `busy`, `stopping` or `error` change */
    /* Under t.lock: */
    strbuf writing;            /* the bytes handed over; only the thread touches them while busy */
    bool busy;                 /* `writing` holds bytes not yet written */
    int error;                 /* the first failed write's negative errno; sticky */
    bool abandoned;            /* the stalled write was given up (output_writer_obey_signals) */
    uint64_t stop_deadline_ns; /* when a stop was seen: uv_hrtime() + the grace; 0 before */
    /* Set by the signal handler (output_writer_obey_signals), read by waits. Atomic (lock-free,
     * so async-signal-safe): the handler runs on the watchdog's thread (watchdog.h). */
    atomic_int stop_requested;
    bool obeying;
    int stop_signals[2];
    struct sigaction previous[2]; /* libuv's handlers, called after ours */
};

/* The writer whose waits obey SIGINT/SIGTERM: a signal handler can reach nothing else. Set and
 * cleared on the loop thread. */
static output_writer *volatile obeying_writer;

static void run(void *arg)
{
    output_writer *w = arg;
    /* Signals are blocked (host_thread.h): they are the loop thread's. Cancelled
     * (output_writer_obey_signals) only inside the write: never holding the lock. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    uv_mutex_lock(&w->t.lock);
    for (;;) {
        while (!w->busy && !w->t.stopping)
            uv_cond_wait(&w->t.changed, &w->t.lock);
        if (!w->busy)
            break;
        uv_mutex_unlock(&w->t.lock);
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        int rc = durable_write_all(w->fd, w->writing.data, w->writing.len);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        uv_mutex_lock(&w->t.lock);
        strbuf_truncate(&w->writing, 0);
        if (rc < 0 && w->error == 0)
            w->error = rc;
        w->busy = false;
        uv_cond_broadcast(&w->t.changed);
    }
    uv_mutex_unlock(&w->t.lock);
}

int output_writer_start(int fd, output_writer **out)
{
    *out = NULL;
    output_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->fd = fd;
    int rc = host_thread_start(&w->t, run, w);
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* Waits, holding the lock, until the thread is idle; returns the sticky error. When a stop
 * signal came (output_writer_obey_signals) and the thread has not finished within the grace,
 * the write is given up: the thread is cancelled and -ECANCELED is the error from then on. */
static int wait_idle(output_writer *w)
{
    while (w->busy && !w->abandoned) {
        if (!w->obeying) {
            uv_cond_wait(&w->t.changed, &w->t.lock);
            continue;
        }
        if (w->stop_requested) {
            uint64_t now = uv_hrtime();
            if (w->stop_deadline_ns == 0)
                w->stop_deadline_ns = now + OUTPUT_WRITER_STOP_GRACE_MS * 1000000ULL;
            else if (now >= w->stop_deadline_ns) {
                w->abandoned = true;
                if (w->error == 0)
                    w->error = -ECANCELED;
                pthread_cancel((pthread_t)w->t.thread);
                host_diag("standard output has not been read for %d ms after a stop signal; "
                          "the output not yet written is given up (unacknowledged: send it "
                          "again)",
                          OUTPUT_WRITER_STOP_GRACE_MS);
                break;
            }
        }
        uv_cond_timedwait(&w->t.changed, &w->t.lock, STOP_POLL_NS);
    }
    return w->error;
}

/* Async-signal-safe: sets a flag, then runs the handler that was there before (libuv's, which
 * wakes the loop once it runs again). */
static void on_stop_signal(int sig)
{
    output_writer *w = obeying_writer;
    if (w == NULL)
        return;
    w->stop_requested = 1;
    for (int i = 0; i < 2; i++) {
        if (w->stop_signals[i] != sig)
            continue;
        const struct sigaction *prev = &w->previous[i];
        if ((prev->sa_flags & SA_SIGINFO) == 0 && prev->sa_handler != SIG_DFL &&
            prev->sa_handler != SIG_IGN)
            prev->sa_handler(sig);
    }
}

void output_writer_obey_signals(output_writer *w)
{
    if (w == NULL || obeying_writer != NULL)
        return;
    w->stop_signals[0] = SIGINT;
    w->stop_signals[1] = SIGTERM;
    obeying_writer = w;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    for (int i = 0; i < 2; i++)
        sigaction(w->stop_signals[i], &action, &w->previous[i]);
    uv_mutex_lock(&w->t.lock);
    w->obeying = true;
    uv_mutex_unlock(&w->t.lock);
}

/* Put back what was there before, unless someone (libuv closing its watchers) already did. */
static void stop_obeying(output_writer *w)
{
    if (obeying_writer != w)
        return;
    for (int i = 0; i < 2; i++) {
        struct sigaction now;
        if (sigaction(w->stop_signals[i], NULL, &now) == 0 && now.sa_handler == on_stop_signal)
            sigaction(w->stop_signals[i], &w->previous[i], NULL);
    }
    obeying_writer = NULL;
}

int output_writer_hand_over(output_writer *w, strbuf *b)
{
    uv_mutex_lock(&w->t.lock);
    int rc = wait_idle(w);
    if (rc == 0 && b->len > 0) {
        strbuf emptied = w->writing; /* written: its storage goes back to the caller */
        w->writing = *b;
        *b = emptied;
        w->busy = true;
        uv_cond_broadcast(&w->t.changed);
    }
    uv_mutex_unlock(&w->t.lock);
    return rc;
}

int output_writer_drain(output_writer *w)
{
    uv_mutex_lock(&w->t.lock);
    int rc = wait_idle(w);
    uv_mutex_unlock(&w->t.lock);
    return rc;
}

int output_writer_stop(output_writer *w)
{
    if (w == NULL)
        return 0;
    uv_mutex_lock(&w->t.lock);
    int rc = wait_idle(w);
    stop_obeying(w);
    uv_mutex_unlock(&w->t.lock);
    host_thread_stop(&w->t);
    strbuf_free(&w->writing);
    free(w);
    return rc;
}
