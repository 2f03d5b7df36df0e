/* ledger.c — hash-chained ledger: append, flush, verify, torn-tail recovery; see ledger.h. */
#include "ledger/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "ledger/durable_file.h"
#include "run/clock.h"
#include "util/json_text.h"
#include "util/strbuf.h"

static const char GENESIS_HASH[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The bytes that follow the hashed prefix: ,"hash":"<64 hex>"} */
static const char HASH_KEY[] = ",\"hash\":\"";
#define HASH_KEY_LEN    (sizeof HASH_KEY - 1)
#define HASH_SUFFIX_LEN (HASH_KEY_LEN + LEDGER_HASH_HEX_LEN + 2)

static const char *const FIELD_ORDER[] = {"seq",      "time",      "node_id", "module",
                                          "action",   "target",    "details", "user_id",
                                          "metadata", "prev_hash", "hash"};
#define FIELD_COUNT (sizeof FIELD_ORDER / sizeof FIELD_ORDER[0])

/* Records are sealed (prev_hash filled in, hash computed) on a thread of the ledger's own while
 * the loop thread goes on with the batch: hashing every record is on the path of every event.
 * The loop thread writes each line whole, both hashes left as placeholders, into a chunk
 * (chunks never move, so the sealer can work on lines while more are added) and queues it; the
 * sealer seals the queued lines in order, carrying the chain's head; ledger_flush waits for it
 * to catch up before it writes. */
#define CHUNK_SIZE   (1024 * 1024)
#define QUEUE_LENGTH 4096
#define WAKE_AFTER   256 /* queued lines that wake an idle sealer (ledger_flush wakes it too) */

typedef struct chunk {
    struct chunk *next;
    size_t len, cap;
    char data[];
} chunk;

typedef struct queued_line {
    char *text;
    size_t len;
} queued_line;

struct ledger {
    int fd;
    char *path;
    uint64_t next_seq;
    uint64_t written_records; /* records on disk: those found at open plus those flushed */
    uint64_t written_bytes;   /* the file's length: complete lines only */
    chunk *first, *last;      /* this batch's lines, not yet written; first == NULL when none */
    chunk *spare;             /* emptied chunks, for reuse */
    strbuf line;              /* the line being built */
    bool failed;
    /* The records of one event share its time: the last one formatted, kept. */
    int64_t time_cached_ms;
    char time_cached[RFC3339_MS_LEN + 1];

    uv_thread_t sealer;
    uv_mutex_t lock;
    uv_cond_t changed; /* signalled when `queued`, `sealed` or `stopping` change */
    /* Under `lock`: */
    queued_line queue[QUEUE_LENGTH]; /* a ring: entries sealed..queued-1 await sealing */
    uint64_t queued, sealed;
    bool sealer_waiting;
    bool stopping;
    /* The sealer's own, read by the loop thread only once it has caught up: */
    char head_hash[LEDGER_HASH_HEX_LEN + 1];
    EVP_MD *sha256;     /* fetched once: looking the digest up per record costs as much as */
    EVP_MD_CTX *hasher; /* hashing the record itself */
};

/* libcrypto's SHA-256 uses the CPU's SHA extensions where it has them: hashing every record
 * is on the path of every event. `md` and `ctx` may be NULL (a one-off hash, as in verify). */
static void sha256_hex_with(EVP_MD *md, EVP_MD_CTX *ctx, const char *data, size_t len,
                            char out[LEDGER_HASH_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = md && ctx
                 ? EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
                       EVP_DigestFinal_ex(ctx, digest, &n) == 1
                 : EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) == 1;
    if (!ok || n != 32) {
        /* Only an allocation failure inside libcrypto gets here; a hash that cannot match
         * any record makes the failure visible to verify instead of silent. */
        memset(out, 'x', LEDGER_HASH_HEX_LEN);
        out[LEDGER_HASH_HEX_LEN] = '\0';
        return;
    }
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[LEDGER_HASH_HEX_LEN] = '\0';
}

