/*
 * ledger_mark.h — where a ledger was last verified: the side file "<ledger>.verified".
 *
 * One JSON object: {"seq":N,"start":S,"end":E,"hash":"<64 hex>","dev":D,"ino":I} — record N is
 * the line at bytes [S, E) of the ledger file (E just past its newline), its hash is the one
 * given, and the records 1..N were verified as one chain by the process that wrote the mark;
 * dev/ino name the ledger file that was verified (a copy or a file replaced under the same name
 * is another file). It is an optimisation only: ledger_open (ledger.h) checks the mark against
 * the ledger before using it and verifies from the start whenever they disagree, so a mark that
 * is missing, unreadable or wrong costs time, never correctness of the chain it continues.
 *
 * Written durably: to "<ledger>.verified.tmp", fsync'd, renamed over the mark, its directory
 * fsync'd; a crash leaves the old mark or the new one, both true positions of an append-only
 * ledger. No global state; the functions may be called from any thread, on distinct paths.
 */
#ifndef SMART_HOST_LEDGER_MARK_H
#define SMART_HOST_LEDGER_MARK_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

typedef struct ledger_mark {
    uint64_t seq;   /* the last verified record (>= 1) */
    uint64_t start; /* its first byte in the file */
    uint64_t end;   /* one past its newline: where verification goes on */
    char hash[LEDGER_HASH_HEX_LEN + 1];
    uint64_t dev, ino; /* st_dev and st_ino of the ledger file verified */
} ledger_mark;

/* Read the mark of the ledger at `ledger_path` (borrowed) into *mark. Returns 0, -ENOENT when
 * there is none, -EINVAL when it is not a well-formed mark, or another negative errno when it
 * cannot be read; `why` (caller-owned) says which. */
int ledger_mark_read(const char *ledger_path, ledger_mark *mark, char *why, size_t why_size);

/* Replace the mark of the ledger at `ledger_path` (borrowed) with *mark, durably (see above).
 * Returns 0 or a negative errno with the reason in `msg` (caller-owned). */
int ledger_mark_write(const char *ledger_path, const ledger_mark *mark, char *msg, size_t msg_size);

#endif /* SMART_HOST_LEDGER_MARK_H */
