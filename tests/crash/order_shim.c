/*
 * order_shim.c — an LD_PRELOAD library that logs, in the order they happen, the writes and
 * syncs smart-host makes to its ledger and alerts file and the writes it makes to standard
 * output, so that order_test.py can check that no output line is written before what it
 * reports is on disk.
 *
 * With SMART_ORDER_LOG=PATH set, each call is logged as one line of PATH, under one lock (the
 * host writes from several threads: the loop, the alerts syncer, the output writer):
 *   W ledger|alerts BYTES   after a write(2)/writev(2) of BYTES to the file returned
 *   S ledger|alerts         after an fdatasync(2)/fsync(2) of the file returned 0
 *   O BYTES                 before a write(2)/writev(2) of BYTES to standard output
 * A sync logged before an O had returned before that output was issued. The ledger is a file
 * whose name ends in "/ledger.jsonl", the alerts file one ending in "/alerts.jsonl". Without
 * SMART_ORDER_LOG every call goes straight through. SMART_ORDER_SYNC_DELAY_MS slows the syncs
 * down (see delay_sync).
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Interposed libc functions have no context argument: the lock and the log can only be
 * globals. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

static ssize_t real_write(int fd, const void *buf, size_t count)
{
    return REAL("write", ssize_t(*)(int, const void *, size_t))(fd, buf, count);
}

/* "ledger", "alerts", or NULL for any other descriptor. */
static const char *tag_of(int fd)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0)
        return NULL;
    path[n] = '\0';
    static const char *const tags[] = {"ledger", "alerts"};
    for (int i = 0; i < 2; i++) {
        char suffix[32];
        int len = snprintf(suffix, sizeof suffix, "/%s.jsonl", tags[i]);
        if ((size_t)n >= (size_t)len && strcmp(path + n - len, suffix) == 0)
            return tags[i];
    }
    return NULL;
}

/* Appends `text` as one line of the log; the caller holds log_lock. */
static void log_line(const char *text)
{
    if (log_fd < 0) {
        const char *path = getenv("SMART_ORDER_LOG");
        if (path == NULL)
            return;
        FILE *f = fopen(path, "a");
        if (f == NULL)
            return;
        log_fd = dup(fileno(f));
        fclose(f);
    }
    real_write(log_fd, text, strlen(text));
}

static bool logging(void)
{
    return getenv("SMART_ORDER_LOG") != NULL;
}

static void log_output(long long bytes)
{
    char text[64];
    snprintf(text, sizeof text, "O %lld\n", bytes);
    log_line(text);
}

static void after_file_write(int fd, ssize_t n)
{
    if (n <= 0 || fd <= STDERR_FILENO)
        return;
    const char *tag = tag_of(fd);
    char text[64];
    if (tag != NULL && snprintf(text, sizeof text, "W %s %lld\n", tag, (long long)n) > 0)
        log_line(text);
}

ssize_t write(int fd, const void *buf, size_t count)
{
    if (!logging())
        return real_write(fd, buf, count);
    pthread_mutex_lock(&log_lock);
    if (fd == STDOUT_FILENO)
        log_output((long long)count);
    pthread_mutex_unlock(&log_lock);
    ssize_t n = real_write(fd, buf, count);
    pthread_mutex_lock(&log_lock);
    after_file_write(fd, n);
    pthread_mutex_unlock(&log_lock);
    return n;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    ssize_t (*real)(int, const struct iovec *, int) =
        REAL("writev", ssize_t(*)(int, const struct iovec *, int));
    if (!logging())
        return real(fd, iov, iovcnt);
    long long total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += (long long)iov[i].iov_len;
    pthread_mutex_lock(&log_lock);
    if (fd == STDOUT_FILENO)
        log_output(total);
    pthread_mutex_unlock(&log_lock);
    ssize_t n = real(fd, iov, iovcnt);
    pthread_mutex_lock(&log_lock);
    after_file_write(fd, n);
    pthread_mutex_unlock(&log_lock);
    return n;
}

static int after_sync(int fd, int rc)
{
    if (rc == 0 && logging()) {
        pthread_mutex_lock(&log_lock);
        const char *tag = tag_of(fd);
        char text[64];
        if (tag != NULL && snprintf(text, sizeof text, "S %s\n", tag) > 0)
            log_line(text);
        pthread_mutex_unlock(&log_lock);
    }
    return rc;
}

/* With SMART_ORDER_SYNC_DELAY_MS=N a sync of the ledger or the alerts file takes N ms more, as
 * on a slow disk: a thread that did not wait for it is then caught writing its output first. */
static void delay_sync(int fd)
{
    const char *ms = getenv("SMART_ORDER_SYNC_DELAY_MS");
    if (ms == NULL || !logging() || tag_of(fd) == NULL)
        return;
    long n = atol(ms);
    struct timespec ts = {.tv_sec = n / 1000, .tv_nsec = (n % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int fdatasync(int fd)
{
    delay_sync(fd);
    return after_sync(fd, REAL("fdatasync", int (*)(int))(fd));
}

int fsync(int fd)
{
    delay_sync(fd);
    return after_sync(fd, REAL("fsync", int (*)(int))(fd));
}
