/*
 * ledger_audit.h — `smart-host ledger verify LEDGER --key PUB [--checkpoints FILE]`: the chain,
 * then every signed checkpoint (checkpoint.h) against it, in the ledger and in an exported
 * checkpoints file. Says how much of the chain is anchored by a signature, or names the seq
 * where it is not.
 *
 * What is checked, in order (the first failure is reported):
 *   1. the hash chain (ledger_verify_buffer): a record changed without re-hashing;
 *   2. each ledger.checkpoint record at seq N: its signature with the key; that it covers N-1
 *      (else it is replayed from elsewhere); that record N-1's hash is its signed head hash
 *      (else the chain was rewritten behind it and re-hashed);
 *   3. each line of FILE: its signature; that its seq is after the line before (else
 *      replayed); that the ledger reaches its seq (else the tail was cut off, or the ledger
 *      replaced by an older copy); that the record at its seq has its head hash (else
 *      rewritten); that its own ledger.checkpoint record is in the ledger (else removed).
 * Pure: reads the two files, writes nothing. One streaming pass over the ledger, each record
 * checked by a field scan (ledger_verify_file_each); only a checkpoint record is parsed whole.
 * Memory is bounded by the checkpoints (the file's lines, the ledger's checkpoint records), not
 * by the ledger's length.
 */
#ifndef SMART_HOST_LEDGER_AUDIT_H
#define SMART_HOST_LEDGER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minisign.h"

typedef struct ledger_audit_result {
    bool ok;
    uint64_t records;          /* intact records (all of them when ok) */
    uint64_t checkpoints;      /* checkpoint records verified in the ledger */
    uint64_t file_checkpoints; /* lines of the checkpoints file verified */
    uint64_t last_signed_seq;  /* the newest seq a verified checkpoint covers; 0: none */
    uint64_t unsigned_after;   /* records after it, its own checkpoint record not counted */
    char head_hash[65];        /* the hash of the last intact record (64 '0' when none) */
    /* Only when !ok: */
    uint64_t bad_seq;  /* the seq the failure is about */
    bool chain_broken; /* step 1 failed: `why` is ledger_describe_failure's message */
    char why[900];     /* the reason, naming the record, the checkpoint and the file line */
} ledger_audit_result;

/* Audit the ledger at `ledger_path` with `key` (NULL: the chain only) and, when
 * `checkpoints_path` is not NULL, that checkpoints file. Returns 0 with *result filled
 * (result->ok says whether it holds; a ledger with no checkpoint signed by `key` does not),
 * or a negative errno when a file cannot be read, with `msg` (caller-owned). */
int ledger_audit(const char *ledger_path, const msig_public_key *key, const char *checkpoints_path,
                 ledger_audit_result *result, char *msg, size_t msg_size);

#endif /* SMART_HOST_LEDGER_AUDIT_H */
