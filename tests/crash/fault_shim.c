/*
 * fault_shim.c — an LD_PRELOAD library that simulates a full disk for the crash tests.
 *
 * With SMART_FAULT_AFTER=N set, the first N write(2)/pwrite(2)/pwrite64/writev(2) calls on
 * regular files and fsync(2)/fdatasync(2) calls (on files or directories) succeed and every
 * later one fails with ENOSPC, as on a disk that just filled up. With SMART_FAULT_MATCH=TEXT,
 * only files whose path contains TEXT count and fail (e.g. "ledger" or "store.sqlite").
 * Standard output and standard error are never touched: the test reads them. Without
 * SMART_FAULT_AFTER every call goes straight through. With SMART_FAULT_KILL=1 as well, the call
 * that would fail kills the process (SIGKILL) before it is made instead: a crash at exactly
 * that write or sync (kept_test.py).
 */
/* Both pwrite and pwrite64 are defined here; with 64-bit file offsets the headers would rename
 * pwrite to pwrite64 and the two definitions would clash. (On 64-bit Linux off_t is 64 bits
 * either way.) */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Interposed libc functions have no context argument, so the call count can only live in a
 * global. smart-host writes from more than one thread (the alerts file is synced beside the
 * ledger), so the count is taken atomically: each call gets its own number. */
static long calls_done;

static bool should_fail(int fd, bool directories_too)
{
    const char *after = getenv("SMART_FAULT_AFTER");
    if (after == NULL || fd <= STDERR_FILENO)
        return false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || (directories_too && S_ISDIR(st.st_mode))))
        return false;
    const char *match = getenv("SMART_FAULT_MATCH");
    if (match != NULL && match[0] != '\0') {
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n < 0)
            return false;
        path[n] = '\0';
        if (strstr(path, match) == NULL)
            return false;
    }
    if (__atomic_fetch_add(&calls_done, 1, __ATOMIC_SEQ_CST) < atol(after))
        return false;
    const char *crash = getenv("SMART_FAULT_KILL");
    if (crash != NULL && strcmp(crash, "1") == 0)
        kill(getpid(), SIGKILL);
    return true;
}

/* Looks the real function up once per call: the shim is for tests, not for speed. */
#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

ssize_t write(int fd, const void *buf, size_t count)
{
    if (should_fail(fd, false)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("write", ssize_t(*)(int, const void *, size_t))(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (should_fail(fd, false)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("writev", ssize_t(*)(int, const struct iovec *, int))(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    if (should_fail(fd, false)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("pwrite", ssize_t(*)(int, const void *, size_t, off_t))(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
    if (should_fail(fd, false)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("pwrite64", ssize_t(*)(int, const void *, size_t, off_t))(fd, buf, count, offset);
}

int fsync(int fd)
{
    if (should_fail(fd, true)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("fsync", int (*)(int))(fd);
}

int fdatasync(int fd)
{
    if (should_fail(fd, true)) {
        errno = ENOSPC;
        return -1;
    }
    return REAL("fdatasync", int (*)(int))(fd);
}