static void sha256_hex(const char *data, size_t len, char out[LEDGER_HASH_HEX_LEN + 1])
{
    sha256_hex_with(NULL, NULL, data, len, out);
}

static bool is_hash_hex(const char *s, size_t len)
{
    if (len != LEDGER_HASH_HEX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* ---- verification ---------------------------------------------------------------------- */

/* Check the fields of a parsed record: names and order, then types. Returns NULL when fine,
 * else a static reason. */
static const char *check_fields(json_t *record, char *why, size_t why_size)
{
    size_t index = 0;
    for (void *it = json_object_iter(record); it != NULL;
         it = json_object_iter_next(record, it), index++) {
        const char *key = json_object_iter_key(it);
        if (index >= FIELD_COUNT || strcmp(key, FIELD_ORDER[index]) != 0) {
            snprintf(why, why_size, "field '%s' out of place (expected '%s')", key,
                     index < FIELD_COUNT ? FIELD_ORDER[index] : "end of record");
            return why;
        }
        json_t *value = json_object_iter_value(it);
        bool ok;
        if (index == 0)
            ok = json_is_integer(value) && json_integer_value(value) >= 1;
        else if (strcmp(key, "metadata") == 0)
            ok = json_is_object(value);
        else
            ok = json_is_string(value);
        if (!ok) {
            snprintf(why, why_size, "field '%s' has the wrong type", key);
            return why;
        }
    }
    if (index < FIELD_COUNT) {
        snprintf(why, why_size, "field '%s' missing", FIELD_ORDER[index]);
        return why;
    }
    return NULL;
}

/* Verify one line (without its newline). Sets r->why and returns false when bad. */
static bool verify_line(const char *line, size_t len, uint64_t expected_seq, const char *prev_hash,
                        char hash_out[LEDGER_HASH_HEX_LEN + 1], ledger_verify_result *r)
{
    r->bad_seq = expected_seq;
    json_error_t jerr;
    json_t *record = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (record == NULL) {
        snprintf(r->why, sizeof r->why, "not valid JSON");
        r->bad_is_torn = true;
        return false;
    }
    bool ok = false;
    json_t *seq = json_object_get(record, "seq");
    if (json_is_integer(seq) && json_integer_value(seq) >= 1)
        r->bad_seq = (uint64_t)json_integer_value(seq);
    if (!json_is_object(record)) {
        snprintf(r->why, sizeof r->why, "not a JSON object");
        goto done;
    }
    const char *suffix = len > HASH_SUFFIX_LEN ? line + len - HASH_SUFFIX_LEN : line;
    if (len <= HASH_SUFFIX_LEN || memcmp(suffix, HASH_KEY, HASH_KEY_LEN) != 0 ||
        !is_hash_hex(suffix + HASH_KEY_LEN, LEDGER_HASH_HEX_LEN) ||
        memcmp(line + len - 2, "\"}", 2) != 0) {
        snprintf(r->why, sizeof r->why, "line does not end with ,\"hash\":\"<64 hex>\"}");
        r->bad_is_torn = true;
        goto done;
    }
    sha256_hex(line, len - HASH_SUFFIX_LEN, hash_out);
    if (memcmp(hash_out, suffix + HASH_KEY_LEN, LEDGER_HASH_HEX_LEN) != 0) {
        snprintf(r->why, sizeof r->why, "hash mismatch");
        r->bad_is_torn = true;
        goto done;
    }
    char field_why[160];
    if (check_fields(record, field_why, sizeof field_why) != NULL) {
        snprintf(r->why, sizeof r->why, "%s", field_why);
        goto done;
    }
    uint64_t seq_value = (uint64_t)json_integer_value(seq);
    if (seq_value != expected_seq) {
        snprintf(r->why, sizeof r->why, "seq is %" PRIu64 ", expected %" PRIu64, seq_value,
                 expected_seq);
        goto done;
    }
    const char *prev = json_string_value(json_object_get(record, "prev_hash"));
    if (strcmp(prev, prev_hash) != 0) {
        if (expected_seq == 1)
            snprintf(r->why, sizeof r->why, "prev_hash is not the genesis value (64 zeros)");
        else
            snprintf(r->why, sizeof r->why, "prev_hash does not match the hash of seq %" PRIu64,
                     expected_seq - 1);
        goto done;
    }
    ok = true;
done:
    json_decref(record);
    return ok;
}

void ledger_verify_buffer(const char *data, size_t len, ledger_verify_result *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->head_hash, GENESIS_HASH, sizeof GENESIS_HASH);
    size_t pos = 0;
    uint64_t line_no = 0;
    while (pos < len) {
        line_no++;
        const char *start = data + pos;
        const char *newline = memchr(start, '\n', len - pos);
        size_t line_len = newline ? (size_t)(newline - start) : len - pos;
        size_t next = newline ? pos + line_len + 1 : len;
        r->bad_line = line_no;
        r->bad_is_last = next >= len;
        if (newline == NULL) {
            r->bad_seq = r->records + 1;
            snprintf(r->why, sizeof r->why, "truncated line (no newline)");
            r->bad_is_torn = true;
            return;
        }
        char hash[LEDGER_HASH_HEX_LEN + 1];
        if (!verify_line(start, line_len, r->records + 1, r->head_hash, hash, r))
            return;
        memcpy(r->head_hash, hash, sizeof hash);
        r->records++;
        pos = next;
        r->good_bytes = pos;
    }
    r->ok = true;
    r->bad_seq = 0;
    r->bad_line = 0;
    r->bad_is_last = false;
    r->bad_is_torn = false;
}

/* Map the file read-only (NULL for an empty file). */
static int map_file(int fd, const char *path, const char **data, size_t *len, char *msg,
                    size_t msg_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot stat: %s", path, strerror(errno));
        return rc;
    }
    *data = NULL;
    *len = (size_t)st.st_size;
    if (*len == 0)
        return 0;
    void *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot read: %s", path, strerror(errno));
        return rc;
    }
    *data = map;
    return 0;
}

