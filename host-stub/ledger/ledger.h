/*
 * ledger.h — the node's SMART-Ledger: an append-only, hash-chained JSON-lines file.
 *
 * Format (schemas/ledger-record.schema.json): one JSON object a line with the fields
 *   seq, time, node_id, module, action, target, details, user_id, metadata, prev_hash, hash
 * in exactly that order; hash is the lowercase hex SHA-256 of the line's bytes from `{` up to
 * and including the closing quote of prev_hash's value; genesis prev_hash is 64 '0'.
 *
 * Records are appended to an in-memory batch and become durable with ledger_flush (one
 * fdatasync). A batch holds at most a few MiB of lines in memory: beyond that its first lines
 * are written ahead as they are appended, unsynced (the ledger may always be ahead of the
 * stores; until the flush they are as a crash before the flush leaves them), so that one event
 * with 100,000 records costs no more memory than a small batch. ledger_open verifies the existing
 * chain with the same line check that `smart-host ledger verify` uses, moves a torn last line (one
 * without its newline) aside, and refuses a chain broken anywhere else, a complete last line that
 * fails verification included. Not thread-safe: one ledger is used from the loop thread only (it
 * hashes the records on a thread of its own meanwhile; see ledger.c, "the sealer").
 *
 * Verification streams: the file is read in blocks (read(2), never mapped whole) and each line
 * is checked by a field scan (yajl, no tree per record), so memory is one block and the longest
 * line whatever the ledger's length.
 *
 * Start-up cost does not grow with history. ledger_open keeps where the chain was last verified
 * in a side file, "<path>.verified" (ledger_mark.h: seq, the record's byte range, its hash, the
 * file's identity), written durably after a verification at open and again after each
 * MARK_EVERY bytes flushed, and at the next open verifies only what follows it. The mark is
 * never taken on trust: it is used only when it names this very file (st_dev, st_ino: a ledger
 * replaced or restored from a copy is verified from the start), a range inside it that is
 * exactly one line, and that line is an intact record (its hash matches its bytes) with the
 * mark's seq and hash; anything else, a missing or unreadable mark included, means a
 * verification from the first record, with the result it always had.
 * Why that is safe: the mark decides only where checking starts, never what the chain is — the
 * head the ledger continues from is the last record read from the file itself, and every record
 * after the mark is verified as before (a torn last line moved aside, a changed one refused). So
 * whoever rewrites the side file can make a start slower (point it earlier, or at nothing) but
 * cannot make a broken chain after the mark pass, nor make the host continue another chain than
 * the file's. What a start no longer sees is a record changed in place *before* a true mark:
 * finding that needs reading the whole history, which is what `smart-host ledger verify` does
 * (ledger_verify_file, every record). Someone able to write the ledger could re-hash the chain
 * after a change anyway, which no start-up check catches; what does is the store's witness of
 * its committed position (README "The ledger's end is witnessed"), checked at every start as
 * before through ledger_hash_at, which reads the file itself, not the mark.
 */
#ifndef SMART_HOST_LEDGER_H
#define SMART_HOST_LEDGER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ledger_open's result when the chain is broken before its last line (exit status 3). */
#define LEDGER_EBROKEN (-2001)

#define LEDGER_HASH_HEX_LEN 64

/* What verification found. Filled completely by ledger_verify_buffer. */
typedef struct ledger_verify_result {
    bool ok;                                 /* every line is an intact, chained record */
    uint64_t records;                        /* intact records before the first bad one */
    uint64_t good_bytes;                     /* length of the intact prefix, in bytes */
    char head_hash[LEDGER_HASH_HEX_LEN + 1]; /* hash of the last intact record, or 64 '0' */
    /* Only when !ok: */
    uint64_t bad_seq;  /* the bad record's own seq when readable, else the expected seq */
    uint64_t bad_line; /* 1-based line number of the bad record */
    char why[200];     /* "hash mismatch", "seq is 7, expected 6", ... */
    bool bad_is_last;  /* the bad record is the file's last line */
    bool bad_is_torn;  /* it looks like an interrupted write: no newline, not JSON, or a hash
                          that does not match its own bytes */
} ledger_verify_result;

/* Verify the ledger text `data` (`len` bytes, borrowed) and describe it in *result. Never
 * fails; stops at the first bad record. */
void ledger_verify_buffer(const char *data, size_t len, ledger_verify_result *result);

/* ledger_verify_buffer with each record read by yajl's scan alone: verification first tries
 * simdjson's check of a record (json_fast_record), and the scan decides what it does not take,
 * so the two must give the same result for any bytes (tests/fuzz/fuzz_ledger.c compares them). */
void ledger_verify_buffer_scan_only(const char *data, size_t len, ledger_verify_result *result);

/* Verify the ledger file at `path` (borrowed). Returns 0 with *result filled (result->ok says
 * whether the chain is intact), or a negative errno when the file cannot be read, with the
 * reason in `msg` (caller-owned, `msg_size` bytes). */
int ledger_verify_file(const char *path, ledger_verify_result *result, char *msg, size_t msg_size);

/* An intact record as ledger_verify_file_each verified it; everything is borrowed for the call.
 * `line` is the record's line without its newline; `module` and `action` are its values
 * ("" when longer than LEDGER_NAME_SCAN_MAX - 1 bytes). */
#define LEDGER_NAME_SCAN_MAX 48
typedef struct ledger_visited {
    uint64_t seq;
    const char *line;
    size_t len;
    const char *hash; /* 64 hex digits */
    const char *module, *action;
} ledger_visited;

