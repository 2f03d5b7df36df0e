/* output_writer.c — output lines written on their own thread; see output_writer.h. */
#include "output/output_writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <uv.h>

#include "ledger/durable_file.h"

struct output_writer {
    int fd;
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t changed; /* signalled when `busy`, `stopping` or `error` change */
    /* Under `lock`: */
    strbuf writing; /* the bytes handed over; only the thread touches them while busy */
    bool busy;      /* `writing` holds bytes not yet written */
    bool stopping;
    int error; /* the first failed write's negative errno; sticky */
};

static void run(void *arg)
{
    output_writer *w = arg;
    /* Signals are the loop thread's to take (libuv's signal watchers). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uv_mutex_lock(&w->lock);
    for (;;) {
        while (!w->busy && !w->stopping)
            uv_cond_wait(&w->changed, &w->lock);
        if (!w->busy)
            break;
        uv_mutex_unlock(&w->lock);
        int rc = durable_write_all(w->fd, w->writing.data, w->writing.len);
        uv_mutex_lock(&w->lock);
        strbuf_truncate(&w->writing, 0);
        if (rc < 0 && w->error == 0)
            w->error = rc;
        w->busy = false;
        uv_cond_broadcast(&w->changed);
    }
    uv_mutex_unlock(&w->lock);
}

int output_writer_start(int fd, output_writer **out)
{
    *out = NULL;
    output_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->fd = fd;
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
    if ((rc = uv_thread_create(&w->thread, run, w)) < 0) {
        uv_cond_destroy(&w->changed);
        uv_mutex_destroy(&w->lock);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* Waits, holding the lock, until the thread is idle; returns the sticky error. */
static int wait_idle(output_writer *w)
{
    while (w->busy)
        uv_cond_wait(&w->changed, &w->lock);
    return w->error;
}

int output_writer_hand_over(output_writer *w, strbuf *b)
{
    uv_mutex_lock(&w->lock);
    int rc = wait_idle(w);
    if (rc == 0 && b->len > 0) {
        strbuf emptied = w->writing; /* written: its storage goes back to the caller */
        w->writing = *b;
        *b = emptied;
        w->busy = true;
        uv_cond_broadcast(&w->changed);
    }
    uv_mutex_unlock(&w->lock);
    return rc;
}

int output_writer_drain(output_writer *w)
{
    uv_mutex_lock(&w->lock);
    int rc = wait_idle(w);
    uv_mutex_unlock(&w->lock);
    return rc;
}

int output_writer_stop(output_writer *w)
{
    if (w == NULL)
        return 0;
    uv_mutex_lock(&w->lock);
    int rc = wait_idle(w);
    w->stopping = true;
    uv_cond_broadcast(&w->changed);
    uv_mutex_unlock(&w->lock);
    uv_thread_join(&w->thread);
    uv_cond_destroy(&w->changed);
    uv_mutex_destroy(&w->lock);
    strbuf_free(&w->writing);
    free(w);
    return rc;
}
