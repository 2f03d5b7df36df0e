/* checkpoint.c — signing the ledger's head, and checking a signed checkpoint; see
 * checkpoint.h. */
#include "ledger/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/durable_file.h"

struct checkpointer {
    msig_secret_key key;
    char key_id[MSIG_KEY_ID_TEXT_LEN + 1];
    char *node_id;
    char *file_path;
    int fd;
    int64_t interval_ms;
    int64_t last_ms;        /* when the last checkpoint was made (or the checkpointer opened) */
    uint64_t records_after; /* the ledger's record count just after the last checkpoint's record */
    bool requested;
    char *entry; /* the prepared checkpoint, until committed */
    size_t entry_len;
    bool pending;
};

/* A checkpoint line cut short by a crash (no newline: the host died writing it) is cut off, so
 * the next one starts on a line of its own; its ledger record, written before it, still holds
 * the checkpoint. Reads back from the end only, a block at a time. Returns 0 or -errno. */
static int cut_torn_line(int fd, const char *path, char *msg, size_t msg_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(msg, msg_size, "checkpoints %s: %s", path, strerror(errno));
        return -errno;
    }
    off_t end = st.st_size, keep = 0;
    char block[4096];
    for (off_t pos = end; pos > 0;) {
        size_t n = pos >= (off_t)sizeof block ? sizeof block : (size_t)pos;
        pos -= (off_t)n;
        if (pread(fd, block, n, pos) != (ssize_t)n) {
            snprintf(msg, msg_size, "checkpoints %s: read failed", path);
            return -EIO;
        }
        if (pos + (off_t)n == end && block[n - 1] == '\n')
            return 0; /* the usual case: the last line is whole */
        const char *nl = memrchr(block, '\n', n);
        if (nl != NULL) {
            keep = pos + (nl - block) + 1;
            break;
        }
    }
    if (end == 0)
        return 0;
    if (ftruncate(fd, keep) != 0 || fsync(fd) != 0) {
        int rc = -errno;
        snprintf(msg, msg_size, "checkpoints %s: cannot cut its torn last line: %s", path,
                 strerror(errno));
        return rc;
    }
    return 0;
}

int checkpointer_open(const char *key_path, const char *node_id, const char *ledger_path,
                      int64_t interval_ms, int64_t now_ms, const ledger *l, checkpointer **out,
                      char *msg, size_t msg_size)
{
    *out = NULL;
    smart_error err = {0, ""};
    if (msig_init(&err) < 0) {
        snprintf(msg, msg_size, "%s", err.text);
        return -EIO;
    }
    checkpointer *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
    }
    c->fd = -1;
    int rc = msig_secret_key_load(key_path, &c->key, &err);
    if (rc < 0) {
        snprintf(msg, msg_size, "signing_key: %s", err.text);
        checkpointer_close(c);
        return rc == SMART_EIO ? -EIO : -EINVAL;
    }
    msig_key_id_text(c->key.key_id, c->key_id);
    c->node_id = strdup(node_id);
    size_t plen = strlen(ledger_path) + sizeof ".checkpoints";
    c->file_path = malloc(plen);
    if (c->node_id == NULL || c->file_path == NULL) {
        snprintf(msg, msg_size, "out of memory");
        checkpointer_close(c);
        return -ENOMEM;
    }
    snprintf(c->file_path, plen, "%s.checkpoints", ledger_path);
    c->fd = durable_open_append(c->file_path, O_RDWR, NULL, msg, msg_size);
    if (c->fd < 0) {
        rc = c->fd;
        c->fd = -1;
        checkpointer_close(c);
        return rc;
    }
    if ((rc = cut_torn_line(c->fd, c->file_path, msg, msg_size)) < 0) {
        checkpointer_close(c);
        return rc;
    }
    c->interval_ms = interval_ms;
    c->last_ms = now_ms;
    c->records_after = ledger_record_count(l);
    *out = c;
    return 0;
}

void checkpointer_request(checkpointer *c)
{
    c->requested = true;
}

static void format_time(int64_t ms, char out[40])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.24s.%03dZ", date, (int)(ms % 1000));
}

/* The statement's exact text: compact, keys in this order, non-ASCII and control characters
 * escaped, so it is one line fit to be a trusted comment. */
static char *statement_text(const char *node_id, uint64_t seq, const char *head, const char *time)
{
    json_t *s = json_pack("{s:s, s:s, s:I, s:s, s:s}", "type", CHECKPOINT_TYPE, "node_id", node_id,
                          "seq", (json_int_t)seq, "head_hash", head, "time", time);
    char *text = s ? json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(s);
    return text;
}

