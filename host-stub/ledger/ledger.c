/* ledger.c — hash-chained ledger: append, flush, verify, torn-tail recovery; see ledger.h. */
#include "ledger/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <yajl/yajl_parse.h>

#include "ledger/durable_file.h"
#include "ledger/ledger_mark.h"
#include "run/clock.h"
#include "util/json_check_fast.h"
#include "util/json_text.h"
#include "util/strbuf.h"
#include "yajl_gaps.h"

static const char GENESIS_HASH[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The bytes that follow the hashed prefix: ,"hash":"<64 hex>"} */
static const char HASH_KEY[] = ",\"hash\":\"";
#define HASH_KEY_LEN    (sizeof HASH_KEY - 1)
#define HASH_SUFFIX_LEN (HASH_KEY_LEN + LEDGER_HASH_HEX_LEN + 2)

static const char *const FIELD_ORDER[] = {"seq",      "time",      "node_id", "module",
                                          "action",   "target",    "details", "user_id",
                                          "metadata", "prev_hash", "hash"};
#define FIELD_COUNT     (sizeof FIELD_ORDER / sizeof FIELD_ORDER[0])
#define FIELD_MODULE    3
#define FIELD_ACTION    4
#define FIELD_METADATA  8 /* FIELD_ORDER[8], the one object (test_ledger_stream.c checks it) */
#define FIELD_PREV_HASH 9

/* Records are sealed (prev_hash filled in, hash computed) on a thread of the ledger's own while
 * the loop thread goes on with the batch: hashing every record is on the path of every event.
 * The loop thread writes each line whole, both hashes left as placeholders, into a chunk
 * (chunks never move, so the sealer can work on lines while more are added) and queues it; the
 * sealer seals the queued lines in order, carrying the chain's head; ledger_flush waits for it
 * to catch up before it writes. */
#define CHUNK_SIZE   (1024 * 1024)
#define QUEUE_LENGTH 4096
#define WAKE_AFTER   256 /* queued lines that wake an idle sealer (ledger_flush wakes it too) */
/* A batch's lines held in memory, at most (about): beyond it the sealed chunks are written
 * ahead of the batch's flush, unsynced, so that one event's 100,000 records do not hold
 * 90 MB. The ledger may always run ahead of the stores (README's order: ledger, stores,
 * outputs); what is written ahead is made durable by the same fdatasync as the rest. */
#define PENDING_MAX (4u * CHUNK_SIZE)
#define SPARE_MAX   (PENDING_MAX / CHUNK_SIZE + 2) /* emptied chunks kept for reuse */