int ledger_verify_file(const char *path, ledger_verify_result *result, char *msg, size_t msg_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    const char *data;
    size_t len = 0;
    int rc = map_file(fd, path, &data, &len, msg, msg_size);
    close(fd);
    if (rc < 0)
        return rc;
    ledger_verify_buffer(data, len, result);
    if (data != NULL)
        munmap((void *)data, len);
    return 0;
}

void ledger_describe_failure(const char *path, const ledger_verify_result *r, char *out,
                             size_t out_size)
{
    snprintf(out, out_size, "ledger %s: record seq %" PRIu64 " (line %" PRIu64 "): %s", path,
             r->bad_seq, r->bad_line, r->why);
}

/* ---- open and torn-tail recovery -------------------------------------------------------- */

/* Copy the torn bytes to a new "<path>.torn-<seq>" file (never overwriting an earlier one)
 * and sync it and its directory. */
static int move_aside(const char *path, const char *bytes, size_t len, uint64_t seq, char *moved_to,
                      size_t moved_size, char *msg, size_t msg_size)
{
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        if (attempt == 0)
            snprintf(moved_to, moved_size, "%s.torn-%" PRIu64, path, seq);
        else
            snprintf(moved_to, moved_size, "%s.torn-%" PRIu64 ".%d", path, seq, attempt);
        fd = open(moved_to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            int rc = -errno;
            snprintf(msg, msg_size, "%s: cannot create: %s", moved_to, strerror(errno));
            return rc;
        }
    }
    if (fd < 0) {
        snprintf(msg, msg_size, "%s: too many earlier torn files", moved_to);
        return -EEXIST;
    }
    int rc = durable_write_all(fd, bytes, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0)
        rc = durable_sync_parent_dir(moved_to);
    if (rc < 0)
        snprintf(msg, msg_size, "%s: cannot write the torn tail: %s", moved_to, strerror(-rc));
    return rc;
}

/* ---- the sealer ------------------------------------------------------------------------ */

