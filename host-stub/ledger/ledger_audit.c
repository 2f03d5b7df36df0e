/* ledger_audit.c — the chain and its signed checkpoints; see ledger_audit.h. */
#include "ledger/ledger_audit.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/checkpoint.h"
#include "ledger/ledger.h"

/* A checkpoint record found in the ledger: what it covers, and its signature. */
typedef struct seen_checkpoint {
    uint64_t covers;
    uint8_t sig[MSIG_SIGNATURE_BYTES];
} seen_checkpoint;

/* The lines of the exported checkpoints file, checked before the ledger is walked (the file is
 * small: a line per signed checkpoint), so that the walk keeps only the hashes they name. */
typedef struct file_line {
    bool newline; /* the line ends with one */
    int rc;       /* checkpoint_check's */
    json_int_t plain_seq;
    checkpoint_claim claim;
    char why[400];
} file_line;

/* The hash of a record a line of the checkpoints file names, found during the walk. */
typedef struct wanted_hash {
    uint64_t seq;
    bool found;
    char hash[LEDGER_HASH_HEX_LEN + 1];
} wanted_hash;

/* The audit's state: bounded by the checkpoints, not by the records (the chain is walked once,
 * streaming; only the previous record's hash and the hashes the checkpoints file names are
 * kept). */
typedef struct audit {
    const msig_public_key *key;
    char prev_hash[LEDGER_HASH_HEX_LEN + 1]; /* the hash of the record before the visited one */
    uint64_t count;
    seen_checkpoint *seen; /* in seq order */
    size_t seen_count, seen_cap;
    wanted_hash *wanted; /* sorted by seq, no seq twice */
    size_t wanted_count;
    file_line *lines;
    size_t line_count;
    ledger_audit_result *r;
} audit;

/* Record a failure. Every check runs, and the one about the earliest seq is reported (the first
 * found among equals): a removed checkpoint record also makes the later ones look misplaced, but
 * what was done is at the earliest. */
__attribute__((format(printf, 3, 4))) static void bad(audit *a, uint64_t seq, const char *fmt, ...)
{
    if (!a->r->ok && seq >= a->r->bad_seq)
        return;
    a->r->ok = false;
    a->r->bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->r->why, sizeof a->r->why, fmt, ap);
    va_end(ap);
}

