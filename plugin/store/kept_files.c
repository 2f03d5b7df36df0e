/* kept_files.c — content-addressed, durable files beside the store (see kept_files.h). */
#include "store/kept_files.h"

#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define TEMP_SUFFIX ".partial"

void kept_sha256_hex(const char *bytes, size_t len, char out[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(bytes, len, digest, &digest_len, EVP_sha256(), NULL) != 1 || digest_len != 32) {
        out[0] = '\0';
        return;
    }
    for (unsigned int i = 0; i < digest_len; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[64] = '\0';
}

/* fsync on a directory, so that the names made or removed in it are durable. */
static int sync_dir(const char *dir, smart_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, SMART_EIO, "store: cannot open %s: %s", dir, strerror(errno));
    int rc = fsync(fd) == 0
                 ? 0
                 : error_set(err, SMART_EIO, "store: cannot sync %s: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int kept_sync(const char *dir, smart_error *err)
{
    return sync_dir(dir, err);
}

int kept_make_dir(const char *dir, smart_error *err)
{
    if (mkdir(dir, 0755) != 0) {
        if (errno == EEXIST)
            return 0;
        return error_set(err, SMART_EIO, "store: cannot create %s: %s", dir, strerror(errno));
    }
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, "%s", slash ? "/" : ".");
    return sync_dir(parent, err);
}

/* A kept file's path; its name is a SHA-256 in hex (a row's value, not trusted to be one). */
static int path_of(char *path, size_t size, const char *dir, const char *name, const char *suffix,
                   smart_error *err)
{
    size_t n = strspn(name, "0123456789abcdef");
    if (n != 64 || name[n] != '\0')
        return error_set(err, SMART_EIO, "store: '%.80s' is not a SHA-256 in hex", name);
    if ((size_t)snprintf(path, size, "%s/%s%s", dir, name, suffix) >= size)
        return error_set(err, SMART_EIO, "store: path too long: %s/%s", dir, name);
    return 0;
}

/* Writes the bytes to `path`, synced. */
static int write_synced(const char *path, const char *bytes, size_t len, smart_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return error_set(err, SMART_EIO, "store: cannot create %s: %s", path, strerror(errno));
    size_t done = 0;
    int rc = 0;
    while (rc == 0 && done < len) {
        ssize_t n = write(fd, bytes + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = error_set(err, SMART_EIO, "store: cannot write %s: %s", path,
                           n < 0 ? strerror(errno) : "no progress");
        else
            done += (size_t)n;
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = error_set(err, SMART_EIO, "store: cannot sync %s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = error_set(err, SMART_EIO, "store: cannot close %s: %s", path, strerror(errno));
    return rc;
}

int kept_put(const char *dir, const char *sha256, const char *bytes, size_t len, bool *renamed,
             smart_error *err)
{
    *renamed = false;
    char path[PATH_MAX], temp[PATH_MAX];
    int rc = path_of(path, sizeof path, dir, sha256, "", err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
        return 0; /* kept already: by an earlier adoption, or another file of the same bytes */
    if ((rc = path_of(temp, sizeof temp, dir, sha256, TEMP_SUFFIX, err)) ||
        (rc = write_synced(temp, bytes, len, err)))
        return rc;
    if (rename(temp, path) != 0) {
        rc = error_set(err, SMART_EIO, "store: cannot rename %s to %s: %s", temp, path,
                       strerror(errno));
        unlink(temp);
        return rc;
    }
    *renamed = true;
    return 0;
}

int kept_check(const char *file, const char *where, const char *sha256, const char *bytes,
               size_t len, smart_error *err)
{
    char got[65];
    kept_sha256_hex(bytes, len, got);
    if (!got[0])
        return error_set(err, SMART_ENOMEM, "cannot hash the kept contract %s", file);
    if (strcmp(got, sha256) != 0)
        return error_set(err, SMART_EIO,
                         "store: the kept copy of contract %s (%s) was altered: its %zu bytes "
                         "hash to %s, not to the sha256 %s adopted; restore it or fix the "
                         "contracts directory",
                         file, where, len, got, sha256);
    return 0;
}

int kept_read(const char *dir, const char *file, const char *sha256, char **bytes, size_t *len,
              smart_error *err)
{
    *bytes = NULL;
    *len = 0;
    char path[PATH_MAX];
    int rc = path_of(path, sizeof path, dir, sha256, "", err);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, SMART_EIO,
                         "store: the kept copy of contract %s (sha256 %s) cannot be read: %s: "
                         "%s; restore it or fix the contracts directory",
                         file, sha256, path, strerror(errno));
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = error_set(err, SMART_EIO, "store: the kept copy of contract %s: %s: not a file", file,
                       path);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
    }
    size_t done = 0;
    while (rc == 0 && done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc =
                error_set(err, SMART_EIO, "store: the kept copy of contract %s: cannot read %s: %s",
                          file, path, strerror(errno));
        else if (n == 0)
            break; /* shorter than it said: the hash below refuses it */
        else
            done += (size_t)n;
    }
    close(fd);
    if (rc == 0)
        rc = kept_check(file, path, sha256, buf, done, err);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[done] = '\0';
    *bytes = buf;
    *len = done;
    return 0;
}

int kept_sweep(const char *dir, const char *const *keep, size_t count, smart_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : error_set(err, SMART_EIO, "store: cannot open %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bool named = false;
        for (size_t i = 0; !named && i < count; i++)
            named = strcmp(keep[i], e->d_name) == 0;
        if (named)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            rc = error_set(err, SMART_EIO, "store: cannot remove %s/%s: %s", dir, e->d_name,
                           strerror(errno));
    }
    closedir(d);
    /* Not synced: a name a power loss brings back is named by no row, and the next sweep
     * removes it. */
    return rc;
}

struct kept_writer {
    uv_thread_t thread;
    char dir[PATH_MAX];
    const char **sha256, **bytes;
    size_t *lens, count;
    bool renamed;
};

static void write_kept(void *arg)
{
    kept_writer *w = arg;
    /* A failure stops it, unreported: kept_put of that file in the adoption meets it again. */
    int rc = kept_make_dir(w->dir, NULL);
    for (size_t i = 0; rc == 0 && i < w->count; i++) {
        bool made = false;
        rc = kept_put(w->dir, w->sha256[i], w->bytes[i], w->lens[i], &made, NULL);
        w->renamed = w->renamed || made;
    }
}

static void free_writer(kept_writer *w)
{
    free(w->sha256);
    free(w->bytes);
    free(w->lens);
    free(w);
}

int kept_writer_start(const char *dir, const char *const *sha256, const char *const *bytes,
                      const size_t *lens, size_t count, kept_writer **out, smart_error *err)
{
    *out = NULL;
    kept_writer *w = calloc(1, sizeof *w);
    size_t n = count ? count : 1;
    if (w) {
        w->sha256 = calloc(n, sizeof *w->sha256);
        w->bytes = calloc(n, sizeof *w->bytes);
        w->lens = calloc(n, sizeof *w->lens);
    }
    if (!w || !w->sha256 || !w->bytes || !w->lens) {
        if (w)
            free_writer(w);
        return error_set(err, SMART_ENOMEM, "out of memory");
    }
    if (snprintf(w->dir, sizeof w->dir, "%s", dir) >= (int)sizeof w->dir) {
        free_writer(w);
        return error_set(err, SMART_EIO, "store: path too long: %s", dir);
    }
    for (size_t i = 0; i < count; i++)
        w->sha256[i] = sha256[i], w->bytes[i] = bytes[i], w->lens[i] = lens[i];
    w->count = count;
    int rc = uv_thread_create(&w->thread, write_kept, w);
    if (rc != 0) {
        free_writer(w);
        return error_set(err, SMART_EIO, "store: cannot start writing the kept files: %s",
                         uv_strerror(rc));
    }
    *out = w;
    return 0;
}

void kept_writer_wait(kept_writer *w, bool *renamed)
{
    *renamed = false;
    if (!w)
        return;
    uv_thread_join(&w->thread);
    *renamed = w->renamed;
    free_writer(w);
}