/* Fill in a queued line's prev_hash from the head, hash it, and make it the head. */
static void seal(ledger *l, char *text, size_t len)
{
    size_t hashed = len - HASH_SUFFIX_LEN - 1; /* up to the quote closing prev_hash */
    memcpy(text + hashed - 1 - LEDGER_HASH_HEX_LEN, l->head_hash, LEDGER_HASH_HEX_LEN);
    char hash[LEDGER_HASH_HEX_LEN + 1];
    sha256_hex_with(l->sha256, l->hasher, text, hashed, hash);
    memcpy(text + hashed + HASH_KEY_LEN, hash, LEDGER_HASH_HEX_LEN);
    memcpy(l->head_hash, hash, sizeof hash);
}

static void run_sealer(void *arg)
{
    ledger *l = arg;
    uv_mutex_lock(&l->lock);
    for (;;) {
        while (l->sealed == l->queued && !l->stopping) {
            l->sealer_waiting = true;
            uv_cond_wait(&l->changed, &l->lock);
            l->sealer_waiting = false;
        }
        if (l->sealed == l->queued)
            break;
        uint64_t from = l->sealed, to = l->queued;
        uv_mutex_unlock(&l->lock);
        for (uint64_t i = from; i < to; i++)
            seal(l, l->queue[i % QUEUE_LENGTH].text, l->queue[i % QUEUE_LENGTH].len);
        uv_mutex_lock(&l->lock);
        l->sealed = to;
        uv_cond_broadcast(&l->changed);
    }
    uv_mutex_unlock(&l->lock);
}

static int start_sealer(ledger *l)
{
    int rc = uv_mutex_init(&l->lock);
    if (rc < 0)
        return rc;
    if ((rc = uv_cond_init(&l->changed)) < 0) {
        uv_mutex_destroy(&l->lock);
        return rc;
    }
    if ((rc = uv_thread_create(&l->sealer, run_sealer, l)) < 0) {
        uv_cond_destroy(&l->changed);
        uv_mutex_destroy(&l->lock);
    }
    return rc;
}

/* Waits until every queued line is sealed; the head is then the loop thread's to read. */
static void wait_sealed(ledger *l)
{
    uv_mutex_lock(&l->lock);
    if (l->sealer_waiting && l->sealed != l->queued)
        uv_cond_broadcast(&l->changed);
    while (l->sealed != l->queued)
        uv_cond_wait(&l->changed, &l->lock);
    uv_mutex_unlock(&l->lock);
}

/* Queue a line for sealing, waiting while the queue is full. */
static void queue_line(ledger *l, char *text, size_t len)
{
    uv_mutex_lock(&l->lock);
    while (l->queued - l->sealed == QUEUE_LENGTH)
        uv_cond_wait(&l->changed, &l->lock);
    l->queue[l->queued % QUEUE_LENGTH] = (queued_line){.text = text, .len = len};
    l->queued++;
    /* Woken for a run of lines, not each: a wake-up costs more than sealing one line. */
    if (l->sealer_waiting && l->queued - l->sealed >= WAKE_AFTER)
        uv_cond_broadcast(&l->changed);
    uv_mutex_unlock(&l->lock);
}

/* Room for `len` bytes at the end of the batch's chunks; NULL when out of memory. */
static char *chunk_room(ledger *l, size_t len)
{
    chunk *c = l->last;
    if (c == NULL || c->cap - c->len < len) {
        chunk *fresh = l->spare;
        if (fresh != NULL && fresh->cap >= len) {
            l->spare = fresh->next;
        } else {
            size_t cap = len > CHUNK_SIZE ? len : CHUNK_SIZE;
            if ((fresh = malloc(sizeof *fresh + cap)) == NULL)
                return NULL;
            fresh->cap = cap;
        }
        fresh->next = NULL;
        fresh->len = 0;
        if (c != NULL)
            c->next = fresh;
        else
            l->first = fresh;
        l->last = c = fresh;
    }
    char *room = c->data + c->len;
    c->len += len;
    return room;
}

/* The batch's chunks are written or dropped (the sealer has caught up): keep them for the next
 * batch. */
