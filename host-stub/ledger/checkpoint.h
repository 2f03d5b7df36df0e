/*
 * checkpoint.h — signed checkpoints of the ledger: the node's key signs "the chain had this
 * head hash at this seq", so a chain rewritten behind a checkpoint, or cut short of one, is
 * found by anyone holding the node's public key (FORMATS.md §Checkpoints; README "Signing").
 *
 * A checkpoint is one JSON object, the same text in three places: the metadata of a
 * `ledger.checkpoint` ledger record (at seq S+1, right after the seq S it covers), the data of
 * a `ledger.checkpoint` output event, and a line of the append-only checkpoints file
 * "<ledger>.checkpoints":
 *   {"node_id":..., "seq":S, "head_hash":H, "time":T, "key_id":K, "statement":..., "minisig":...}
 * `statement` is the signed claim, compact JSON on one line:
 *   {"type":"smart-ledger-checkpoint","node_id":...,"seq":S,"head_hash":H,"time":T}
 * `minisig` is a stock minisign signature (prehashed) of the statement followed by "\n", with
 * the statement as its trusted comment: `minisign -V -p node.pub -m STATEMENT_FILE -x
 * MINISIG_FILE` verifies it with no code of ours, and prints the claim.
 *
 * The checkpointer runs on the loop thread only; it holds the node's secret key (wiped on
 * close). The checks (checkpoint_check) are pure and thread-safe.
 */
#ifndef SMART_HOST_CHECKPOINT_H
#define SMART_HOST_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "minisign.h"

#define CHECKPOINT_ACTION "ledger.checkpoint"
#define CHECKPOINT_TYPE   "smart-ledger-checkpoint"

typedef struct checkpointer checkpointer;

/* Read the secret key at `key_path` and open (creating it) the checkpoints file beside
 * `ledger_path`, cutting off a torn last line (a crash while writing it: its ledger record holds
 * the checkpoint). `now_ms` starts the interval; `l` is the open ledger. All strings are
 * borrowed (copied). Returns 0 and *out (owned; checkpointer_close), or a negative errno with
 * `msg` (caller-owned) naming the file and why (-EINVAL: a bad or exposed key). */
int checkpointer_open(const char *key_path, const char *node_id, const char *ledger_path,
                      int64_t interval_ms, int64_t now_ms, const ledger *l, checkpointer **out,
                      char *msg, size_t msg_size);

/* Sign at the next checkpointer_prepare, due or not (shutdown, a ledger.checkpoint event). */
void checkpointer_request(checkpointer *c);

/* At the end of a batch, before the ledger's flush: when a checkpoint is requested, or
 * `interval_ms` has passed since the last one and records were appended since, sign the
 * ledger's head and return 1 with the checkpoint's JSON text in *entry (owned by `c`, valid
 * until the next call; *len its length): the caller appends it as the ledger.checkpoint record
 * and output. Returns 0 when none is due, or -ENOMEM/-EINVAL with `msg`. */
int checkpointer_prepare(checkpointer *c, ledger *l, int64_t now_ms, const char **entry,
                         size_t *len, char *msg, size_t msg_size);

/* After the ledger's flush succeeded: append the prepared checkpoint to the checkpoints file and
 * fdatasync it (after, so the file never names a seq the ledger on disk lacks). Returns 0 (also
 * when nothing was prepared) or a negative errno with `msg`; the caller must fail-stop. */
int checkpointer_commit(checkpointer *c, char *msg, size_t msg_size);

/* The checkpoints file's path (owned by `c`). */
const char *checkpointer_file(const checkpointer *c);

/* Wipe the key, close the file, free. NULL is ignored. */
void checkpointer_close(checkpointer *c);

/* Write a new key pair into `dir` (created, mode 0700, when missing): "node.key" (mode 0600,
 * minisign's unencrypted secret key format) and "node.pub" (minisign's public key format).
 * Neither may exist already. Returns 0 with the key id in `key_id`, or a negative errno with
 * `msg`. */
int checkpoint_keygen(const char *dir, char key_id[MSIG_KEY_ID_TEXT_LEN + 1], char *msg,
                      size_t msg_size);

/* What one checkpoint claims. */
typedef struct checkpoint_claim {
    char node_id[256];
    uint64_t seq;
    char head_hash[LEDGER_HASH_HEX_LEN + 1];
    char time[40];
    char key_id[MSIG_KEY_ID_TEXT_LEN + 1];
    uint8_t sig[MSIG_SIGNATURE_BYTES]; /* tells two checkpoints apart */
} checkpoint_claim;

/* Check one checkpoint's JSON text (`len` bytes): its fields, its statement, that the minisig
 * verifies with `key` over the statement and carries it as its trusted comment, and that the
 * plain fields say what the statement says. Returns 0 with *claim filled, or -EINVAL with the
 * reason in `why` (caller-owned): "signed with key X, not key Y", "signature does not
 * verify...", "statement: ...". */
int checkpoint_check(const char *entry, size_t len, const msig_public_key *key,
                     checkpoint_claim *claim, char *why, size_t why_size);

#endif /* SMART_HOST_CHECKPOINT_H */