static int read_whole(const char *path, const char *what, char **out, size_t *len, char *msg,
                      size_t msg_size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int rc = -errno;
        snprintf(msg, msg_size, "%s %s: cannot open: %s", what, path, strerror(errno));
        return rc;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(buf, cap + 1);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                snprintf(msg, msg_size, "%s %s: out of memory", what, path);
                return -ENOMEM;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        snprintf(msg, msg_size, "%s %s: read failed", what, path);
        return -EIO;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Step 2 for one ledger.checkpoint record (seq `seq`, its metadata `meta`). */
static void check_record(audit *a, uint64_t seq, const char *node_id, json_t *meta,
                         const msig_public_key *key)
{
    char *text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    checkpoint_claim claim;
    char why[400];
    json_int_t plain_seq = json_integer_value(json_object_get(meta, "seq"));
    int rc = text ? checkpoint_check(text, strlen(text), key, &claim, why, sizeof why) : -ENOMEM;
    free(text);
    if (rc < 0) {
        bad(a, plain_seq > 0 ? (uint64_t)plain_seq : seq,
            "checkpoint of seq %lld (record %" PRIu64 "): %s", (long long)plain_seq, seq,
            rc == -ENOMEM ? "out of memory" : why);
        return;
    }
    if (strcmp(claim.node_id, node_id) != 0) {
        bad(a, seq, "record %" PRIu64 ": a checkpoint of another node (%s), replayed", seq,
            claim.node_id);
        return;
    }
    /* A checkpoint's record comes right after the seq it covers. */
    if (claim.seq + 1 > seq) {
        bad(a, claim.seq,
            "checkpoint of seq %" PRIu64 " sits at record %" PRIu64
            ": records were removed before it",
            claim.seq, seq);
        return;
    }
    if (claim.seq + 1 < seq) {
        bad(a, seq,
            "record %" PRIu64 ": a replayed checkpoint: it covers seq %" PRIu64
            ", not the record before it",
            seq, claim.seq);
        return;
    }
    /* claim.seq + 1 == seq: the record it covers is the one before. */
    if (strcmp(a->prev_hash, claim.head_hash) != 0) {
        bad(a, claim.seq,
            "checkpoint of seq %" PRIu64 " (record %" PRIu64
            "): the chain was rewritten behind it: record %" PRIu64
            "'s hash is %s, the signed head hash %s",
            claim.seq, seq, claim.seq, a->prev_hash, claim.head_hash);
        return;
    }
    if (a->seen_count == a->seen_cap) {
        size_t cap = a->seen_cap ? 2 * a->seen_cap : 64;
        seen_checkpoint *grown = realloc(a->seen, cap * sizeof *grown);
        if (grown == NULL) {
            bad(a, seq, "record %" PRIu64 ": out of memory", seq);
            return;
        }
        a->seen = grown;
        a->seen_cap = cap;
    }
    a->seen[a->seen_count].covers = claim.seq;
    memcpy(a->seen[a->seen_count].sig, claim.sig, sizeof claim.sig);
    a->seen_count++;
    a->r->checkpoints++;
    if (claim.seq > a->r->last_signed_seq)
        a->r->last_signed_seq = claim.seq;
}

static int compare_wanted(const void *x, const void *y)
{
    uint64_t a = ((const wanted_hash *)x)->seq, b = ((const wanted_hash *)y)->seq;
    return (a > b) - (a < b);
}

static wanted_hash *find_wanted(const audit *a, uint64_t seq)
{
    size_t lo = 0, hi = a->wanted_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->wanted[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->wanted_count && a->wanted[lo].seq == seq ? &a->wanted[lo] : NULL;
}

/* Steps 1 and 2, for each record as the chain is verified (ledger_verify_file_each): keep its
 * hash where the checkpoints file names it, and check a checkpoint record. Only a checkpoint
 * record is parsed as a whole (its metadata is the signed entry); the others are known by the
 * field scan's module and action. */
static int visit_record(void *ctx, const ledger_visited *rec)
{
    audit *a = ctx;
    wanted_hash *w = a->wanted_count ? find_wanted(a, rec->seq) : NULL;
    if (w != NULL) {
        memcpy(w->hash, rec->hash, LEDGER_HASH_HEX_LEN + 1);
        w->found = true;
    }
    if (a->key != NULL && strcmp(rec->module, "smart-host") == 0 &&
        strcmp(rec->action, CHECKPOINT_ACTION) == 0) {
        json_t *doc = json_loadb(rec->line, rec->len, 0, NULL);
        const char *node_id = json_string_value(json_object_get(doc, "node_id"));
        if (doc == NULL)
            return -ENOMEM; /* the line was verified as JSON: only memory can fail here */
        if (node_id != NULL)
            check_record(a, rec->seq, node_id, json_object_get(doc, "metadata"), a->key);
        json_decref(doc);
    }
    memcpy(a->prev_hash, rec->hash, LEDGER_HASH_HEX_LEN + 1);
    return 0;
}

/* Step 3's first half, before the walk: each line of the checkpoints file checked on its own
 * (its signature), and the seqs it names collected. Returns 0 or -ENOMEM. */
static int read_file_lines(audit *a, const char *data, size_t len, const msig_public_key *key)
{
    size_t lines = 0;
    for (const char *p = data; p < data + len; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(data + len - p));
        p = nl ? nl + 1 : data + len;
    }
    a->lines = calloc(lines ? lines : 1, sizeof *a->lines);
    a->wanted = calloc(lines ? lines : 1, sizeof *a->wanted);
    if (a->lines == NULL || a->wanted == NULL)
        return -ENOMEM;
    const char *p = data, *end = data + len;
    for (; p < end; a->line_count++) {
        file_line *fl = &a->lines[a->line_count];
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *text = p;
        p = nl ? nl + 1 : end;
        fl->newline = nl != NULL;
        if (!fl->newline)
            continue;
        json_t *plain = json_loadb(text, n, 0, NULL);
        fl->plain_seq = json_integer_value(json_object_get(plain, "seq"));
        json_decref(plain);
        fl->rc = checkpoint_check(text, n, key, &fl->claim, fl->why, sizeof fl->why);
        if (fl->rc == 0)
            a->wanted[a->wanted_count++].seq = fl->claim.seq;
    }
    qsort(a->wanted, a->wanted_count, sizeof *a->wanted, compare_wanted);
    size_t kept = 0;
    for (size_t i = 0; i < a->wanted_count; i++)
        if (kept == 0 || a->wanted[kept - 1].seq != a->wanted[i].seq)
            a->wanted[kept++] = a->wanted[i];
    a->wanted_count = kept;
    return 0;
}

static const seen_checkpoint *find_seen(const audit *a, uint64_t covers)
{
    size_t lo = 0, hi = a->seen_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->seen[mid].covers < covers)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->seen_count && a->seen[lo].covers == covers ? &a->seen[lo] : NULL;
}

