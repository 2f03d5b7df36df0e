/*
 * durable_limit.h — how much of a ledger `smart-host ledger ship` may send: only what is
 * durable, so that a crash of the station can never leave the fleet database holding a record
 * the station's disk does not (README "Fleet").
 *
 * A running host writes a batch (a large one in parts, as its records are appended) and then
 * fdatasync()s it (durable_file.h); meanwhile the records are in the file but not yet on the
 * disk, and a failed sync leaves them there for good while the host fail-stops. Which limit
 * applies:
 *   - no host holds the station's lock ("<ledger>.lock", station_lock.h): the lock is taken,
 *     the ledger fdatasync'd while it is held (a host killed between its write and its sync left
 *     its last batch in the page cache), and the lock released at once; every complete line
 *     before the file's size at that moment is durable. A torn last line (no newline) is not;
 *     a host started afterwards may cut it off and write other records in its place, so the
 *     limit is the end of the last complete line, never the size.
 *   - a host holds the lock (or the lock or the sync fails): the ledger's mark
 *     ("<ledger>.verified", ledger_mark.h), which the host writes only after a sync, at start
 *     and then every 32 MiB flushed (ledger.c, MARK_EVERY). It is used only when it names this
 *     very file (st_dev, st_ino) and its byte range is the line of record `seq` whose bytes hash
 *     to the mark's hash; otherwise nothing is known durable and the limit is byte 0.
 *
 * No global state; any thread; blocking (one fdatasync). Holding the lock is brief, but a host
 * started in that instant is refused as "in use" (exit 6), naming this process.
 */
#ifndef SMART_HOST_DURABLE_LIMIT_H
#define SMART_HOST_DURABLE_LIMIT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

typedef enum fleet_durable_kind {
    FLEET_DURABLE_SYNCED, /* no host ran: the lock was taken and the ledger synced */
    FLEET_DURABLE_MARK,   /* a host runs: up to the mark it wrote after a sync */
    FLEET_DURABLE_NONE,   /* a host runs and its mark is missing or does not fit: nothing */
} fleet_durable_kind;

typedef struct fleet_durable {
    fleet_durable_kind kind;
    uint64_t bytes;         /* every line ending at or before this byte is durable; none after it */
    uint64_t seq;           /* FLEET_DURABLE_MARK: the mark's record (0 otherwise) */
    uint64_t size;          /* the ledger's size when it was looked at */
    char why[3 * PATH_MAX]; /* one sentence for the command's output: which limit, and why */
} fleet_durable;

/* Find the durable part of the ledger at `ledger_path` (borrowed) into *out. Returns 0, or a
 * negative errno when the ledger itself cannot be opened or read (`msg`, caller-owned, says
 * why); a lock, sync or mark that fails only moves to the next limit above (out->why says). */
int fleet_durable_find(const char *ledger_path, fleet_durable *out, char *msg, size_t msg_size);

#endif /* SMART_HOST_DURABLE_LIMIT_H */
