/*
 * report_db.h — the fleet database as a record source for `smart-host report` (README
 * "Fleet"): a station's stored records, streamed in seq order through the same seam as a
 * ledger file's lines (rep_ledger_line), and the stored heads, checkpoints and alerts that the
 * fleet's integrity report shows.
 *
 * A rep_db is one libpq connection inside one READ ONLY, REPEATABLE READ transaction, so every
 * station a fleet report reads is seen as of one snapshot while stations go on shipping. Only
 * the records of the actions a kind reads are fetched (the index of migration 0002), row by
 * row (libpq's single-row mode): never a station's whole history in memory.
 *
 * Ownership: a rep_db is the caller's (rep_db_close); strings it returns live as long as the
 * arena given. Single-threaded. Errors: 0 or a negative errno with `msg` (caller-owned):
 * -EIO (connection or SQL), -EACCES (the role may not read the fleet: not a fleet_reader),
 * -EINVAL (a malformed connection string), -ENOENT (no such station).
 */
#ifndef SMART_HOST_REPORT_DB_H
#define SMART_HOST_REPORT_DB_H

#include "report/report.h"

typedef struct rep_db rep_db;

/* Whether `text` (a --from value) names a database rather than a date: a postgresql:// or
 * postgres:// URI, or a libpq key=value connection string. */
bool rep_db_is_url(const char *text);

/* Connect to `url` and open the snapshot. *out is NULL on failure. */
int rep_db_open(const char *url, rep_db **out, char *msg, size_t msg_size);
void rep_db_close(rep_db *db);
/* "postgresql://USER@HOST/DB" (no password), owned by db. */
const char *rep_db_name(const rep_db *db);

typedef struct rep_station {
    const char *node_id;
    uint64_t head_seq;
    char head_hash[65];
} rep_station;

/* The registered stations (rep_station), by node_id; only `node` when not NULL (-ENOENT when it
 * is not registered). Strings in `a`. */
int rep_db_stations(rep_db *db, const char *node, rep_arena *a, rep_vec *out, char *msg,
                    size_t msg_size);

/* Read station `s`'s stored records up to its head into *out (zeroed by the caller), as
 * rep_ledger_read reads a file: only the actions o->wants names, checks and gate decisions only
 * around o->bulk_from..bulk_to. out->verification says the chain was checked on ingest
 * (stored), with the head; records, first_ms and last_ms are the station's whole stored ledger.
 * rep_ledger_free in every case. */
int rep_db_read(rep_db *db, const rep_station *s, const rep_read_options *o, rep_ledger *out,
                char *msg, size_t msg_size);

/* One row of the integrity report. */
typedef struct rep_integrity {
    const char *node_id;
    uint64_t head_seq, records;
    char head_hash[65];
    bool has_checkpoint, checkpoint_ok; /* its claim matches the stored record's hash */
    uint64_t checkpoint_seq;
    const char *checkpoint_signed_at; /* as the checkpoint says */
    bool has_head;                    /* head_seq > 0 */
    int64_t head_time_ms, head_received_ms;
    uint64_t alerts;
} rep_integrity;

typedef struct rep_alert {
    uint64_t id;
    const char *node_id, *kind, *detail, *raised_by;
    bool has_seq;
    uint64_t seq;
    int64_t raised_ms;
} rep_alert;

/* Per station (or `node` only): records stored, head, last checkpoint, last shipped, alerts
 * (rep_integrity), and every alert row (rep_alert, by id). Strings in `a`. `records` is the
 * head's seq when the first stored seq is 1 and the last the head (index probes: fleet.ingest
 * refuses gaps), else the rows counted. */
int rep_db_integrity(rep_db *db, const char *node, rep_arena *a, rep_vec *stations, rep_vec *alerts,
                     char *msg, size_t msg_size);

#endif /* SMART_HOST_REPORT_DB_H */