int checkpointer_prepare(checkpointer *c, ledger *l, int64_t now_ms, const char **entry,
                         size_t *len, char *msg, size_t msg_size)
{
    uint64_t count = ledger_record_count(l);
    bool due = c->requested || (count > c->records_after && now_ms - c->last_ms >= c->interval_ms);
    if (!due)
        return 0;
    char time[40];
    format_time(now_ms, time);
    const char *head = ledger_head_hash(l);
    char *statement = statement_text(c->node_id, count, head, time);
    if (statement == NULL) {
        snprintf(msg, msg_size, "checkpoint: out of memory");
        return -ENOMEM;
    }
    size_t slen = strlen(statement);
    char *message = malloc(slen + 2);
    size_t sig_size = slen + 512;
    char *sig = malloc(sig_size);
    int rc = -ENOMEM;
    if (message != NULL && sig != NULL) {
        memcpy(message, statement, slen);
        memcpy(message + slen, "\n", 2);
        smart_error err = {0, ""};
        rc = msig_sign(&c->key, message, slen + 1, statement, sig, sig_size, &err);
        if (rc < 0)
            snprintf(msg, msg_size, "checkpoint: %s", err.text);
    } else {
        snprintf(msg, msg_size, "checkpoint: out of memory");
    }
    json_t *e = NULL;
    if (rc >= 0) {
        e = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "node_id", c->node_id, "seq",
                      (json_int_t)count, "head_hash", head, "time", time, "key_id", c->key_id,
                      "statement", statement, "minisig", sig);
        free(c->entry);
        c->entry = e ? json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(e);
        rc = c->entry ? 0 : -ENOMEM;
        if (rc < 0)
            snprintf(msg, msg_size, "checkpoint: out of memory");
    }
    free(statement);
    free(message);
    free(sig);
    if (rc < 0)
        return rc;
    c->entry_len = strlen(c->entry);
    c->pending = true;
    c->requested = false;
    c->last_ms = now_ms;
    c->records_after = count + 1; /* the checkpoint's own record, which the caller appends */
    *entry = c->entry;
    *len = c->entry_len;
    return 1;
}

int checkpointer_commit(checkpointer *c, char *msg, size_t msg_size)
{
    if (!c->pending)
        return 0;
    c->pending = false;
    c->entry[c->entry_len] = '\n'; /* json_dumps left room: its NUL becomes the newline */
    int rc = durable_write_all(c->fd, c->entry, c->entry_len + 1);
    c->entry[c->entry_len] = '\0';
    if (rc == 0 && fdatasync(c->fd) != 0)
        rc = -errno;
    if (rc < 0)
        snprintf(msg, msg_size, "checkpoints %s: write or fdatasync failed: %s", c->file_path,
                 strerror(-rc));
    return rc;
}

const char *checkpointer_file(const checkpointer *c)
{
    return c->file_path;
}

void checkpointer_close(checkpointer *c)
{
    if (c == NULL)
        return;
    msig_secret_key_wipe(&c->key);
    if (c->fd >= 0)
        close(c->fd);
    free(c->node_id);
    free(c->file_path);
    free(c->entry);
    free(c);
}

/* Write `text` to a new file `path` with `mode`; never over an existing one. */
static int write_new(const char *path, const char *text, size_t len, mode_t mode, char *msg,
                     size_t msg_size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot create: %s", path, strerror(errno));
        return rc;
    }
    int rc = durable_write_all(fd, text, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: write failed: %s", path, strerror(-rc));
        unlink(path);
    }
    return rc;
}

int checkpoint_keygen(const char *dir, char key_id[MSIG_KEY_ID_TEXT_LEN + 1], char *msg,
                      size_t msg_size)
{
    smart_error err = {0, ""};
    if (msig_init(&err) < 0) {
        snprintf(msg, msg_size, "%s", err.text);
        return -EIO;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot create: %s", dir, strerror(errno));
        return rc;
    }
    char sec_path[4096], pub_path[4096];
    snprintf(sec_path, sizeof sec_path, "%s/node.key", dir);
    snprintf(pub_path, sizeof pub_path, "%s/node.pub", dir);
    struct stat st;
    if (stat(pub_path, &st) == 0) {
        snprintf(msg, msg_size, "%s: already exists; keygen never replaces a key", pub_path);
        return -EEXIST;
    }
    msig_public_key pub;
    msig_secret_key sec;
    msig_keypair(&pub, &sec, &err);
    char text[512];
    int n = msig_secret_key_format(&sec, text, sizeof text);
    msig_secret_key_wipe(&sec);
    int rc = n < 0 ? -EINVAL : write_new(sec_path, text, (size_t)n, 0600, msg, msg_size);
    memset(text, 0, sizeof text);
    if (rc < 0)
        return rc;
    n = msig_public_key_format(&pub, text, sizeof text);
    rc = n < 0 ? -EINVAL : write_new(pub_path, text, (size_t)n, 0644, msg, msg_size);
    if (rc < 0) {
        unlink(sec_path);
        return rc;
    }
    durable_sync_parent_dir(sec_path);
    msig_key_id_text(pub.key_id, key_id);
    return 0;
}

