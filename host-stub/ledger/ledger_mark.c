/* ledger_mark.c — the "<ledger>.verified" side file; see ledger_mark.h. */
#include "ledger/ledger_mark.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ledger/durable_file.h"

#define MARK_MAX 4096 /* a mark is about 200 bytes; anything longer is not one */

static int mark_path(const char *ledger_path, const char *suffix, char *out, size_t size)
{
    return snprintf(out, size, "%s.verified%s", ledger_path, suffix) >= (int)size ? -ENAMETOOLONG
                                                                                  : 0;
}

static int get_u64(json_t *doc, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EINVAL;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int ledger_mark_read(const char *ledger_path, ledger_mark *mark, char *why, size_t why_size)
{
    memset(mark, 0, sizeof *mark);
    char path[PATH_MAX];
    if (mark_path(ledger_path, "", path, sizeof path) < 0) {
        snprintf(why, why_size, "path too long");
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        return rc;
    }
    char text[MARK_MAX + 1];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof text && (n = read(fd, text + len, sizeof text - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = -errno;
            snprintf(why, why_size, "%s: cannot read: %s", path, strerror(errno));
            close(fd);
            return rc;
        }
        len += (size_t)n;
    }
    close(fd);
    if (len > MARK_MAX) {
        snprintf(why, why_size, "%s: too long to be a mark", path);
        return -EINVAL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *hash = json_string_value(json_object_get(doc, "hash"));
    int rc = doc == NULL || !json_is_object(doc) ? -EINVAL : 0;
    if (rc == 0)
        rc = get_u64(doc, "seq", &mark->seq);
    if (rc == 0)
        rc = get_u64(doc, "start", &mark->start);
    if (rc == 0)
        rc = get_u64(doc, "end", &mark->end);
    if (rc == 0)
        rc = get_u64(doc, "dev", &mark->dev);
    if (rc == 0)
        rc = get_u64(doc, "ino", &mark->ino);
    if (rc == 0 && (hash == NULL || strlen(hash) != LEDGER_HASH_HEX_LEN))
        rc = -EINVAL;
    if (rc == 0)
        memcpy(mark->hash, hash, LEDGER_HASH_HEX_LEN + 1);
    json_decref(doc);
    if (rc < 0)
        snprintf(why, why_size, "%s: not a well-formed mark", path);
    return rc;
}

int ledger_mark_write(const char *ledger_path, const ledger_mark *mark, char *msg, size_t msg_size)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if (mark_path(ledger_path, "", path, sizeof path) < 0 ||
        mark_path(ledger_path, ".tmp", tmp, sizeof tmp) < 0) {
        snprintf(msg, msg_size, "%s: path too long", ledger_path);
        return -ENAMETOOLONG;
    }
    char text[MARK_MAX];
    int len = snprintf(text, sizeof text,
                       "{\"seq\":%" PRIu64 ",\"start\":%" PRIu64 ",\"end\":%" PRIu64
                       ",\"hash\":\"%.64s\",\"dev\":%" PRIu64 ",\"ino\":%" PRIu64 "}\n",
                       mark->seq, mark->start, mark->end, mark->hash, mark->dev, mark->ino);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot create: %s", tmp, strerror(errno));
        return rc;
    }
    int rc = durable_write_all(fd, text, (size_t)len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0)
        rc = durable_sync_parent_dir(path);
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: cannot write: %s", path, strerror(-rc));
        unlink(tmp);
    }
    return rc;
}
