/* host_thread.c — a helper thread with its lock, condition and stop flag; see host_thread.h. */
#include "util/host_thread.h"

#include <pthread.h>
#include <signal.h>

static void trampoline(void *arg)
{
    host_thread *t = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    t->run(t->arg);
}

int host_thread_start(host_thread *t, void (*run)(void *arg), void *arg)
{
    t->stopping = false;
    t->run = run;
    t->arg = arg;
    int rc = uv_mutex_init(&t->lock);
    if (rc < 0)
        return rc;
    if ((rc = uv_cond_init(&t->changed)) < 0) {
        uv_mutex_destroy(&t->lock);
        return rc;
    }
    if ((rc = uv_thread_create(&t->thread, trampoline, t)) < 0) {
        uv_cond_destroy(&t->changed);
        uv_mutex_destroy(&t->lock);
        return rc;
    }
    return 0;
}

void host_thread_stop(host_thread *t)
{
    uv_mutex_lock(&t->lock);
    t->stopping = true;
    uv_cond_broadcast(&t->changed);
    uv_mutex_unlock(&t->lock);
    uv_thread_join(&t->thread);
    uv_cond_destroy(&t->changed);
    uv_mutex_destroy(&t->lock);
}
