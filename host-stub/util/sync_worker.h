/*
 * sync_worker.h — a write and fdatasync done on a thread of its own, so that two files' syncs
 * (the alerts file's and the ledger's, at the end of a batch) wait on the disk together instead
 * of one after the other.
 *
 * One job at a time: sync_worker_begin hands it over, sync_worker_wait waits for it and returns
 * its result. Nothing is retried (after a failed sync the page cache may have dropped the data;
 * the caller fail-stops).
 *
 * Ownership: the caller owns the worker (sync_worker_stop frees it). The bytes of a job are
 * borrowed until sync_worker_wait returns; the fd stays the caller's. Threads: begin, wait and
 * stop are called by one thread (the loop thread); the write runs on the worker's thread.
 */
#ifndef SMART_HOST_SYNC_WORKER_H
#define SMART_HOST_SYNC_WORKER_H

#include <stddef.h>

typedef struct sync_worker sync_worker;

/* Start a worker. Returns 0 and the worker in *out, or a negative errno / libuv error. */
int sync_worker_start(sync_worker **out);

/* Write `len` bytes of `data` to `fd` in full and fdatasync it, on the worker's thread. The
 * previous job must have been waited for. */
void sync_worker_begin(sync_worker *w, int fd, const char *data, size_t len);

/* Wait for the job begun last: 0 once its bytes are written and synced, or the negative errno
 * of the write or the fdatasync that failed (`*failed_call` then names it, "write" or
 * "fdatasync"). 0 at once when no job is outstanding. */
int sync_worker_wait(sync_worker *w, const char **failed_call);

/* Stop the thread and free the worker (NULL: nothing). No job may be outstanding. */
void sync_worker_stop(sync_worker *w);

#endif /* SMART_HOST_SYNC_WORKER_H */