/* Called for each intact record in order; returns 0, or a negative errno (-ENOMEM) that stops
 * the walk and is returned with `msg` set by the caller of ledger_verify_file_each. */
typedef int (*ledger_visit)(void *ctx, const ledger_visited *record);

/* ledger_verify_file, calling `visit` (may be NULL) with `ctx` for each intact record as it is
 * verified: one streaming pass in bounded memory (a block and the longest line). Returns 0 with
 * *result filled, a negative errno when the file cannot be read (`msg` says why), or the first
 * non-zero return of `visit` (the walk stops there; `msg` is then left to the visitor). */
int ledger_verify_file_each(const char *path, ledger_verify_result *result, ledger_visit visit,
                            void *ctx, char *msg, size_t msg_size);

/* Write "ledger PATH: record seq N (line L): why" for a failed result into `out`
 * (caller-owned). */
void ledger_describe_failure(const char *path, const ledger_verify_result *result, char *out,
                             size_t out_size);

/* What ledger_open did about a torn last line. */
typedef struct ledger_torn_tail {
    bool found;
    uint64_t seq;            /* the seq the torn record would have had */
    uint64_t line;           /* its line number */
    uint64_t bytes;          /* how many bytes were moved aside */
    char why[200];           /* why it was judged torn */
    char moved_to[PATH_MAX]; /* the file now holding those bytes: "<ledger>.torn-<seq>" */
} ledger_torn_tail;

/* One record to append. Strings are borrowed for the call and must be valid UTF-8.
 * `metadata_json` is single-line JSON object text already checked by the caller (NULL: {}). */
typedef struct ledger_record {
    int64_t time_ms;
    const char *node_id;
    const char *module;
    const char *action;
    const char *target;
    const char *details;
    const char *user_id;
    const char *metadata_json;
    size_t metadata_len;
} ledger_record;

typedef struct ledger ledger;

/* Open (creating it and its directory when missing) the ledger at `path` (borrowed; copied),
 * verify its chain (the records after its mark when the mark agrees with the file, else every
 * record; see above; the mark is then moved to the end verified, a failure to write it only
 * costing the next start time) and prepare to continue it. A torn last line (bad, and without its
 * newline: an interrupted write) is moved aside to
 * "<path>.torn-<seq>" (synced), the file truncated to its intact prefix (synced), and *torn
 * (may not be NULL) describes it so the caller can record ledger.torn_tail and warn.
 * Returns 0 and a ledger in *out (owned by the caller; ledger_close frees it),
 * LEDGER_EBROKEN when any complete line is bad (the last one too), or a negative errno on an I/O
 * error; on failure *out is NULL and `msg` (caller-owned) says why, naming the path. */
int ledger_open(const char *path, ledger **out, ledger_torn_tail *torn, char *msg, size_t msg_size);

/* Add a record to the current batch: seq, prev_hash and hash are assigned here. Not durable
 * until ledger_flush (it may be written before, see above). Returns 0, -EINVAL (a string is NULL,
 * not UTF-8, or metadata holds a line break; `msg` names the field), -ENOMEM, or -EIO once the
 * ledger has failed (a write ahead that fails fails it, as a failed flush does). On failure
 * nothing is added. */
int ledger_append(ledger *l, const ledger_record *record, char *msg, size_t msg_size);

/* Write what the batch has not written ahead, and fdatasync. Returns 0 (also when the batch is
 * empty) or -EIO with `msg` saying what failed; after a failure the ledger refuses every later
 * append and flush (fail-stop: a failed sync is never retried). */
int ledger_flush(ledger *l, char *msg, size_t msg_size);

/* Drop the records appended since the last flush without writing what is not written yet
 * (used on fail-stop; those written ahead stay in the file, unsynced, as after a crash). The
 * in-memory chain head then no longer matches the file, so the ledger is marked failed. */
void ledger_abandon(ledger *l);

/* Number of records in the chain, including any not yet flushed. */
uint64_t ledger_record_count(const ledger *l);

/* Hash of the newest record (64 hex digits, or 64 '0' when empty); owned by the ledger, valid
 * until the next append or close. Waits for the records appended so far to be sealed. */
const char *ledger_head_hash(ledger *l);

/* The hash of record `seq` as written in the file (records appended since the last flush are
 * not looked at), into `hash`; *last_seq (may be NULL) gets the seq of the last record in the
 * file. Returns 0, -ERANGE when the file ends before `seq`, -EINVAL for seq 0, or -EIO when the
 * file cannot be read; `msg` (caller-owned) names the ledger and why. Reads the file from its
 * end: for start-up checks, not per record. */
int ledger_hash_at(ledger *l, uint64_t seq, char hash[LEDGER_HASH_HEX_LEN + 1], uint64_t *last_seq,
                   char *msg, size_t msg_size);

/* The first record ledger_open verified: 1 when it verified the whole chain, N + 1 when it
 * went on from a mark at record N (ledger_mark.h); *why (may be NULL; owned by the ledger,
 * valid until close) gets why it started there ("verified from the mark", or why the mark was
 * not used). For tests and diagnostics. */
uint64_t ledger_verified_from(const ledger *l, const char **why);

/* Whether the ledger has failed (no more appends are accepted). */
bool ledger_failed(const ledger *l);

/* Close the file and free the ledger; unflushed records are dropped. NULL is ignored. */
void ledger_close(ledger *l);

#endif /* SMART_HOST_LEDGER_H */
