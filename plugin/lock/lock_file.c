/* lock_file.c — the lock file of one writer per directory; see lock_file.h. */
#include "lock_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

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

int lock_file_take(const char *path, long *holder_pid, lock_file_step *step)
{
    *holder_pid = 0;
    *step = LOCK_FILE_OPEN;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? LOCK_FILE_BUSY : -errno;
        *step = LOCK_FILE_LOCK;
        if (rc == LOCK_FILE_BUSY)
            *holder_pid = read_holder_pid(fd);
        close(fd);
        return rc;
    }
    /* The pid is only a hint for the message of a refused process: not synced. */
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    errno = 0;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        int rc = errno ? -errno : -EIO; /* a short write sets none */
        *step = LOCK_FILE_WRITE_PID;
        close(fd);
        return rc;
    }
    return fd;
}
