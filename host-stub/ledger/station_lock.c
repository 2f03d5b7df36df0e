/* station_lock.c — the ledger's lock file (plugin/lock/lock_file.c, which the module's store
 * takes too), with the host's messages; see station_lock.h. */
#include "ledger/station_lock.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ledger/durable_file.h"
#include "lock_file.h"

int station_lock_take(const char *path, const char *what, char *msg, size_t msg_size)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    int rc = durable_mkdirs(dirname(dir), msg, msg_size);
    if (rc < 0)
        return rc;
    long pid;
    lock_file_step step;
    int fd = lock_file_take(path, &pid, &step);
    if (fd >= 0)
        return fd;
    if (fd == LOCK_FILE_BUSY && pid > 0)
        snprintf(msg, msg_size, "%s is in use: lock %s is held by process %ld", what, path, pid);
    else if (fd == LOCK_FILE_BUSY)
        snprintf(msg, msg_size, "%s is in use: lock %s is held by another process", what, path);
    else
        snprintf(msg, msg_size, "lock %s: cannot %s: %s", path,
                 step == LOCK_FILE_OPEN   ? "open"
                 : step == LOCK_FILE_LOCK ? "lock"
                                          : "write the pid",
                 strerror(-fd));
    return fd == LOCK_FILE_BUSY ? STATION_LOCK_EBUSY : fd;
}
