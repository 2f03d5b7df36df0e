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

typedef struct audit {
    char (*hashes)[LEDGER_HASH_HEX_LEN + 1]; /* hashes[seq - 1] */
    uint64_t count;
    seen_checkpoint *seen; /* in seq order */
    size_t seen_count;
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
    if (strcmp(a->hashes[claim.seq - 1], claim.head_hash) != 0) {
        bad(a, claim.seq,
            "checkpoint of seq %" PRIu64 " (record %" PRIu64
            "): the chain was rewritten behind it: record %" PRIu64
            "'s hash is %s, the signed head hash %s",
            claim.seq, seq, claim.seq, a->hashes[claim.seq - 1], claim.head_hash);
        return;
    }
    a->seen[a->seen_count].covers = claim.seq;
    memcpy(a->seen[a->seen_count].sig, claim.sig, sizeof claim.sig);
    a->seen_count++;
    a->r->checkpoints++;
    if (claim.seq > a->r->last_signed_seq)
        a->r->last_signed_seq = claim.seq;
}

/* Steps 1 and 2: every line of the (chain-verified) ledger. */
static int walk_ledger(audit *a, const char *data, size_t len, const msig_public_key *key)
{
    a->hashes = calloc(a->count ? a->count : 1, sizeof *a->hashes);
    a->seen = calloc(a->count ? a->count : 1, sizeof *a->seen);
    if (a->hashes == NULL || a->seen == NULL)
        return -ENOMEM;
    const char *p = data, *end = data + len;
    for (uint64_t seq = 1; seq <= a->count; seq++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_t *rec = json_loadb(p, n, 0, NULL);
        p = nl ? nl + 1 : end;
        const char *hash = json_string_value(json_object_get(rec, "hash"));
        if (hash == NULL || strlen(hash) != LEDGER_HASH_HEX_LEN) {
            json_decref(rec); /* the chain was verified: cannot happen */
            bad(a, seq, "record %" PRIu64 ": no hash", seq);
            return 0;
        }
        memcpy(a->hashes[seq - 1], hash, LEDGER_HASH_HEX_LEN + 1);
        const char *module = json_string_value(json_object_get(rec, "module"));
        const char *action = json_string_value(json_object_get(rec, "action"));
        const char *node_id = json_string_value(json_object_get(rec, "node_id"));
        if (key != NULL && module && action && node_id && strcmp(module, "smart-host") == 0 &&
            strcmp(action, CHECKPOINT_ACTION) == 0)
            check_record(a, seq, node_id, json_object_get(rec, "metadata"), key);
        json_decref(rec);
    }
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

/* Step 3: the exported checkpoints file. */
static void walk_file(audit *a, const char *path, const char *data, size_t len,
                      const msig_public_key *key)
{
    const char *p = data, *end = data + len;
    uint64_t previous = 0;
    for (uint64_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *text = p;
        p = nl ? nl + 1 : end;
        if (nl == NULL) {
            bad(a, previous, "checkpoints %s line %" PRIu64 ": no newline (an interrupted write?)",
                path, line);
            continue;
        }
        json_t *plain = json_loadb(text, n, 0, NULL);
        json_int_t plain_seq = json_integer_value(json_object_get(plain, "seq"));
        json_decref(plain);
        checkpoint_claim claim;
        char why[400];
        if (checkpoint_check(text, n, key, &claim, why, sizeof why) < 0) {
            bad(a, plain_seq > 0 ? (uint64_t)plain_seq : 0,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %lld: %s", path, line,
                (long long)plain_seq, why);
            continue;
        }
        uint64_t s = claim.seq;
        if (s <= previous) {
            bad(a, s,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %" PRIu64
                " is not after the line before's seq %" PRIu64 " (replayed)",
                path, line, s, previous);
            continue;
        }
        previous = s;
        if (s > a->count) {
            bad(a, s,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %" PRIu64
                ": the ledger ends at seq %" PRIu64
                " before it (its tail was cut off, or it was replaced by an older copy)",
                path, line, s, a->count);
            continue;
        }
        if (strcmp(a->hashes[s - 1], claim.head_hash) != 0) {
            bad(a, s,
                "checkpoints %s line %" PRIu64 ": checkpoint of seq %" PRIu64
                ": the chain was rewritten behind it: record %" PRIu64
                "'s hash is %s, the signed head hash %s",
                path, line, s, s, a->hashes[s - 1], claim.head_hash);
            continue;
        }
        const seen_checkpoint *seen = find_seen(a, s);
        if (seen == NULL || memcmp(seen->sig, claim.sig, sizeof claim.sig) != 0) {
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
    char *data = NULL, *cp = NULL;
    size_t len = 0, cp_len = 0;
    int rc = read_whole(ledger_path, "ledger", &data, &len, msg, msg_size);
    if (rc < 0)
        return rc;
    if (checkpoints_path != NULL) {
        rc = read_whole(checkpoints_path, "checkpoints", &cp, &cp_len, msg, msg_size);
        if (rc < 0) {
            free(data);
            return rc;
        }
    }
    audit a = {.r = r};
    ledger_verify_result chain;
    ledger_verify_buffer(data, len, &chain);
    r->records = chain.records;
    if (!chain.ok) {
        char text[700];
        ledger_describe_failure(ledger_path, &chain, text, sizeof text);
        bad(&a, chain.bad_seq, "%s", text);
        r->chain_broken = true;
    }
    a.count = chain.records;
    if (!r->chain_broken && walk_ledger(&a, data, len, key) < 0) {
        snprintf(msg, msg_size, "ledger %s: out of memory", ledger_path);
        rc = -ENOMEM;
    }
    if (rc == 0 && !r->chain_broken && key != NULL && checkpoints_path != NULL)
        walk_file(&a, checkpoints_path, cp, cp_len, key);
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
    free(a.hashes);
    free(a.seen);
    free(data);
    free(cp);
    return rc;
}