static void drop_chunks(ledger *l)
{
    if (l->last != NULL) {
        l->last->next = l->spare;
        l->spare = l->first;
    }
    l->first = l->last = NULL;
}

static void free_chunks(chunk *c)
{
    while (c != NULL) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}

int ledger_open(const char *path, ledger **out, ledger_torn_tail *torn, char *msg, size_t msg_size)
{
    *out = NULL;
    memset(torn, 0, sizeof *torn);
    int fd = durable_open_append(path, O_RDWR, NULL, msg, msg_size);
    if (fd < 0)
        return fd;
    const char *data;
    size_t len = 0;
    int rc = map_file(fd, path, &data, &len, msg, msg_size);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    ledger_verify_result v;
    ledger_verify_buffer(data, len, &v);
    /* Only a last line without its newline is a torn write: a batch is one write() ending in
     * a newline, so a crash can cut it short but never leave a whole line that is wrong. A
     * complete line that fails verification was changed: refused, never moved aside. */
    bool torn_tail = !v.ok && v.bad_is_last && v.bad_is_torn && data[len - 1] != '\n';
    if (!v.ok && !torn_tail) {
        ledger_describe_failure(path, &v, msg, msg_size);
        if (v.bad_is_last) {
            size_t used = strlen(msg);
            snprintf(msg + used, msg_size - used,
                     "; the line is complete, so this is not a torn write but a changed record");
        }
        rc = LEDGER_EBROKEN;
    } else if (!v.ok) {
        torn->found = true;
        torn->seq = v.records + 1;
        torn->line = v.bad_line;
        torn->bytes = len - v.good_bytes;
        snprintf(torn->why, sizeof torn->why, "%s", v.why);
        rc = move_aside(path, data + v.good_bytes, len - v.good_bytes, torn->seq, torn->moved_to,
                        sizeof torn->moved_to, msg, msg_size);
        if (rc == 0 && (ftruncate(fd, (off_t)v.good_bytes) != 0 || fsync(fd) != 0)) {
            rc = -errno;
            snprintf(msg, msg_size, "%s: cannot truncate the torn tail: %s", path, strerror(errno));
        }
    }
    if (data != NULL)
        munmap((void *)data, len);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    ledger *l = calloc(1, sizeof *l);
    char *path_copy = strdup(path);
    if (l == NULL || path_copy == NULL) {
        free(l);
        free(path_copy);
        close(fd);
        snprintf(msg, msg_size, "%s: out of memory", path);
        return -ENOMEM;
    }
    l->fd = fd;
    l->path = path_copy;
    l->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    l->hasher = EVP_MD_CTX_new(); /* when either is missing, records are hashed one-off */
    l->next_seq = v.records + 1;
    l->written_records = v.records;
    l->written_bytes = v.good_bytes;
    memcpy(l->head_hash, v.head_hash, sizeof l->head_hash);
    if ((rc = start_sealer(l)) < 0) {
        snprintf(msg, msg_size, "%s: cannot start the ledger's thread: %s", path, uv_strerror(rc));
        EVP_MD_CTX_free(l->hasher);
        EVP_MD_free(l->sha256);
        free(path_copy);
        free(l);
        close(fd);
        return rc;
    }
    *out = l;
    return 0;
}

/* ---- append and flush ------------------------------------------------------------------- */

static int append_string_field(strbuf *b, const char *key, const char *value, char *msg,
                               size_t msg_size)
{
    if (value == NULL) {
        snprintf(msg, msg_size, "%s: missing", key);
        return -EINVAL;
    }
    int rc = strbuf_append(b, ",\"", 2);
    if (rc == 0)
        rc = strbuf_append_str(b, key);
    if (rc == 0)
        rc = strbuf_append(b, "\":", 2);
    if (rc == 0)
        rc = json_text_append_string(b, value, strlen(value));
    if (rc == -EINVAL)
        snprintf(msg, msg_size, "%s: not valid UTF-8", key);
    else if (rc < 0)
        snprintf(msg, msg_size, "%s: out of memory", key);
    return rc;
}

