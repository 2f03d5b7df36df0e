/* station_lock.c — the ledger's lock file (plugin/lock/lock_file.c, which the module's store
 * takes too), with the host's messages; see station_lock.h. */
#include "ledger/station_lock.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/durable_file.h"
#include "lock_file.h"

int station_ledger_real_path(const char *ledger_path, char *out, size_t size)
{
    char path[PATH_MAX], resolved[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", ledger_path) >= (int)sizeof path) {
        snprintf(out, size, "%s", ledger_path);
        return -ENAMETOOLONG;
    }
    /* A dangling link names the file the host will create through it: follow it by hand
     * (a bounded number of times, as the kernel does). */
    for (int hops = 0; hops < 40; hops++) {
        if (realpath(path, resolved) != NULL)
            return snprintf(out, size, "%s", resolved) >= (int)size ? -ENAMETOOLONG : 0;
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
            break; /* not a link: the file does not exist yet */
        target[n] = '\0';
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        if (target[0] != '/' &&
            snprintf(path, sizeof path, "%s/%s", dirname(dir), target) >= (int)sizeof path)
            break;
        if (target[0] == '/')
            snprintf(path, sizeof path, "%s", target);
    }
    /* The file is not there yet: its directory by its real name, when it exists. */
    char dir[PATH_MAX], base[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(base, sizeof base, "%s", path);
    if (realpath(dirname(dir), resolved) != NULL)
        return snprintf(out, size, "%s/%s", strcmp(resolved, "/") ? resolved : "",
                        basename(base)) >= (int)size
                   ? -ENAMETOOLONG
                   : 0;
    return snprintf(out, size, "%s", path) >= (int)size ? -ENAMETOOLONG : 0;
}

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
