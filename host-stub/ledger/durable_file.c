/* durable_file.c — crash-safe append-only files; see durable_file.h. */
#include "ledger/durable_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int durable_sync_parent_dir(const char *path)
{
    char copy[PATH_MAX];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return -ENAMETOOLONG;
    return sync_dir(dirname(copy));
}

int durable_mkdirs(const char *dir, char *msg, size_t msg_size)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        snprintf(msg, msg_size, "%s: not a directory", dir);
        return -ENOTDIR;
    }
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof parent, "%s", dir) >= (int)sizeof parent) {
        snprintf(msg, msg_size, "%s: path too long", dir);
        return -ENAMETOOLONG;
    }
    char *up = dirname(parent);
    if (strcmp(up, dir) != 0) {
        int rc = durable_mkdirs(up, msg, msg_size);
        if (rc < 0)
            return rc;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot create directory: %s", dir, strerror(errno));
        return rc;
    }
    int rc = durable_sync_parent_dir(dir);
    if (rc < 0)
        snprintf(msg, msg_size, "%s: cannot sync parent directory: %s", dir, strerror(-rc));
    return rc;
}

int durable_open_append(const char *path, int flags, bool *created, char *msg, size_t msg_size)
{
    if (created != NULL)
        *created = false;
    int fd = open(path, flags | O_APPEND | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        snprintf(msg, msg_size, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    int rc = durable_mkdirs(dirname(dir), msg, msg_size);
    if (rc < 0)
        return rc;
    fd = open(path, flags | O_APPEND | O_CLOEXEC | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(msg, msg_size, "%s: cannot create: %s", path, strerror(errno));
        return rc;
    }
    rc = durable_sync_parent_dir(path);
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: cannot sync its directory: %s", path, strerror(-rc));
        close(fd);
        return rc;
    }
    if (created != NULL)
        *created = true;
    return fd;
}

int durable_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}