int ledger_append(ledger *l, const ledger_record *rec, char *msg, size_t msg_size)
{
    if (l->failed) {
        snprintf(msg, msg_size, "ledger %s has failed; no more records are accepted", l->path);
        return -EIO;
    }
    strbuf *b = &l->line;
    strbuf_truncate(b, 0);
    if (rec->time_ms != l->time_cached_ms || l->time_cached[0] == '\0') {
        rfc3339_format_ms(rec->time_ms, l->time_cached);
        l->time_cached_ms = rec->time_ms;
    }
    /* {"seq":N,"time":"T" without printf: this runs for every record. */
    char digits[20];
    size_t n = 0;
    for (uint64_t seq = l->next_seq; n == 0 || seq > 0; seq /= 10)
        digits[n++] = (char)('0' + seq % 10);
    int rc = strbuf_reserve(b, 8 + n + 9 + RFC3339_MS_LEN + 1);
    if (rc < 0) {
        snprintf(msg, msg_size, "out of memory");
    } else {
        memcpy(b->data + b->len, "{\"seq\":", 7);
        b->len += 7;
        while (n > 0)
            b->data[b->len++] = digits[--n];
        memcpy(b->data + b->len, ",\"time\":\"", 9);
        b->len += 9;
        memcpy(b->data + b->len, l->time_cached, RFC3339_MS_LEN);
        b->len += RFC3339_MS_LEN;
        b->data[b->len++] = '"';
        b->data[b->len] = '\0';
    }
    if (rc == 0)
        rc = append_string_field(b, "node_id", rec->node_id, msg, msg_size);
    if (rc == 0)
        rc = append_string_field(b, "module", rec->module, msg, msg_size);
    if (rc == 0)
        rc = append_string_field(b, "action", rec->action, msg, msg_size);
    if (rc == 0)
        rc = append_string_field(b, "target", rec->target, msg, msg_size);
    if (rc == 0)
        rc = append_string_field(b, "details", rec->details, msg, msg_size);
    if (rc == 0)
        rc = append_string_field(b, "user_id", rec->user_id, msg, msg_size);
    if (rc == 0) {
        const char *meta = rec->metadata_json ? rec->metadata_json : "{}";
        size_t meta_len = rec->metadata_json ? rec->metadata_len : 2;
        if (memchr(meta, '\n', meta_len) != NULL) {
            snprintf(msg, msg_size, "metadata: must be one line of JSON");
            rc = -EINVAL;
        } else {
            rc = strbuf_append_str(b, ",\"metadata\":");
            if (rc == 0)
                rc = strbuf_append(b, meta, meta_len);
            /* Both hashes are the sealer's to fill in (see "the sealer"). */
            static const char zeros[LEDGER_HASH_HEX_LEN + 1] =
                "0000000000000000000000000000000000000000000000000000000000000000";
            if (rc == 0)
                rc = strbuf_append_str(b, ",\"prev_hash\":\"");
            if (rc == 0)
                rc = strbuf_append(b, zeros, LEDGER_HASH_HEX_LEN);
            if (rc == 0)
                rc = strbuf_append_char(b, '"');
            if (rc == 0)
                rc = strbuf_append(b, HASH_KEY, HASH_KEY_LEN);
            if (rc == 0)
                rc = strbuf_append(b, zeros, LEDGER_HASH_HEX_LEN);
            if (rc == 0)
                rc = strbuf_append(b, "\"}\n", 3);
            if (rc < 0)
                snprintf(msg, msg_size, "out of memory");
        }
    }
    char *room = rc == 0 ? chunk_room(l, b->len) : NULL;
    if (rc == 0 && room == NULL) {
        snprintf(msg, msg_size, "out of memory");
        rc = -ENOMEM;
    }
    if (rc < 0)
        return rc;
    memcpy(room, b->data, b->len);
    queue_line(l, room, b->len);
    l->next_seq++;
    return 0;
}

