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

#include <stdbool.h>
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

/* Where shipping stands in a ledger file: record `seq` (0: none yet) is the line at bytes
 * [offset, next) and has hash `hash` (64 '0' for seq 0), and the database holds it byte for
 * byte. Shipping goes on at `next`. */
typedef struct fleet_position {
    uint64_t seq;
    uint64_t offset;
    uint64_t next;
    char hash[LEDGER_HASH_HEX_LEN + 1];
} fleet_position;

typedef struct fleet_ship_result {
    char node_id[256];
    uint64_t head_seq;                       /* the database's head after shipping */
    char head_hash[LEDGER_HASH_HEX_LEN + 1]; /* its hash */
    uint64_t stored;                         /* records stored by this shipper so far */
    uint64_t reconnects;                     /* connections lost and made again */
    uint64_t refused_seq;                    /* when FLEET_EREFUSED: the seq refused */
    char refused_kind[32];                   /* and the alert's kind: gap, fork, forged... */
    fleet_position position;                 /* where the next round goes on */
    bool resumed;      /* the last (re)connection went on from the kept position (no scan) */
    uint64_t scans;    /* (re)connections that read the ledger from its first line */
    uint64_t from_seq; /* the position the last (re)connection found */
} fleet_ship_result;

typedef struct fleet_ship_options {
    const char *ledger_path; /* the station's ledger file */
    const char *url;         /* the database, connecting as the station's role */
    const char *node_id;     /* NULL, or the node the role must be registered for */
    size_t batch;            /* records a transaction (0: 1000) */
    int wait_ms;             /* fleet_ship: how long a database that is down is retried */
    uint64_t through;        /* fleet_ship: no record past this seq (0: every complete line) */
    /* No line ending past byte `byte_limit` of the ledger is sent (`ledger ship`'s durable
     * part, durable_limit.h); no such limit when has_byte_limit is false. */
    bool has_byte_limit;
    uint64_t byte_limit;
    /* Called on the shipping thread after each transaction that stored records, once the side
     * file says so (may be NULL): *result as it stands. */
    void (*landed)(void *arg, const fleet_ship_result *result);
    void *landed_arg;
} fleet_ship_options;

/* The database's head is beyond the ledger's last record (a station that lost records the
 * database holds: restored from an old copy). Its last record was sent for the database to
 * compare (a different one is refused as "rewritten" and raised as an alert); nothing else is
 * sent until the ledger goes past that record. */
#define FLEET_EAHEAD (-2102)

/* A shipper of one ledger to one database, keeping its connection and its position between
 * rounds (the live shipper's, ship_live.h, and `ledger ship`'s). Not thread-safe: one thread
 * uses it at a time. `options` (and its strings) are borrowed for the shipper's life. */
typedef struct fleet_shipper fleet_shipper;

/* A shipper that starts from the side file "<ledger>.shipped" when there is a readable one
 * (it is checked against the database's head and the ledger's bytes before it is used; see
 * fleet_ship_round). Nothing is connected yet. Returns 0, -ENOMEM, or a negative errno from
 * pipe2 (its wake pipe, fleet_shipper_interrupt). */
int fleet_shipper_new(const fleet_ship_options *options, fleet_shipper **out);

/* One round: connect when not connected (asking the database for the node's head: when the
 * head is the kept position's record and the ledger's line at its offset is that record, with
 * that hash, shipping goes on from there; otherwise the ledger is read from its first line and
 * the head looked for), then send every complete line after the position whose seq is at most
 * `max_seq` (UINT64_MAX: every complete line) and that ends by options->byte_limit when
 * options->has_byte_limit, in transactions of `batch` records (one
 * fleet.ingest call each, stored whole or not at all). After each transaction that stored
 * records the side file is rewritten (durably; a failure to write it only costs a scan at the
 * next connection) and options->landed is called. A record is never read past `max_seq`.
 * Returns 0, FLEET_EREFUSED (result names the refused seq), FLEET_EAHEAD, -EACCES (the role
 * is not a registered station, or is another node's), -EIO (connection or SQL error: see
 * fleet_shipper_retryable), or a negative errno reading the ledger; `msg` says what. *result
 * (may be NULL) gets the shipper's state. */
int fleet_shipper_round(fleet_shipper *s, uint64_t max_seq, fleet_ship_result *result, char *msg,
                        size_t msg_size);

/* Whether the last round's failure was the database being down or the connection breaking
 * (worth trying again later; nothing of a failed transaction was stored). */
bool fleet_shipper_retryable(const fleet_shipper *s);

/* Make the shipper's waits on the database end at once, now and from now on: a round under way
 * (or any later one) fails as retryable, the database having given no answer. The one call
 * another thread may make while a round runs (the stopping thread, ship_live_close); safe from a
 * signal handler too (one write(2)). Connecting waits at most 10 s, a query 40 s, without it. */
void fleet_shipper_interrupt(fleet_shipper *s);

/* Close the connection and free the shipper (NULL is ignored). */
void fleet_shipper_free(fleet_shipper *s);

/* `url` for messages and events: user, host, port and database, never a password (a libpq URI
 * or key=value string; one that does not parse is shown as "(connection string)"). */
void fleet_url_display(const char *url, char *out, size_t out_size);

/* The side file "<ledger>.shipped": one JSON object {"seq","offset","next","hash","node_id",
 * "to","shipped_at"} saying the last record the shipper knows the database `to` holds (README
 * "Fleet"). Written to "<ledger>.shipped.tmp", fsync'd, renamed, its directory fsync'd. */
typedef struct fleet_shipped_mark {
    fleet_position position;
    char node_id[256];
    char to[512];
    char shipped_at[40]; /* RFC 3339, UTC, the time the record was stored */
} fleet_shipped_mark;

/* Read the side file of the ledger at `ledger_path`. Returns 0, -ENOENT (none), -EINVAL (not
 * a well-formed mark) or another negative errno; `why` says which. */
int fleet_shipped_read(const char *ledger_path, fleet_shipped_mark *mark, char *why,
                       size_t why_size);

/* Ship the complete lines of the ledger that follow the database's head for this role's node
 * (fleet_shipper_round through options->through), retrying a database that is down with back-off
 * for wait_ms. Idempotent and resumable: a shipper killed anywhere and started again neither loses
 * nor doubles a record, and goes on from the side file's position when the database agrees.
 * A torn last line (no newline yet) is left for the next run. A ledger.checkpoint record is
 * sent only when its signature verifies with the key registered for the node (the database
 * cannot check Ed25519; it checks the claim against the stored chain); one that does not
 * stops shipping before it, refused_kind "checkpoint" (no alert row: the database never saw
 * it). Returns as fleet_shipper_round, -EIO when the database stayed unreachable for wait_ms. */
int fleet_ship(const fleet_ship_options *options, fleet_ship_result *result, char *msg,
               size_t msg_size);

/* The command line: `smart-host fleet migrate|register ...` (argv[1] is "fleet") and
 * `smart-host ledger ship ...` (argv[1] "ledger", argv[2] "ship"). Returns the exit status. */
int fleet_command(int argc, char **argv);
int fleet_ship_command(int argc, char **argv);

#endif /* SMART_HOST_FLEET_H */
