/* durable_limit.c — the durable part of a ledger for `ledger ship`; see durable_limit.h. */
#include "fleet/durable_limit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ledger/ledger.h"
#include "ledger/ledger_mark.h"
#include "ledger/station_lock.h"

static int read_at(int fd, char *buf, size_t len, uint64_t at)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(at + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO; /* shorter than fstat said: the file was cut meanwhile */
        done += (size_t)n;
    }
    return 0;
}

/* One past the last newline in the first `size` bytes (0: none), read backwards in blocks: a
 * torn last line is one line, so this reads little. */
static int last_line_end(int fd, uint64_t size, uint64_t *end)
{
    char block[4096];
    uint64_t at = size;
    while (at > 0) {
        size_t n = at < sizeof block ? (size_t)at : sizeof block;
        at -= n;
        int rc = read_at(fd, block, n, at);
        if (rc < 0)
            return rc;
        for (size_t i = n; i > 0; i--)
            if (block[i - 1] == '\n') {
                *end = at + i;
                return 0;
            }
    }
    *end = 0;
    return 0;
}

/* Whether the mark names this file and its range is the intact line of its record (as
 * ledger_open checks it before trusting it); `why` says what does not fit. */
static bool mark_fits(int fd, const struct stat *st, const ledger_mark *m, char *why,
                      size_t why_size)
{
    if (m->dev != (uint64_t)st->st_dev || m->ino != (uint64_t)st->st_ino) {
        snprintf(why, why_size, "it names another file (a ledger replaced or copied)");
        return false;
    }
    uint64_t len = m->end - m->start;
    if (m->end <= m->start || m->end > (uint64_t)st->st_size || len < 76 + 12 ||
        len > 64u * 1024 * 1024) {
        snprintf(why, why_size,
                 "its range [%" PRIu64 ", %" PRIu64 ") is not in the %" PRIu64 "-byte ledger",
                 m->start, m->end, (uint64_t)st->st_size);
        return false;
    }
    uint64_t from = m->start > 0 ? m->start - 1 : 0; /* with the newline before it */
    char *buf = malloc((size_t)(m->end - from));
    if (buf == NULL || read_at(fd, buf, (size_t)(m->end - from), from) < 0) {
        free(buf);
        snprintf(why, why_size, "its record cannot be read");
        return false;
    }
    const char *line = m->start > 0 ? buf + 1 : buf;
    bool ok = (m->start == 0 || buf[0] == '\n') && line[len - 1] == '\n' &&
              memchr(line, '\n', (size_t)len - 1) == NULL;
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "{\"seq\":%" PRIu64 ",", m->seq);
    ok = ok && strncmp(line, prefix, (size_t)plen) == 0 &&
         memcmp(line + len - 67, m->hash, LEDGER_HASH_HEX_LEN) == 0;
    /* The hash is over the line up to the quote closing prev_hash (ledger.h): all but the
     * last 76 bytes, ,"hash":"<64 hex>"} and the newline. */
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    if (ok && (EVP_Digest(line, (size_t)len - 76, d, &dn, EVP_sha256(), NULL) != 1 || dn != 32))
        ok = false;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; ok && i < dn; i++)
        ok = line[len - 67 + 2 * i] == hex[d[i] >> 4] && line[len - 66 + 2 * i] == hex[d[i] & 15];
    free(buf);
    if (!ok)
        snprintf(why, why_size,
                 "the line at [%" PRIu64 ", %" PRIu64 ") is not record seq %" PRIu64
                 " with its hash",
                 m->start, m->end, m->seq);
    return ok;
}

/* The limit a running host's mark gives; `busy` says why the lock was not used. */
static void from_mark(const char *path, int fd, const struct stat *st, const char *busy,
                      fleet_durable *out)
{
    ledger_mark m;
    char why[PATH_MAX + 200] = "";
    if (ledger_mark_read(path, &m, why, sizeof why) == 0 &&
        mark_fits(fd, st, &m, why, sizeof why)) {
        out->kind = FLEET_DURABLE_MARK;
        out->bytes = m.end;
        out->seq = m.seq;
        snprintf(out->why, sizeof out->why,
                 "%s: only through seq %" PRIu64 " (byte %" PRIu64 "), which %s.verified says "
                 "the host last made durable; %" PRIu64 " bytes after it are not shipped now",
                 busy, m.seq, m.end, path, (uint64_t)st->st_size - m.end);
        return;
    }
    out->kind = FLEET_DURABLE_NONE;
    out->bytes = 0;
    snprintf(out->why, sizeof out->why,
             "%s, and its mark %s.verified cannot say what is durable (%s): nothing is shipped "
             "now",
             busy, path, why);
}

int fleet_durable_find(const char *ledger_path, fleet_durable *out, char *msg, size_t msg_size)
{
    memset(out, 0, sizeof *out);
    int fd = open(ledger_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(msg, msg_size, "ledger %s: %s", ledger_path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    char real[PATH_MAX], lock_path[PATH_MAX + 8], what[PATH_MAX + 16];
    char lock_msg[PATH_MAX + 200] = "";
    (void)station_ledger_real_path(ledger_path, real, sizeof real);
    snprintf(lock_path, sizeof lock_path, "%s.lock", real); /* the host's, whatever the name */
    snprintf(what, sizeof what, "ledger %s", ledger_path);
    int lock = station_lock_take(lock_path, what, lock_msg, sizeof lock_msg);
    char busy[PATH_MAX + 300];
    int rc = 0;
    if (lock >= 0) {
        /* No host appends while the lock is held: what the file holds now, synced, is what the
         * next host continues (ledger_open keeps every complete line or refuses to start). */
        int synced = fstat(fd, &st) == 0 && fdatasync(fd) == 0 ? 0 : -errno;
        close(lock);
        if (synced == 0) {
            uint64_t end = 0;
            rc = last_line_end(fd, (uint64_t)st.st_size, &end);
            if (rc < 0) {
                snprintf(msg, msg_size, "ledger %s: %s", ledger_path, strerror(-rc));
            } else {
                out->kind = FLEET_DURABLE_SYNCED;
                out->bytes = end;
                out->size = (uint64_t)st.st_size;
                int n = snprintf(out->why, sizeof out->why,
                                 "no host holds %s: taken, the ledger synced, every complete "
                                 "line is shipped (%" PRIu64 " bytes)",
                                 lock_path, end);
                if (end < (uint64_t)st.st_size && n > 0 && (size_t)n < sizeof out->why)
                    snprintf(out->why + n, sizeof out->why - (size_t)n,
                             "; a last line without its newline (%" PRIu64 " bytes) is not",
                             (uint64_t)st.st_size - end);
            }
            close(fd);
            return rc;
        }
        snprintf(busy, sizeof busy, "the ledger could not be synced (%s)", strerror(-synced));
    } else if (lock == STATION_LOCK_EBUSY) {
        snprintf(busy, sizeof busy, "a host is running (%s)", lock_msg);
    } else {
        snprintf(busy, sizeof busy, "the station's lock could not be taken (%s)", lock_msg);
    }
    out->size = (uint64_t)st.st_size;
    /* The host writes its mark beside the ledger by the name it was given: this one, or the
     * real one. */
    from_mark(ledger_path, fd, &st, busy, out);
    if (out->kind == FLEET_DURABLE_NONE && strcmp(real, ledger_path) != 0)
        from_mark(real, fd, &st, busy, out);
    close(fd);
    return rc;
}