int ledger_flush(ledger *l, char *msg, size_t msg_size)
{
    if (l->failed) {
        snprintf(msg, msg_size, "ledger %s has failed; nothing more is written", l->path);
        return -EIO;
    }
    if (l->first == NULL)
        return 0;
    wait_sealed(l);
    int rc = 0;
    for (chunk *c = l->first; c != NULL && rc == 0; c = c->next)
        rc = durable_write_all(l->fd, c->data, c->len);
    const char *what = "write";
    if (rc == 0 && fdatasync(l->fd) != 0) {
        rc = -errno;
        what = "fdatasync";
    }
    if (rc < 0) {
        /* Never retry: after a failed sync the page cache may have dropped the data. */
        l->failed = true;
        snprintf(msg, msg_size, "ledger %s: %s failed: %s", l->path, what, strerror(-rc));
        return -EIO;
    }
    for (chunk *c = l->first; c != NULL; c = c->next)
        l->written_bytes += c->len;
    l->written_records = l->next_seq - 1;
    drop_chunks(l);
    return 0;
}

int ledger_hash_at(ledger *l, uint64_t seq, char hash[LEDGER_HASH_HEX_LEN + 1], uint64_t *last_seq,
                   char *msg, size_t msg_size)
{
    if (last_seq != NULL)
        *last_seq = l->written_records;
    if (seq == 0) {
        snprintf(msg, msg_size, "ledger %s: there is no record seq 0", l->path);
        return -EINVAL;
    }
    if (seq > l->written_records) {
        snprintf(msg, msg_size, "ledger %s ends at record seq %" PRIu64 ", before seq %" PRIu64,
                 l->path, l->written_records, seq);
        return -ERANGE;
    }
    /* The file holds exactly the verified (at open) and flushed lines, and only this process
     * writes it (station_lock.h): record N is line N, found counting newlines back from the
     * end, which is where a store's position usually is. */
    void *map = mmap(NULL, l->written_bytes, PROT_READ, MAP_PRIVATE, l->fd, 0);
    if (map == MAP_FAILED) {
        snprintf(msg, msg_size, "ledger %s: cannot read: %s", l->path, strerror(errno));
        return -EIO;
    }
    const char *data = map;
    size_t end = l->written_bytes - 1; /* the newline ending the last record */
    for (uint64_t n = l->written_records; n > seq; n--) {
        const char *newline = memrchr(data, '\n', end);
        end = newline != NULL ? (size_t)(newline - data) : 0;
    }
    int rc = 0;
    if (end < HASH_SUFFIX_LEN ||
        !is_hash_hex(data + end - 2 - LEDGER_HASH_HEX_LEN, LEDGER_HASH_HEX_LEN)) {
        snprintf(msg, msg_size, "ledger %s: record seq %" PRIu64 " has no hash where expected",
                 l->path, seq);
        rc = -EIO;
    } else {
        memcpy(hash, data + end - 2 - LEDGER_HASH_HEX_LEN, LEDGER_HASH_HEX_LEN);
        hash[LEDGER_HASH_HEX_LEN] = '\0';
    }
    munmap(map, l->written_bytes);
    return rc;
}

void ledger_abandon(ledger *l)
{
    wait_sealed(l);
    if (l->first != NULL)
        l->failed = true;
    drop_chunks(l);
}

uint64_t ledger_record_count(const ledger *l)
{
    return l->next_seq - 1;
}

const char *ledger_head_hash(ledger *l)
{
    wait_sealed(l);
    return l->head_hash;
}

bool ledger_failed(const ledger *l)
{
    return l->failed;
}

void ledger_close(ledger *l)
{
    if (l == NULL)
        return;
    uv_mutex_lock(&l->lock);
    l->stopping = true;
    uv_cond_broadcast(&l->changed);
    uv_mutex_unlock(&l->lock);
    uv_thread_join(&l->sealer); /* it seals what is queued, then ends */
    uv_cond_destroy(&l->changed);
    uv_mutex_destroy(&l->lock);
    close(l->fd);
    free_chunks(l->first);
    free_chunks(l->spare);
    strbuf_free(&l->line);
    EVP_MD_CTX_free(l->hasher);
    EVP_MD_free(l->sha256);
    free(l->path);
    free(l);
}