/* Step 3: the exported checkpoints file, its lines read before the walk, against the ledger. */
static void walk_file(audit *a, const char *path)
{
    uint64_t previous = 0;
    for (size_t i = 0; i < a->line_count; i++) {
        const file_line *fl = &a->lines[i];
        uint64_t line = i + 1;
        if (!fl->newline) {
            bad(a, previous, "checkpoints %s line %" PRIu64 ": no newline (an interrupted write?)",
                path, line);
            continue;
        }
        const checkpoint_claim *claim = &fl->claim;
        if (fl->rc < 0) {
            bad(a, fl->plain_seq > 0 ? (uint64_t)fl->plain_seq : 0,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %lld: %s", path, line,
                (long long)fl->plain_seq, fl->why);
            continue;
        }
        uint64_t s = claim->seq;
        if (s <= previous) {
            bad(a, s,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %" PRIu64
                " is not after the line before's seq %" PRIu64 " (replayed)",
                path, line, s, previous);
            continue;
        }
        previous = s;
        const wanted_hash *w = find_wanted(a, s);
        if (s > a->count || w == NULL || !w->found) {
            bad(a, s,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %" PRIu64
                ": the ledger ends at seq %" PRIu64
                " before it (its tail was cut off, or it was replaced by an older copy)",
                path, line, s, a->count);
            continue;
        }
        if (strcmp(w->hash, claim->head_hash) != 0) {
            bad(a, s,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %" PRIu64
                ": the chain was rewritten behind it: record %" PRIu64
                "'s hash is %s, the signed head hash %s",
                path, line, s, s, w->hash, claim->head_hash);
            continue;
        }
        const seen_checkpoint *seen = find_seen(a, s);
        if (seen == NULL || memcmp(seen->sig, claim->sig, sizeof claim->sig) != 0) {
            bad(a, s,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %" PRIu64
                ": its ledger.checkpoint record (seq %" PRIu64 ") is not in the ledger%s",
                path, line, s, s + 1,
                s + 1 > a->count ? " (the ledger ends before it: its tail was cut off)"
                                 : " (removed)");
            continue;
        }
        a->r->file_checkpoints++;
    }
}

int ledger_audit(const char *ledger_path, const msig_public_key *key, const char *checkpoints_path,
                 ledger_audit_result *r, char *msg, size_t msg_size)
{
    memset(r, 0, sizeof *r);
    r->ok = true;
    char *cp = NULL;
    size_t cp_len = 0;
    int rc = 0;
    /* The checks of steps 2 and 3 go into `found`: they count only when the chain holds. */
    ledger_audit_result found = {.ok = true};
    audit a = {.key = key, .r = &found};
    memset(a.prev_hash, '0', LEDGER_HASH_HEX_LEN);
    if (checkpoints_path != NULL && key != NULL) {
        rc = read_whole(checkpoints_path, "checkpoints", &cp, &cp_len, msg, msg_size);
        if (rc == 0 && read_file_lines(&a, cp, cp_len, key) < 0) {
            snprintf(msg, msg_size, "checkpoints %s: out of memory", checkpoints_path);
            rc = -ENOMEM;
        }
    }
    ledger_verify_result chain;
    if (rc == 0) {
        rc = ledger_verify_file_each(ledger_path, &chain, visit_record, &a, msg, msg_size);
        if (rc == -ENOMEM)
            snprintf(msg, msg_size, "ledger %s: out of memory", ledger_path);
        else if (rc < 0 && strncmp(msg, ledger_path, strlen(ledger_path)) == 0) {
            char text[700];
            snprintf(text, sizeof text, "ledger %s", msg); /* "ledger PATH: cannot ..." */
            snprintf(msg, msg_size, "%s", text);
        }
    }
    if (rc == 0) {
        r->records = chain.records;
        memcpy(r->head_hash, chain.head_hash, sizeof r->head_hash);
        if (!chain.ok) {
            char text[700];
            ledger_describe_failure(ledger_path, &chain, text, sizeof text);
            audit broken = {.r = r};
            bad(&broken, chain.bad_seq, "%s", text);
            r->chain_broken = true;
        } else {
            a.count = chain.records;
            if (checkpoints_path != NULL && key != NULL)
                walk_file(&a, checkpoints_path);
            r->ok = found.ok;
            r->bad_seq = found.bad_seq;
            memcpy(r->why, found.why, sizeof r->why);
            r->checkpoints = found.checkpoints;
            r->file_checkpoints = found.file_checkpoints;
            r->last_signed_seq = found.last_signed_seq;
            a.r = r;
        }
    }
    if (rc == 0 && r->ok && key != NULL && r->last_signed_seq == 0) {
        char id[MSIG_KEY_ID_TEXT_LEN + 1];
        msig_key_id_text(key->key_id, id);
        bad(&a, 0, "no checkpoint signed with key %s in the ledger: the chain is unanchored", id);
    }
    if (rc == 0 && r->ok && r->last_signed_seq > 0) {
        uint64_t after = r->records - r->last_signed_seq;
        /* The newest checkpoint's own record carries the signature, not a claim of its own. */
        if (after > 0 && find_seen(&a, r->last_signed_seq) != NULL)
            after--;
        r->unsigned_after = after;
    }
    free(a.seen);
    free(a.wanted);
    free(a.lines);
    free(cp);
    return rc;
}
