/* store.h — the module's durable local state in SQLite (WAL, synchronous=FULL): equipment
 * state, calibration and check history, ClientPO links, the tests allowed, contract versions.
 *
 * Writes go into one transaction that store_begin opens lazily and store_commit ends, so the
 * events of one host batch share one commit (group commit). Every function returns 0 or
 * SMART_EIO (with err filled) when SQLite fails; the caller must then fail-stop. Not
 * thread-safe: one store per module instance, used on the loop thread. */
#ifndef SMART_STORE_H
#define SMART_STORE_H

#include "equipment.h"
#include "readiness.h"
#include "smart_plugin.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct store store;

/* Opens (creating if needed) `dir`/store.sqlite, first taking an exclusive flock on `dir`/lock
 * (held until store_close; the kernel drops it if the process dies). Returns 0, SMART_EBUSY
 * when another process (or another open store) holds the lock — the message names `dir` and
 * the holder's pid —, or SMART_EIO. The path is copied. */
int store_open(const char *dir, store **out, smart_error *err);

/* Closes the store; an open transaction is rolled back (it was never acknowledged). */
void store_close(store *s);

/* Opens the batch transaction if none is open. */
int store_begin(store *s, smart_error *err);

/* Commits the batch transaction, if one is open; durable when it returns 0. */
int store_commit(store *s, smart_error *err);

/* Calls visit(ctx, state) for every equipment row; the state is borrowed for the call. */
int store_load_equipment(store *s, void (*visit)(void *ctx, const equipment_state *state),
                         void *ctx, smart_error *err);

/* Inserts or replaces the row of state->equipment_id. */
int store_put_equipment(store *s, const equipment_state *state, smart_error *err);

typedef struct calibration_entry {
    const char *equipment_id;
    const char *calibration_date;
    civil_day day;
    const char *certificate_number;
    const char *provider;
    const char *technician;   /* may be NULL */
    const char *results_json; /* may be NULL */
    const char *notes;        /* may be NULL */
    const char *source;       /* "event" or "contract:<file>" */
    int64_t recorded_at_ms;
    bool out_of_tolerance;          /* left out of tolerance: not a good calibration */
    const char *reference_standard; /* the station's standard it was calibrated against, or NULL */
} calibration_entry;

int store_add_calibration(store *s, const calibration_entry *entry, smart_error *err);

/* Whether the item has a calibration with that certificate on record (from any source): 0 when
 * it has, with its calibration_date as written copied into calibration_date (size bytes); 1
 * when it has none; or SMART_EIO. */
int store_find_calibration(store *s, const char *equipment_id, const char *certificate_number,
                           char *calibration_date, size_t size, smart_error *err);

/* The day of the item's last calibration that left it in tolerance: 0 when found, 1 when it
 * has none, or SMART_EIO. */
int store_last_good_calibration(store *s, const char *equipment_id, civil_day *day,
                                smart_error *err);

/* Records (or replaces) the equipment list linked to a ClientPO: its ids, one per line. */
int store_put_link(store *s, const char *clientpo_id, const char *equipment_ids,
                   int64_t linked_at_ms, smart_error *err);

/* Looks a link up. On success returns 0 and *equipment_ids is a malloc'd copy the caller
 * frees, or NULL when the ClientPO has no link. */
int store_get_link(store *s, const char *clientpo_id, char **equipment_ids, smart_error *err);

/* Records a test the gate allowed and the items it uses (equipment_json: their ids as a JSON
 * array of strings): the work an out-of-tolerance finding makes suspect. (Every decision,
 * allowed or blocked, is in the ledger; a blocked test used nothing, so the store keeps only
 * the allowed ones.) *test_id is the new test's id. */
int store_add_allowed_test(store *s, const char *clientpo_id, int64_t decided_at_ms,
                           const char *equipment_json, int64_t *test_id, smart_error *err);

/* The ClientPO of an allowed test, copied into clientpo_id (size bytes). A missing test is
 * SMART_EIO: the store and the module's view of it disagree. */
int store_allowed_test_clientpo(store *s, int64_t test_id, char *clientpo_id, size_t size,
                                smart_error *err);

/* Calls visit for every item of every allowed test, in test order; the id is borrowed for the
 * call. visit returns non-zero to stop (out of memory: SMART_ENOMEM). */
int store_each_allowed_use(store *s,
                           int (*visit)(void *ctx, int64_t test_id, int64_t decided_at_ms,
                                        const char *equipment_id),
                           void *ctx, smart_error *err);

/* Calls visit with the day of each item's last calibration that left it in tolerance. */
int store_each_good_calibration_day(store *s,
                                    void (*visit)(void *ctx, const char *equipment_id,
                                                  civil_day day),
                                    void *ctx, smart_error *err);

/* Calls visit(ctx, check) for the last check of every (item, procedure); borrowed. */
int store_load_checks(store *s, void (*visit)(void *ctx, const check_state *check), void *ctx,
                      smart_error *err);

/* Adds a check to the history, with its validity as worked out when it was done; strings may
 * be NULL except technician. */
int store_add_check(store *s, const check_state *check, int64_t valid_until_ms,
                    const char *technician, const char *reference_instrument,
                    const char *readings_json, smart_error *err);

/* What was verified with a reference standard or instrument since a moment: calls visit for
 * every check that named it as reference_instrument at or after since_ms, oldest first; the
 * strings are borrowed for the call, and visit returns non-zero for out of memory. */
int store_checks_with_reference(store *s, const char *reference_id, int64_t since_ms,
                                int (*visit)(void *ctx, const char *equipment_id,
                                             const char *procedure_id, int64_t performed_ms),
                                void *ctx, smart_error *err);

/* The same for calibrations that named it as reference_standard, dated since_day or later. */
int store_calibrations_with_reference(store *s, const char *reference_id, civil_day since_day,
                                      int (*visit)(void *ctx, const char *equipment_id,
                                                   const char *certificate_number,
                                                   const char *calibration_date),
                                      void *ctx, smart_error *err);

/* The store's own records, by key (STORE_META_*): 0 when found, 1 when never written, or
 * SMART_EIO. */
int store_get_meta(store *s, const char *key, int64_t *value, smart_error *err);
int store_put_meta(store *s, const char *key, int64_t value, smart_error *err);

/* The same for text values: `value` (caller-owned, `size` bytes) gets a copy, truncated. */
int store_get_text_meta(store *s, const char *key, char *value, size_t size, smart_error *err);
int store_put_text_meta(store *s, const char *key, const char *value, smart_error *err);

/* The seq of the newest ledger record when the store last committed (see module.c). */
#define STORE_META_LEDGER_SEQ "ledger_seq"
/* A text meta: that record's hash (64 hex digits), or "" when the host could not give it (an
 * ABI 1.1 host). Written in the same transaction as the seq. */
#define STORE_META_LEDGER_HASH "ledger_hash"

/* The version (and content hash) of a contract last adopted: 0 when found, 1 when the
 * station has never adopted that contract, or SMART_EIO. Versions never go down. */
int store_get_contract_version(store *s, const char *contract_id, int64_t *version, char sha256[65],
                               smart_error *err);

int store_put_contract_version(store *s, const char *contract_id, int64_t version,
                               const char *sha256, const char *file, int64_t now_ms,
                               smart_error *err);

#endif