typedef struct chunk {
    struct chunk *next;
    size_t len, cap;
    uint64_t lines_end; /* the queue's count once its last line was queued: sealed when
                           `sealed` reaches it */
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
    uint64_t last_len;        /* length of the last record appended (its line, newline and all) */
    uint64_t mark_end;        /* where the side file says verification goes on (ledger_mark.h) */
    uint64_t dev, ino;        /* the ledger file's identity, for the mark */
    uint64_t verified_from;   /* the first record ledger_open verified */
    char start_note[300];     /* why it started there */
    chunk *first, *last;      /* this batch's lines, not yet written; first == NULL when none */
    chunk *spare;             /* emptied chunks, for reuse (at most SPARE_MAX) */
    size_t spare_count;
    uint64_t pending_bytes; /* the bytes of first..last */
    uint64_t ahead_bytes;   /* this batch's bytes written ahead, not yet synced (PENDING_MAX) */
    strbuf line;            /* the line being built */
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

/* Whether each of the 256 byte values is a lowercase hex digit. */
static const bool HEX_DIGIT[256] = {
    ['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true, ['5'] = true,
    ['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true, ['a'] = true, ['b'] = true,
    ['c'] = true, ['d'] = true, ['e'] = true, ['f'] = true,
};

/* Without a branch per digit: a hash's digits fall at random on either side of '9', and a
 * mispredicted branch for every other digit was 6 % of verifying a ledger. */
static bool is_hash_hex(const char *s, size_t len)
{
    if (len != LEDGER_HASH_HEX_LEN)
        return false;
    bool all = true;
    for (size_t i = 0; i < len; i++)
        all &= HEX_DIGIT[(unsigned char)s[i]];
    return all;
}

/* ---- verification ---------------------------------------------------------------------- */

/* A record is checked by a field scan, not a tree: yajl (a streaming parser) checks the line is
 * one valid JSON value, and its callbacks check, as they come, the top-level fields' names,
 * order and types, keep seq and prev_hash, and refuse a key twice in any object (as jansson's
 * JSON_REJECT_DUPLICATES did). Nothing per record is allocated beyond yajl's own handle; the
 * keys of the open objects are kept in one buffer reused from line to line. */
typedef struct scan {
    strbuf keys;  /* the keys of every open object, each as its length then its bytes */
    size_t *open; /* per open container: where its keys start in `keys`, or SIZE_MAX */
    size_t depth, open_cap;
    size_t field;        /* top-level fields seen */
    bool invalid;        /* not JSON as jansson reads it (a key twice, a NUL, a number too big) */
    bool top_is_object;  /* the first value opened an object */
    yajl_handle yajl;    /* the line's parser, for where its root closes */
    size_t root_end;     /* past the root's closing byte (yajl_gaps.h) */
    char field_why[160]; /* the first field error, "" when none */
    bool seq_ok;
    uint64_t seq;
    char prev_hash[LEDGER_HASH_HEX_LEN + 2];
    /* The record's module and action, for a visitor (ledger_verify_file_each); "" when longer
     * than any the host compares them with. */
    char module[LEDGER_NAME_SCAN_MAX], action[LEDGER_NAME_SCAN_MAX];
    bool oom;
    /* simdjson's check of a record (json_fast_record), made the first time a line is scanned;
     * NULL when it could not be (then yajl's scan alone). The scan decides what it does not
     * take. */
    json_fast *fast;
    bool fast_tried;
    /* Fetched once (the first time a line is hashed): looking the digest up per record costs
     * about as much as hashing it. NULL: hashed one-off. */
    EVP_MD *sha256;
    EVP_MD_CTX *hasher;
    bool hash_ready;
} scan;

#define PARSER_MAX_DEPTH 2048

typedef enum value_kind { KIND_INTEGER, KIND_OTHER, KIND_STRING, KIND_OBJECT } value_kind;

/* A value starts at the top level's field `s->field - 1`: check its type. */
static void scan_top_value(scan *s, value_kind kind)
{
    if (s->field_why[0] != '\0' || s->field == 0 || s->field > FIELD_COUNT)
        return;
    size_t index = s->field - 1;
    bool ok = index == 0                ? kind == KIND_INTEGER
              : index == FIELD_METADATA ? kind == KIND_OBJECT
                                        : kind == KIND_STRING;
    if (!ok)
        snprintf(s->field_why, sizeof s->field_why, "field '%s' has the wrong type",
                 FIELD_ORDER[index]);
}

static int scan_value(scan *s, value_kind kind)
{
    if (s->depth == 1)
        scan_top_value(s, kind);
    return 1;
}

static int cb_null(void *ctx)
{
    return scan_value(ctx, KIND_OTHER);
}

static int cb_boolean(void *ctx, int value)
{
    (void)value;
    return scan_value(ctx, KIND_OTHER);
}

static int cb_number(void *ctx, const char *text, size_t len)
{
    scan *s = ctx;
    char copy[64];
    bool integer = memchr(text, '.', len) == NULL && memchr(text, 'e', len) == NULL &&
                   memchr(text, 'E', len) == NULL;
    if (len >= sizeof copy) {
        if (integer) /* more digits than any json_int_t */
            s->invalid = true;
        return scan_value(s, integer ? KIND_INTEGER : KIND_OTHER);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    errno = 0;
    if (integer) {
        long long v = strtoll(copy, NULL, 10);
        if (errno == ERANGE)
            s->invalid = true;
        else if (s->depth == 1 && s->field == 1 && v >= 1) {
            s->seq_ok = true;
            s->seq = (uint64_t)v;
        }
        if (s->depth == 1 && s->field == 1 && v < 1 && s->field_why[0] == '\0')
            snprintf(s->field_why, sizeof s->field_why, "field 'seq' has the wrong type");
    } else if (isinf(strtod(copy, NULL))) {
        s->invalid = true; /* jansson refuses a real that overflows */
    }
    return scan_value(s, integer ? KIND_INTEGER : KIND_OTHER);
}

static int cb_string(void *ctx, const unsigned char *text, size_t len)
{
    scan *s = ctx;
    if (memchr(text, '\0', len) != NULL)
        s->invalid = true;
    if (s->depth == 1 && s->field == FIELD_COUNT - 1) {
        size_t n = len < sizeof s->prev_hash - 1 ? len : sizeof s->prev_hash - 1;
        memcpy(s->prev_hash, text, n);
        s->prev_hash[n] = '\0';
    }
    if (s->depth == 1 && (s->field == 4 || s->field == 5)) { /* module, action */
        char *to = s->field == 4 ? s->module : s->action;
        size_t n = len < LEDGER_NAME_SCAN_MAX ? len : 0;
        memcpy(to, text, n);
        to[n] = '\0';
    }
    return scan_value(s, KIND_STRING);
}

static int scan_push(scan *s, size_t keys_from)
{
    if (s->depth == PARSER_MAX_DEPTH) /* jansson's limit */
        s->invalid = true;
    if (s->depth == s->open_cap) {
        size_t cap = s->open_cap ? 2 * s->open_cap : 16;
        size_t *grown = realloc(s->open, cap * sizeof *grown);
        if (grown == NULL) {
            s->oom = true;
            return 0;
        }
        s->open = grown;
        s->open_cap = cap;
    }
    s->open[s->depth++] = keys_from;
    return 1;
}

static int cb_start_map(void *ctx)
{
    scan *s = ctx;
    if (s->depth == 0)
        s->top_is_object = true;
    scan_value(s, KIND_OBJECT);
    return scan_push(s, s->keys.len);
}

static int cb_start_array(void *ctx)
{
    scan *s = ctx;
    scan_value(s, KIND_OTHER);
    return scan_push(s, SIZE_MAX);
}

static int cb_end(void *ctx)
{
    scan *s = ctx;
    size_t from = s->open[--s->depth];
    if (from != SIZE_MAX)
        strbuf_truncate(&s->keys, from);
    if (s->depth == 0)
        s->root_end = yajl_get_bytes_consumed(s->yajl);
    if (s->depth == 0 && s->top_is_object && s->field < FIELD_COUNT && s->field_why[0] == '\0')
        snprintf(s->field_why, sizeof s->field_why, "field '%s' missing", FIELD_ORDER[s->field]);
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    scan *s = ctx;
    if (memchr(key, '\0', len) != NULL)
        s->invalid = true;
    /* A key twice in one object: a linear look among its keys (records' objects are small). */
    size_t at = s->open[s->depth - 1];
    while (at < s->keys.len) {
        size_t klen;
        memcpy(&klen, s->keys.data + at, sizeof klen);
        if (klen == len && memcmp(s->keys.data + at + sizeof klen, key, len) == 0)
            s->invalid = true;
        at += sizeof klen + klen;
    }
    if (strbuf_append(&s->keys, (const char *)&len, sizeof len) < 0 ||
        strbuf_append(&s->keys, (const char *)key, len) < 0) {
        s->oom = true;
        return 0;
    }
    if (s->depth == 1) {
        size_t index = s->field++;
        if (s->field_why[0] == '\0' && (index >= FIELD_COUNT || strlen(FIELD_ORDER[index]) != len ||
                                        memcmp(key, FIELD_ORDER[index], len) != 0))
            snprintf(s->field_why, sizeof s->field_why, "field '%.*s' out of place (expected '%s')",
                     (int)(len > 60 ? 60 : len), (const char *)key,
                     index < FIELD_COUNT ? FIELD_ORDER[index] : "end of record");
        if (s->field_why[0] != '\0')
            s->field = FIELD_COUNT + 1; /* no more type checks once out of place */
    }
    return 1;
}

static const yajl_callbacks SCAN_CALLBACKS = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

/* A record simdjson shows to be one, its fields in order and of their types: taken into *s as
 * the scan would. False when not shown: the scan then decides (json_check_fast.h). */
static bool fast_record(scan *s, const char *line, size_t len)
{
    if (!s->fast_tried) {
        s->fast_tried = true;
        s->fast = json_fast_new();
    }
    static const size_t texts[3] = {FIELD_MODULE, FIELD_ACTION, FIELD_PREV_HASH};
    json_fast_record_found found;
    if (s->fast == NULL || !json_fast_record(s->fast, line, len, FIELD_ORDER, FIELD_COUNT,
                                             FIELD_METADATA, texts, &found))
        return false;
    s->top_is_object = s->seq_ok = true;
    s->seq = (uint64_t)found.first;
    for (int t = 0; t < 2; t++) { /* as cb_string keeps them */
        char *to = t == 0 ? s->module : s->action;
        size_t n = found.text_len[t] < LEDGER_NAME_SCAN_MAX ? found.text_len[t] : 0;
        memcpy(to, found.text[t], n);
        to[n] = '\0';
    }
    size_t n =
        found.text_len[2] < sizeof s->prev_hash - 1 ? found.text_len[2] : sizeof s->prev_hash - 1;
    memcpy(s->prev_hash, found.text[2], n);
    s->prev_hash[n] = '\0';
    return true;
}

/* Scan `line` into *s. Returns true when it is valid JSON (as jansson reads it). */
static bool scan_line(scan *s, const char *line, size_t len)
{
    s->field_why[0] = '\0';
    if (fast_record(s, line, len))
        return true;
    strbuf_truncate(&s->keys, 0);
    s->depth = 0;
    s->field = 0;
    s->invalid = s->top_is_object = s->seq_ok = s->oom = false;
    s->field_why[0] = '\0';
    s->prev_hash[0] = '\0';
    s->module[0] = s->action[0] = '\0';
    s->seq = 0;
    if (yajl_gaps_foreign_byte_at(line, len) < len)
        return false;
    s->root_end = SIZE_MAX;
    yajl_handle y = yajl_alloc(&SCAN_CALLBACKS, NULL, s);
    if (y == NULL)
        return false;
    s->yajl = y;
    bool ok = yajl_parse(y, (const unsigned char *)line, len) == yajl_status_ok &&
              yajl_complete_parse(y) == yajl_status_ok &&
              (!s->top_is_object || yajl_gaps_rest_is_blank(line, len, s->root_end));
    yajl_free(y);
    s->yajl = NULL;
    ok = ok && !s->invalid && !s->oom;
    /* yajl decodes a lone UTF-16 surrogate (\\ud800) that jansson refuses: the rare line
     * holding one is read by jansson too. */
    for (const char *at = line;
         ok && at < line + len && (at = memchr(at, '\\', len - (size_t)(at - line))); at += 2)
        if (at + 2 < line + len && at[1] == 'u' && (at[2] == 'd' || at[2] == 'D')) {
            json_error_t jerr;
            json_t *doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
            ok = doc != NULL;
            json_decref(doc);
            break;
        }
    return ok;
}

static void scan_free(scan *s)
{
    json_fast_free(s->fast);
    strbuf_free(&s->keys);
    free(s->open);
    EVP_MD_CTX_free(s->hasher);
    EVP_MD_free(s->sha256);
}

/* One line as checked on its own (check_line): everything about a record but its place in
 * the chain (its seq and prev_hash against the record before), which chain_checked judges in
 * order. Lines are checked in batches (check_batch), then chained. */
typedef struct line_check {
    const char *line; /* without its newline; borrowed from the block */
    size_t len;
    bool has_newline;
    bool ok;     /* every check but the chain's passed */
    bool torn;   /* when not ok: it looks like an interrupted write */
    bool seq_ok; /* seq was read (when ok, or when only a later check failed) */
    uint64_t seq;
    char why[160];
    char hash[LEDGER_HASH_HEX_LEN + 1];
    char prev_hash[LEDGER_HASH_HEX_LEN + 2];
    char module[LEDGER_NAME_SCAN_MAX], action[LEDGER_NAME_SCAN_MAX];
} line_check;

static bool check_fails(line_check *c, bool torn, const char *why)
{
    snprintf(c->why, sizeof c->why, "%s", why);
    c->torn = torn;
    return false;
}

/* Checks one line on its own into *c (c->line, len and has_newline set): valid JSON, an
 * object, the hash suffix, the hash of its bytes, the fields in order with their types. */
static bool check_line(scan *s, line_check *c)
{
    const char *line = c->line;
    size_t len = c->len;
    c->ok = c->torn = c->seq_ok = false;
    c->why[0] = '\0';
    if (!c->has_newline)
        return false; /* chain_checked says why */
    if (!scan_line(s, line, len))
        return check_fails(c, !s->oom, s->oom ? "out of memory" : "not valid JSON");
    c->seq_ok = s->seq_ok;
    c->seq = s->seq;
    if (!s->top_is_object)
        return check_fails(c, false, "not a JSON object");
    const char *suffix = len > HASH_SUFFIX_LEN ? line + len - HASH_SUFFIX_LEN : line;
    if (len <= HASH_SUFFIX_LEN || memcmp(suffix, HASH_KEY, HASH_KEY_LEN) != 0 ||
        !is_hash_hex(suffix + HASH_KEY_LEN, LEDGER_HASH_HEX_LEN) ||
        memcmp(line + len - 2, "\"}", 2) != 0)
        return check_fails(c, true, "line does not end with ,\"hash\":\"<64 hex>\"}");
    if (!s->hash_ready) {
        s->hash_ready = true;
        s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        s->hasher = EVP_MD_CTX_new();
    }
    sha256_hex_with(s->sha256, s->hasher, line, len - HASH_SUFFIX_LEN, c->hash);
    if (memcmp(c->hash, suffix + HASH_KEY_LEN, LEDGER_HASH_HEX_LEN) != 0)
        return check_fails(c, true, "hash mismatch");
    if (s->field_why[0] != '\0')
        return check_fails(c, false, s->field_why);
    memcpy(c->prev_hash, s->prev_hash, sizeof c->prev_hash);
    memcpy(c->module, s->module, sizeof c->module);
    memcpy(c->action, s->action, sizeof c->action);
    c->ok = true;
    return true;
}

/* Lines in a batch: a block's lines are checked, then chained (a batch's checks are some 500
 * bytes a line, so 2 MiB at most). */
#define CHECK_BATCH 4096

/* Checks c[0..n) on their own. (Checking a batch's halves on two threads was tried: on a
 * station's two cores shared with the host's own threads and other work it made verification
 * slower, not faster.) */
static void check_batch(scan *s, line_check *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_line(s, &c[i]);
}

static void result_start(ledger_verify_result *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->head_hash, GENESIS_HASH, sizeof GENESIS_HASH);
}

static void result_ok(ledger_verify_result *r)
{
    r->ok = true;
    r->bad_seq = 0;
    r->bad_line = 0;
    r->bad_is_last = false;
    r->bad_is_torn = false;
}

/* Take the next checked line, which ends the file when `is_last`, into the chain *r (record
 * r->records + 1, line r->bad_line + 1). Returns false at the first bad one, *r then
 * describing it. */
static bool chain_checked(const line_check *c, bool is_last, ledger_verify_result *r)
{
    r->bad_line++;
    r->bad_is_last = is_last;
    uint64_t expected = r->records + 1;
    r->bad_seq = c->seq_ok ? c->seq : expected;
    if (!c->has_newline) {
        r->bad_seq = expected;
        snprintf(r->why, sizeof r->why, "truncated line (no newline)");
        r->bad_is_torn = true;
        return false;
    }
    if (!c->ok) {
        snprintf(r->why, sizeof r->why, "%s", c->why);
        r->bad_is_torn = c->torn;
        return false;
    }
    if (c->seq != expected) {
        snprintf(r->why, sizeof r->why, "seq is %" PRIu64 ", expected %" PRIu64, c->seq, expected);
        return false;
    }
    if (strcmp(c->prev_hash, r->head_hash) != 0) {
        if (expected == 1)
            snprintf(r->why, sizeof r->why, "prev_hash is not the genesis value (64 zeros)");
        else
            snprintf(r->why, sizeof r->why, "prev_hash does not match the hash of seq %" PRIu64,
                     expected - 1);
        return false;
    }
    memcpy(r->head_hash, c->hash, sizeof r->head_hash);
    r->records++;
    r->good_bytes += c->len + 1;
    return true;
}

/* The lines of a block being verified: `base` is the block, at file offset `base_offset` of a
 * file of `size` bytes. */
typedef struct verifier {
    scan s;
    line_check *c; /* CHECK_BATCH of them */
    ledger_verify_result *r;
    uint64_t *last_start; /* the offset of the last intact record's line */
    ledger_visit visit;
    void *ctx;
    int visit_rc;
} verifier;

/* Checks the n lines of v->c (in the block `base` at `base_offset` of a file of `size` bytes)
 * and chains them in order, calling the visitor for each intact one. Returns false at the
 * first bad line or a visitor's refusal (v->visit_rc). */
static bool verify_batch(verifier *v, size_t n, const char *base, uint64_t base_offset,
                         uint64_t size)
{
    check_batch(&v->s, v->c, n);
    for (size_t i = 0; i < n; i++) {
        const line_check *c = &v->c[i];
        uint64_t start = base_offset + (uint64_t)(c->line - base);
        if (!chain_checked(c, start + c->len + c->has_newline >= size, v->r))
            return false;
        if (v->last_start != NULL)
            *v->last_start = start;
        if (v->visit != NULL) {
            ledger_visited rec = {.seq = v->r->records,
                                  .line = c->line,
                                  .len = c->len,
                                  .hash = c->hash,
                                  .module = c->module,
                                  .action = c->action};
            if ((v->visit_rc = v->visit(v->ctx, &rec)) != 0)
                return false;
        }
    }
    return true;
}

/* Splits data[*pos, have) into lines into v->c (at most CHECK_BATCH), complete ones only
 * unless `at_end` (the file ends at `have`: a last line without its newline is taken too).
 * Returns how many; *pos moves past them. */
static size_t take_lines(verifier *v, const char *data, size_t *pos, size_t have, bool at_end)
{
    size_t n = 0, p = *pos;
    while (n < CHECK_BATCH && p < have) {
        const char *nl = memchr(data + p, '\n', have - p);
        if (nl == NULL && !at_end)
            break;
        size_t len = nl ? (size_t)(nl - (data + p)) : have - p;
        v->c[n++] = (line_check){.line = data + p, .len = len, .has_newline = nl != NULL};
        p += len + (nl != NULL);
    }
    *pos = p;
    return n;
}

static void verifier_free(verifier *v)
{
    scan_free(&v->s);
    free(v->c);
}

static void verify_buffer(const char *data, size_t len, bool scan_only, ledger_verify_result *r)
{
    result_start(r);
    verifier v = {.c = malloc(CHECK_BATCH * sizeof *v.c), .r = r};
    v.s.fast_tried = scan_only; /* tried, none made: the scan alone */
    size_t pos = 0;
    bool ok = v.c != NULL;
    while (ok && pos < len) {
        size_t n = take_lines(&v, data, &pos, len, true);
        ok = verify_batch(&v, n, data, 0, len);
    }
    if (v.c == NULL) {
        r->bad_line = 1;
        r->bad_seq = 1;
        snprintf(r->why, sizeof r->why, "out of memory");
    }
    verifier_free(&v);
    if (ok)
        result_ok(r);
}

void ledger_verify_buffer(const char *data, size_t len, ledger_verify_result *r)
{
    verify_buffer(data, len, false, r);
}

void ledger_verify_buffer_scan_only(const char *data, size_t len, ledger_verify_result *r)
{
    verify_buffer(data, len, true, r);
}

#define READ_BLOCK (4 * 1024 * 1024)

/* Read `len` bytes at `offset` of `fd` into `buf`: 0, -EIO on a short file, or -errno. */
static int read_at(int fd, char *buf, size_t len, uint64_t offset)
{
    while (len > 0) {
        ssize_t n = pread(fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        buf += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return 0;
}

/* Go on verifying the chain *r (filled up to byte r->good_bytes) through the file `fd` of
 * `size` bytes, reading it in blocks: memory is one block, the longest line and a batch of
 * checks, whatever the file's length. *last_start gets the offset of the last intact record's
 * line; `visit` (may be NULL) is called for each intact record. Returns 0 (*r says what was
 * found), a negative errno with `msg` naming `path`, or the visitor's refusal. */
static int verify_stream(int fd, const char *path, uint64_t size, ledger_verify_result *r,
                         uint64_t *last_start, ledger_visit visit, void *ctx, char *msg,
                         size_t msg_size)
{
    verifier v = {.c = malloc(CHECK_BATCH * sizeof *v.c),
                  .r = r,
                  .last_start = last_start,
                  .visit = visit,
                  .ctx = ctx};
    size_t cap = READ_BLOCK, have = 0, pos = 0;
    char *buf = malloc(cap);
    uint64_t buf_offset = r->good_bytes; /* the file offset of buf[0] */
    int rc = buf == NULL || v.c == NULL ? -ENOMEM : 0;
    bool ok = true;
    while (rc == 0 && ok && buf_offset + pos < size) {
        uint64_t read_end = buf_offset + have;
        size_t n = take_lines(&v, buf, &pos, have, read_end >= size);
        if (n > 0) {
            ok = verify_batch(&v, n, buf, buf_offset, size);
            continue;
        }
        /* No whole line left: keep the partial one, then read more after it (growing the
         * buffer for a long line). */
        memmove(buf, buf + pos, have - pos);
        buf_offset += pos;
        have -= pos;
        pos = 0;
        if (have == cap) {
            char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (grown == NULL) {
                rc = -ENOMEM;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t want = cap - have;
        if (want > size - read_end)
            want = (size_t)(size - read_end);
        rc = read_at(fd, buf + have, want, read_end);
        have += want;
    }
    free(buf);
    verifier_free(&v);
    if (v.visit_rc != 0)
        return v.visit_rc;
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    if (ok)
        result_ok(r);
    return 0;
}

int ledger_verify_file_each(const char *path, ledger_verify_result *result, ledger_visit visit,
                            void *ctx, char *msg, size_t msg_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot open: %s", path, strerror(errno));
        return rc;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(msg, msg_size, "%s: cannot stat: %s", path, strerror(errno));
    }
    uint64_t last_start = 0;
    result_start(result);
    if (rc == 0)
        rc = verify_stream(fd, path, (uint64_t)st.st_size, result, &last_start, visit, ctx, msg,
                           msg_size);
    close(fd);
    return rc;
}

int ledger_verify_file(const char *path, ledger_verify_result *result, char *msg, size_t msg_size)
{
    return ledger_verify_file_each(path, result, NULL, NULL, msg, msg_size);
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
            l->spare_count--;
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
    l->pending_bytes += len;
    return room;
}

/* A chunk written or dropped (the sealer is done with it): kept for reuse, up to SPARE_MAX of
 * the usual size; a larger one (a line over CHUNK_SIZE) or one more is freed. */
static void retire_chunk(ledger *l, chunk *c)
{
    if (c->cap > CHUNK_SIZE || l->spare_count >= SPARE_MAX) {
        free(c);
        return;
    }
    c->next = l->spare;
    l->spare = c;
    l->spare_count++;
}

/* The batch's chunks are written or dropped (the sealer has caught up). */
static void drop_chunks(ledger *l)
{
    for (chunk *c = l->first, *next; c != NULL; c = next) {
        next = c->next;
        retire_chunk(l, c);
    }
    l->first = l->last = NULL;
    l->pending_bytes = 0;
}

static void free_chunks(chunk *c)
{
    while (c != NULL) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* The longest record line a mark may point at: a mark naming more is not trusted (reading it
 * would cost what the mark saves). Longer lines are verified from the start like any other. */
#define MARK_EVERY    (32u * 1024 * 1024)
#define MARK_LINE_MAX (64u * 1024 * 1024)

/* Whether `mark` agrees with the ledger file `fd` (`st`): the same file, the record it names
 * inside the file and starting a line, that line an intact record (its own hash matching its
 * bytes) with the mark's seq and hash. Its link to the record before it and everything before
 * it were verified by whoever wrote the mark (ledger_mark.h). Fills *r as the chain through
 * the mark and returns true, or says in `why` what disagrees. */
static bool mark_agrees(int fd, const struct stat *st, const ledger_mark *m,
                        ledger_verify_result *r, char *why, size_t why_size)
{
    uint64_t size = (uint64_t)st->st_size;
    if (m->dev != (uint64_t)st->st_dev || m->ino != (uint64_t)st->st_ino) {
        snprintf(why, why_size, "it names another file (replaced or copied)");
        return false;
    }
    if (m->seq == 0 || m->end > size || m->start >= m->end || m->end - m->start > MARK_LINE_MAX) {
        snprintf(why, why_size,
                 "its position [%" PRIu64 ", %" PRIu64 ") is not inside the %" PRIu64
                 "-byte ledger",
                 m->start, m->end, size);
        return false;
    }
    uint64_t from = m->start > 0 ? m->start - 1 : 0;
    size_t len = (size_t)(m->end - from);
    char *line = malloc(len);
    if (line == NULL || read_at(fd, line, len, from) < 0) {
        free(line);
        snprintf(why, why_size, "its record cannot be read");
        return false;
    }
    const char *text = m->start > 0 ? line + 1 : line;
    size_t text_len = (size_t)(m->end - m->start) - 1;
    bool ok = (m->start == 0 || line[0] == '\n') && text[text_len] == '\n' &&
              memchr(text, '\n', text_len) == NULL;
    if (!ok)
        snprintf(why, why_size, "no record line at [%" PRIu64 ", %" PRIu64 ")", m->start, m->end);
    /* Its own checks, and its seq; its link to the record before was verified before. */
    line_check one = {.line = text, .len = text_len, .has_newline = true};
    scan s = {0};
    if (ok && !check_line(&s, &one)) {
        snprintf(why, why_size, "its record seq %" PRIu64 " does not verify: %s", m->seq, one.why);
        ok = false;
    } else if (ok && one.seq != m->seq) {
        snprintf(why, why_size,
                 "its record seq %" PRIu64 " does not verify: seq is %" PRIu64
                 ", expected %" PRIu64,
                 m->seq, one.seq, m->seq);
        ok = false;
    }
    scan_free(&s);
    free(line);
    if (ok && memcmp(one.hash, m->hash, LEDGER_HASH_HEX_LEN) != 0) {
        snprintf(why, why_size, "the record at its position has another hash");
        ok = false;
    }
    if (!ok)
        return false;
    result_start(r);
    r->records = m->seq;
    r->good_bytes = m->end;
    r->bad_line = m->seq; /* a verified ledger has record N on line N */
    memcpy(r->head_hash, m->hash, sizeof r->head_hash);
    return true;
}

/* Record where the ledger now stands as verified (ledger_mark.h). A mark that cannot be
 * written only costs the next start a longer verification, so failures are not errors. */
static void write_mark(ledger *l)
{
    if (l->written_records == 0 || l->written_bytes == l->mark_end)
        return;
    ledger_mark m = {.seq = l->written_records,
                     .start = l->written_bytes - l->last_len,
                     .end = l->written_bytes,
                     .dev = l->dev,
                     .ino = l->ino};
    memcpy(m.hash, l->head_hash, sizeof m.hash);
    char msg[PATH_MAX + 100];
    if (ledger_mark_write(l->path, &m, msg, sizeof msg) == 0)
        l->mark_end = l->written_bytes;
}

/* After verification: a torn last line (v not ok, the line without its newline) moved aside
 * and cut off (`torn` says so); any other failure refused with LEDGER_EBROKEN. 0 or a negative
 * code, msg set. */
static int settle_tail(int fd, const char *path, uint64_t len, const ledger_verify_result *v,
                       ledger_torn_tail *torn, char *msg, size_t msg_size)
{
    int rc = 0;
    /* Only a last line without its newline is a torn write: every write() of lines ends in a
     * newline (a batch's, or a chunk of whole lines written ahead of it), so a crash can cut
     * one short but never leave a whole line that is wrong. A
     * complete line that fails verification was changed: refused, never moved aside. */
    char last_byte = '\n';
    if (!v->ok && v->bad_is_last && len > 0 && read_at(fd, &last_byte, 1, len - 1) < 0)
        last_byte = '\n'; /* unreadable: not judged torn, so nothing is moved or truncated */
    bool torn_tail = !v->ok && v->bad_is_last && v->bad_is_torn && last_byte != '\n';
    if (!v->ok && !torn_tail) {
        ledger_describe_failure(path, v, msg, msg_size);
        if (v->bad_is_last) {
            size_t used = strlen(msg);
            snprintf(msg + used, msg_size - used,
                     "; the line is complete, so this is not a torn write but a changed record");
        }
        rc = LEDGER_EBROKEN;
    } else if (!v->ok) {
        torn->found = true;
        torn->seq = v->records + 1;
        torn->line = v->bad_line;
        torn->bytes = len - v->good_bytes;
        snprintf(torn->why, sizeof torn->why, "%s", v->why);
        /* The torn tail is one line (the lines before it verified), held in memory to be
         * moved aside. */
        char *tail = malloc(torn->bytes);
        rc = tail == NULL ? -ENOMEM : read_at(fd, tail, torn->bytes, v->good_bytes);
        if (rc < 0)
            snprintf(msg, msg_size, "%s: cannot read the torn tail: %s", path, strerror(-rc));
        else
            rc = move_aside(path, tail, torn->bytes, torn->seq, torn->moved_to,
                            sizeof torn->moved_to, msg, msg_size);
        free(tail);
        if (rc == 0 && (ftruncate(fd, (off_t)v->good_bytes) != 0 || fsync(fd) != 0)) {
            rc = -errno;
            snprintf(msg, msg_size, "%s: cannot truncate the torn tail: %s", path, strerror(errno));
        }
    }
    return rc;
}

int ledger_open(const char *path, ledger **out, ledger_torn_tail *torn, char *msg, size_t msg_size)
{
    *out = NULL;
    memset(torn, 0, sizeof *torn);
    int fd = durable_open_append(path, O_RDWR, NULL, msg, msg_size);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    uint64_t len = (uint64_t)st.st_size;
    ledger_verify_result v;
    ledger_mark mark;
    char note[300];
    int rc = ledger_mark_read(path, &mark, note, sizeof note);
    bool from_mark = rc == 0 && mark_agrees(fd, &st, &mark, &v, note, sizeof note);
    if (!from_mark)
        result_start(&v);
    uint64_t last_start = from_mark ? mark.start : 0;
    rc = verify_stream(fd, path, len, &v, &last_start, NULL, NULL, msg, msg_size);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    rc = settle_tail(fd, path, len, &v, torn, msg, msg_size);
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
    l->last_len = v.good_bytes - last_start;
    l->dev = (uint64_t)st.st_dev;
    l->ino = (uint64_t)st.st_ino;
    l->verified_from = from_mark ? mark.seq + 1 : 1;
    l->mark_end = from_mark ? mark.end : 0;
    snprintf(l->start_note, sizeof l->start_note, "%s",
             from_mark ? "verified from the mark" : note);
    memcpy(l->head_hash, v.head_hash, sizeof l->head_hash);
    /* What was verified is made durable before it is marked (a host killed before its data
     * reached the disk left it in the page cache only). */
    if (l->written_bytes != l->mark_end && fdatasync(fd) == 0)
        write_mark(l);
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

uint64_t ledger_verified_from(const ledger *l, const char **why)
{
    if (why != NULL)
        *why = l->start_note;
    return l->verified_from;
}

/* Once the batch holds PENDING_MAX, writes its leading chunks that the sealer is done with
 * (never the one being filled); waits for the sealer only when it is that far behind again.
 * Returns 0, or -EIO with `msg` (the ledger has failed, as after a failed flush). */
static int write_ahead(ledger *l, char *msg, size_t msg_size)
{
    if (l->pending_bytes < PENDING_MAX || l->first == l->last)
        return 0;
    uint64_t sealed;
    if (l->pending_bytes >= 2 * PENDING_MAX) {
        wait_sealed(l);
        sealed = l->queued; /* only this thread queues */
    } else {
        uv_mutex_lock(&l->lock);
        sealed = l->sealed;
        uv_mutex_unlock(&l->lock);
    }
    while (l->first != l->last && l->first->lines_end <= sealed) {
        chunk *c = l->first;
        int rc = durable_write_all(l->fd, c->data, c->len);
        if (rc < 0) {
            l->failed = true; /* as a failed flush: the file may hold part of a line */
            snprintf(msg, msg_size, "ledger %s: write failed: %s", l->path, strerror(-rc));
            return -EIO;
        }
        l->ahead_bytes += c->len;
        l->pending_bytes -= c->len;
        l->first = c->next;
        retire_chunk(l, c);
    }
    return 0;
}

/* ---- append and flush ------------------------------------------------------------------- */

/* ,"key":"value" — the key (`key_len` bytes) and its punctuation in one reserve: this runs six
 * times for every record. */
static int append_string_field(strbuf *b, const char *key, size_t key_len, const char *value,
                               char *msg, size_t msg_size)
{
    if (value == NULL) {
        snprintf(msg, msg_size, "%s: missing", key);
        return -EINVAL;
    }
    int rc = strbuf_reserve(b, key_len + 4);
    if (rc == 0) {
        char *at = b->data + b->len;
        at[0] = ',';
        at[1] = '"';
        memcpy(at + 2, key, key_len);
        at[key_len + 2] = '"';
        at[key_len + 3] = ':';
        b->len += key_len + 4;
        rc = json_text_append_string(b, value, strlen(value));
    }
    if (rc == -EINVAL)
        snprintf(msg, msg_size, "%s: not valid UTF-8", key);
    else if (rc < 0)
        snprintf(msg, msg_size, "%s: out of memory", key);
    return rc;
}

#define STRING_FIELD(b, key, value, msg, msg_size)                                                 \
    append_string_field((b), (key), sizeof(key) - 1, (value), (msg), (msg_size))

int ledger_append(ledger *l, const ledger_record *rec, char *msg, size_t msg_size)
{
    if (l->failed) {
        snprintf(msg, msg_size, "ledger %s has failed; no more records are accepted", l->path);
        return -EIO;
    }
    int ahead_rc = write_ahead(l, msg, msg_size);
    if (ahead_rc < 0)
        return ahead_rc;
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
        rc = STRING_FIELD(b, "node_id", rec->node_id, msg, msg_size);
    if (rc == 0)
        rc = STRING_FIELD(b, "module", rec->module, msg, msg_size);
    if (rc == 0)
        rc = STRING_FIELD(b, "action", rec->action, msg, msg_size);
    if (rc == 0)
        rc = STRING_FIELD(b, "target", rec->target, msg, msg_size);
    if (rc == 0)
        rc = STRING_FIELD(b, "details", rec->details, msg, msg_size);
    if (rc == 0)
        rc = STRING_FIELD(b, "user_id", rec->user_id, msg, msg_size);
    if (rc == 0) {
        const char *meta = rec->metadata_json ? rec->metadata_json : "{}";
        size_t meta_len = rec->metadata_json ? rec->metadata_len : 2;
        if (memchr(meta, '\n', meta_len) != NULL) {
            snprintf(msg, msg_size, "metadata: must be one line of JSON");
            rc = -EINVAL;
        } else {
            /* Both hashes are the sealer's to fill in (see "the sealer"). */
            static const char zeros[LEDGER_HASH_HEX_LEN + 1] =
                "0000000000000000000000000000000000000000000000000000000000000000";
            static const char meta_key[] = ",\"metadata\":", prev_key[] = ",\"prev_hash\":\"";
            size_t tail = sizeof meta_key - 1 + meta_len + sizeof prev_key - 1 +
                          LEDGER_HASH_HEX_LEN + 1 + HASH_KEY_LEN + LEDGER_HASH_HEX_LEN + 3;
            rc = strbuf_reserve(b, tail);
            if (rc < 0) {
                snprintf(msg, msg_size, "out of memory");
            } else {
                char *at = b->data + b->len;
                memcpy(at, meta_key, sizeof meta_key - 1);
                at += sizeof meta_key - 1;
                memcpy(at, meta, meta_len);
                at += meta_len;
                memcpy(at, prev_key, sizeof prev_key - 1);
                at += sizeof prev_key - 1;
                memcpy(at, zeros, LEDGER_HASH_HEX_LEN);
                at += LEDGER_HASH_HEX_LEN;
                *at++ = '"';
                memcpy(at, HASH_KEY, HASH_KEY_LEN);
                at += HASH_KEY_LEN;
                memcpy(at, zeros, LEDGER_HASH_HEX_LEN);
                at += LEDGER_HASH_HEX_LEN;
                memcpy(at, "\"}\n", 3);
                b->len += tail;
                b->data[b->len] = '\0';
            }
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
    l->last->lines_end = l->queued; /* room is in the last chunk */
    l->last_len = b->len;
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
    l->written_bytes += l->ahead_bytes + l->pending_bytes;
    l->ahead_bytes = 0;
    l->written_records = l->next_seq - 1;
    drop_chunks(l);
    /* Now and then, not per batch: a mark costs two syncs, and a restart verifies at most
     * MARK_EVERY bytes more for it. */
    if (l->written_bytes - l->mark_end >= MARK_EVERY)
        write_mark(l);
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
     * end, which is where a store's position usually is. Read backwards in blocks. */
    char block[64 * 1024];
    uint64_t block_at = l->written_bytes, end = l->written_bytes - 1; /* last record's newline */
    size_t block_len = 0;
    int rc = 0;
    for (uint64_t n = l->written_records; n > seq && rc == 0; n--) {
        for (;;) { /* the newline before `end`, or 0 when there is none */
            if (end > block_at) {
                uint64_t upto = end < block_at + block_len ? end : block_at + block_len;
                const char *nl = memrchr(block, '\n', (size_t)(upto - block_at));
                if (nl != NULL) {
                    end = block_at + (uint64_t)(nl - block);
                    break;
                }
            }
            if (block_at == 0) {
                end = 0;
                break;
            }
            uint64_t to = end < block_at ? end : block_at;
            block_at = to > sizeof block ? to - sizeof block : 0;
            block_len = (size_t)(to - block_at);
            if ((rc = read_at(l->fd, block, block_len, block_at)) < 0)
                break;
        }
    }
    char tail[LEDGER_HASH_HEX_LEN + 2];
    if (rc == 0 && end >= HASH_SUFFIX_LEN)
        rc = read_at(l->fd, tail, sizeof tail, end - sizeof tail);
    if (rc < 0) {
        snprintf(msg, msg_size, "ledger %s: cannot read: %s", l->path, strerror(-rc));
        return -EIO;
    }
    if (end < HASH_SUFFIX_LEN || !is_hash_hex(tail, LEDGER_HASH_HEX_LEN)) {
        snprintf(msg, msg_size, "ledger %s: record seq %" PRIu64 " has no hash where expected",
                 l->path, seq);
        return -EIO;
    }
    memcpy(hash, tail, LEDGER_HASH_HEX_LEN);
    hash[LEDGER_HASH_HEX_LEN] = '\0';
    return 0;
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
