/* sync_worker.c — a write and fdatasync on a thread of its own; see sync_worker.h. */
#include "util/sync_worker.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "ledger/durable_file.h"
#include "util/host_thread.h"

struct sync_worker {
    host_thread t; /* `changed` is broadcast when `pending` or `done` change */
    /* Under t.lock: */
    bool pending; /* a job is handed over and not yet taken by the thread */
    bool done;    /* the job begun last is finished (true when none is outstanding) */
    int fd;
    const char *data;
    size_t len;
    int result;
    const char *failed_call;
};

static void run(void *arg)
{
    sync_worker *w = arg;
    uv_mutex_lock(&w->t.lock);
    for (;;) {
        while (!w->pending && !w->t.stopping)
            uv_cond_wait(&w->t.changed, &w->t.lock);
        if (!w->pending)
            break;
        w->pending = false;
        int fd = w->fd;
        const char *data = w->data;
        size_t len = w->len;
        uv_mutex_unlock(&w->t.lock);
        const char *failed = "write";
        int rc = durable_write_all(fd, data, len);
        if (rc == 0 && fdatasync(fd) != 0) {
            rc = -errno;
            failed = "fdatasync";
        }
        uv_mutex_lock(&w->t.lock);
        w->result = rc;
        w->failed_call = rc < 0 ? failed : NULL;
        w->done = true;
        uv_cond_broadcast(&w->t.changed);
    }
    uv_mutex_unlock(&w->t.lock);
}

int sync_worker_start(sync_worker **out)
{
    *out = NULL;
    sync_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->done = true;
    int rc = host_thread_start(&w->t, run, w);
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void sync_worker_begin(sync_worker *w, int fd, const char *data, size_t len)
{
    uv_mutex_lock(&w->t.lock);
    w->fd = fd;
    w->data = data;
    w->len = len;
    w->result = 0;
    w->failed_call = NULL;
    w->done = false;
    w->pending = true;
    uv_cond_broadcast(&w->t.changed);
    uv_mutex_unlock(&w->t.lock);
}

int sync_worker_wait(sync_worker *w, const char **failed_call)
{
    uv_mutex_lock(&w->t.lock);
    while (!w->done)
        uv_cond_wait(&w->t.changed, &w->t.lock);
    int rc = w->result;
    if (failed_call != NULL)
        *failed_call = w->failed_call;
    w->result = 0;
    uv_mutex_unlock(&w->t.lock);
    return rc;
}

void sync_worker_stop(sync_worker *w)
{
    if (w == NULL)
        return;
    host_thread_stop(&w->t);
    free(w);
}
