/*
 * host_thread.h — a helper thread of the host with its lock, its condition variable and a stop
 * flag: what the output writer and the alerts syncer (and any such thread) would otherwise
 * each set up and tear down by hand, in the same order and with the same cleanup on failure.
 *
 * The thread runs `run(arg)` with every signal blocked (signals are the loop thread's, taken by
 * libuv's watchers). `run` waits on `changed` under `lock` and returns once `stopping` is set.
 *
 * Ownership: the caller owns the host_thread (usually a member of its own struct) and must not
 * move it while the thread runs. Threads: host_thread_start and host_thread_stop are called by
 * the thread that owns it (the loop thread); `stopping` is read and written under `lock`.
 */
#ifndef SMART_HOST_HOST_THREAD_H
#define SMART_HOST_HOST_THREAD_H

#include <stdbool.h>
#include <uv.h>

typedef struct host_thread {
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t changed; /* broadcast by whoever changes what the thread or its users wait for */
    bool stopping;     /* under `lock`: set by host_thread_stop */
    void (*run)(void *arg);
    void *arg;
} host_thread;

/* Initialise the lock and condition and start `run(arg)` on a new thread. Returns 0, or a
 * negative libuv error with nothing left initialised. */
int host_thread_start(host_thread *t, void (*run)(void *arg), void *arg);

/* Set `stopping`, wake the thread, join it, and destroy the lock and condition. */
void host_thread_stop(host_thread *t);

#endif /* SMART_HOST_HOST_THREAD_H */