/* A required string member, copied into `out`. */
static int get_string(json_t *o, const char *key, char *out, size_t size, const char *where,
                      char *why, size_t why_size)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= size) {
        snprintf(why, why_size, "%s%s: missing, not a string or too long", where, key);
        return -EINVAL;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_seq(json_t *o, const char *where, uint64_t *seq, char *why, size_t why_size)
{
    json_t *v = json_object_get(o, "seq");
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        snprintf(why, why_size, "%sseq: missing or not a positive integer", where);
        return -EINVAL;
    }
    *seq = (uint64_t)json_integer_value(v);
    return 0;
}

int checkpoint_check(const char *entry, size_t len, const msig_public_key *key,
                     checkpoint_claim *claim, char *why, size_t why_size)
{
    json_error_t jerr;
    json_t *e = json_loadb(entry, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *s = NULL;
    int rc = -EINVAL;
    char statement[MSIG_TRUSTED_LINE_MAX], minisig[MSIG_FILE_MAX], text[300];
    checkpoint_claim plain;
    memset(claim, 0, sizeof *claim);
    if (!json_is_object(e)) {
        snprintf(why, why_size, "not a JSON object");
        goto out;
    }
    if (get_string(e, "statement", statement, sizeof statement, "", why, why_size) < 0 ||
        get_string(e, "minisig", minisig, sizeof minisig, "", why, why_size) < 0 ||
        get_string(e, "node_id", plain.node_id, sizeof plain.node_id, "", why, why_size) < 0 ||
        get_string(e, "head_hash", plain.head_hash, sizeof plain.head_hash, "", why, why_size) <
            0 ||
        get_seq(e, "", &plain.seq, why, why_size) < 0)
        goto out;
    msig_signature sig;
    smart_error err = {0, ""};
    if (msig_signature_parse(minisig, strlen(minisig), &sig, &err) < 0) {
        snprintf(why, why_size, "minisig: %s", err.text);
        goto out;
    }
    size_t slen = strlen(statement);
    char *message = malloc(slen + 1);
    if (message == NULL) {
        snprintf(why, why_size, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    memcpy(message, statement, slen);
    message[slen] = '\n';
    int vrc = msig_verify(key, &sig, message, slen + 1, &err);
    free(message);
    if (vrc < 0) {
        snprintf(why, why_size, "%s", err.text);
        goto out;
    }
    if (strcmp(sig.trusted_comment, statement) != 0) {
        snprintf(why, why_size, "the signature's trusted comment is not the statement");
        goto out;
    }
    s = json_loads(statement, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(s) || !json_is_string(json_object_get(s, "type")) ||
        strcmp(json_string_value(json_object_get(s, "type")), CHECKPOINT_TYPE) != 0) {
        snprintf(why, why_size, "statement: not a %s object", CHECKPOINT_TYPE);
        goto out;
    }
    if (get_string(s, "node_id", claim->node_id, sizeof claim->node_id, "statement.", why,
                   why_size) < 0 ||
        get_string(s, "head_hash", claim->head_hash, sizeof claim->head_hash, "statement.", why,
                   why_size) < 0 ||
        get_string(s, "time", claim->time, sizeof claim->time, "statement.", why, why_size) < 0 ||
        get_seq(s, "statement.", &claim->seq, why, why_size) < 0)
        goto out;
    if (claim->seq != plain.seq || strcmp(claim->head_hash, plain.head_hash) != 0 ||
        strcmp(claim->node_id, plain.node_id) != 0) {
        snprintf(text, sizeof text, "the plain fields differ from the signed statement");
        snprintf(why, why_size, "%s", text);
        goto out;
    }
    msig_key_id_text(sig.key_id, claim->key_id);
    memcpy(claim->sig, sig.sig, sizeof claim->sig);
    rc = 0;
out:
    json_decref(s);
    json_decref(e);
    return rc;
}
