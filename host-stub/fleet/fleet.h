/*
 * fleet.h — every station's evidence in one PostgreSQL database (README "Fleet").
 *
 * The database checks what it is given: a station's role may only call fleet.ingest, which
 * stores a ledger record only when it continues that station's stored chain and raises an
 * alert row otherwise (host-stub/fleet/migrations/0001_fleet.sql). This side only applies the
 * schema (fleet_migrate), registers stations (fleet_register) and ships a ledger file's
 * records (fleet_ship), through libpq.
 *
 * All functions are blocking, keep no state between calls and may run on any thread (each
 * opens its own connection). Strings are borrowed for the call. Errors: 0 or a negative code,
 * with `msg` (caller-owned, `msg_size` bytes) saying what failed.
 */
#ifndef SMART_HOST_FLEET_H
#define SMART_HOST_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

/* The database refused a record (fleet_ship's result names it; an alert row was raised). */
#define FLEET_EREFUSED (-2101)

/* Apply the migrations the database at `url` (a libpq connection string or postgresql:// URI)
 * lacks, each in one transaction with its fleet.schema_version row, under an advisory lock so
 * two migrators do not race. *applied gets how many were applied now (0 when up to date),
 * *version the schema's version after. Returns 0, -EIO (connection or SQL error). */
int fleet_migrate(const char *url, int *applied, int *version, char *msg, size_t msg_size);

/* Register station `node_id` with login role `role` and its minisign public key text
 * (`public_key`, the .pub file's content), creating the role when missing. Run as the fleet's
 * administrator. Returns 0 or -EIO. */
int fleet_register(const char *url, const char *node_id, const char *role, const char *public_key,
                   char *msg, size_t msg_size);

typedef struct fleet_ship_options {
    const char *ledger_path; /* the station's ledger file */
    const char *url;         /* the database, connecting as the station's role */
    const char *node_id;     /* NULL, or the node the role must be registered for */
    size_t batch;            /* records a transaction (0: 1000) */
    int wait_ms;             /* how long a database that is down is retried, with back-off */
} fleet_ship_options;

typedef struct fleet_ship_result {
    char node_id[256];
    uint64_t head_seq;                       /* the database's head after shipping */
    char head_hash[LEDGER_HASH_HEX_LEN + 1]; /* its hash */
    uint64_t stored;                         /* records stored by this call */
    uint64_t reconnects;                     /* connections lost and made again */
    uint64_t refused_seq;                    /* when FLEET_EREFUSED: the seq refused */
    char refused_kind[32];                   /* and the alert's kind: gap, fork, forged... */
} fleet_ship_result;

/* Ship the complete lines of the ledger that follow the database's head for this role's node,
 * in transactions of `batch` records (one fleet.ingest call each, so a batch is stored whole
 * or not at all). Idempotent and resumable: the head is asked for at every (re)connection and
 * a record already stored is skipped by the database, so a shipper killed anywhere and started
 * again neither loses nor doubles a record. A torn last line (no newline yet) is left for the
 * next run. A ledger.checkpoint record is sent only when its signature verifies with the key
 * registered for the node (the database cannot check Ed25519; it checks the claim against the
 * stored chain); one that does not stops shipping before it, refused_kind "checkpoint" (no
 * alert row: the database never saw it). Returns 0 with *result filled, FLEET_EREFUSED (result
 * names the refused seq),
 * -EACCES (the role is not a registered station, or is another node's), -EIO (the database
 * stayed unreachable for wait_ms, or an SQL error), or a negative errno reading the ledger. */
int fleet_ship(const fleet_ship_options *options, fleet_ship_result *result, char *msg,
               size_t msg_size);

/* The command line: `smart-host fleet migrate|register ...` (argv[1] is "fleet") and
 * `smart-host ledger ship ...` (argv[1] "ledger", argv[2] "ship"). Returns the exit status. */
int fleet_command(int argc, char **argv);
int fleet_ship_command(int argc, char **argv);

#endif /* SMART_HOST_FLEET_H */
