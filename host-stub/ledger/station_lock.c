/* station_lock.c — the ledger's lock file; see station_lock.h. */
#include "ledger/station_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ledger/durable_file.h"

/* The pid the holder wrote, or 0 when there is none yet (it writes it just after locking). */
static long read_holder_pid(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *end;
    long pid = strtol(text, &end, 10);
    return end != text && (*end == '\n' || *end == '\0') && pid > 0 ? pid : 0;
}

int station_lock_take(const char *path, const char *what, char *msg, size_t msg_size)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    int rc = durable_mkdirs(dirname(dir), msg, msg_size);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(msg, msg_size, "lock %s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = -errno;
        if (errno == EWOULDBLOCK) {
            long pid = read_holder_pid(fd);
            if (pid > 0)
                snprintf(msg, msg_size, "%s is in use: lock %s is held by process %ld", what, path,
                         pid);
            else
                snprintf(msg, msg_size, "%s is in use: lock %s is held by another process", what,
                         path);
            rc = STATION_LOCK_EBUSY;
        } else {
            snprintf(msg, msg_size, "lock %s: cannot lock: %s", path, strerror(errno));
        }
        close(fd);
        return rc;
    }
    /* The pid is only a hint for the message of a refused process: not synced. */
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        rc = -errno;
        snprintf(msg, msg_size, "lock %s: cannot write the pid: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    return fd;
}
