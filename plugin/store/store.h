/* store.h — the module's durable local state in SQLite (WAL, synchronous=FULL): equipment
 * state, calibration and check history, ClientPO links, the tests allowed, contract versions.
 *
 * Writes go into one transaction that store_begin opens lazily and store_commit ends, so the
 * events of one host batch share one commit (group commit). Every function returns 0 or
 * SMART_EIO (with err filled) when SQLite fails; the caller must then fail-stop. Not
 * thread-safe: one store per module instance, used on the loop thread. */
#ifndef SMART_STORE_H
#define SMART_STORE_H

#include "core/readiness.h"
#include "smart_plugin.h"
#include "store/equipment.h"

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

/* Calls visit(ctx, state) for every equipment row; the state, its texts included, is borrowed
 * for the call (the visitor keeps them with maintenance_text). */
int store_load_equipment(store *s, void (*visit)(void *ctx, const equipment_state *state),
                         void *ctx, smart_error *err);

/* Inserts or replaces the row of state->equipment_id. */
int store_put_equipment(store *s, const equipment_state *state, smart_error *err);

/* store_put_equipment of states[0..count) in order, several rows a statement (a first
 * adoption's 100,000 items). The states are borrowed for the call. 0 or SMART_EIO. */
int store_put_equipment_rows(store *s, const equipment_state *const *states, size_t count,
                             smart_error *err);

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
    bool instant_known;   /* written with a time of day: performed_ms is when it was performed */
    int64_t performed_ms; /* (a date alone, or a hub's last_calibration: not kept) */
    bool suspect;         /* its reference was not fit: in tolerance, it is history only (it
                             renews nothing); out of tolerance, it still fails the item */
    const char *suspect_reason; /* why, when suspect; else NULL */
} calibration_entry;

int store_add_calibration(store *s, const calibration_entry *entry, smart_error *err);

/* store_add_calibration of entries[0..count) in order (their ids in that order), several rows
 * a statement. The entries are borrowed for the call. 0 or SMART_EIO. */
int store_add_calibrations(store *s, const calibration_entry *entries, size_t count,
                           smart_error *err);

/* Sets *any when the store holds a calibration (a new station's first adoption holds none
 * before its baselines, which have no results to judge again). 0 or SMART_EIO. */
int store_has_calibrations(store *s, bool *any, smart_error *err);

/* A bulk load of about `adding` calibrations, in the batch transaction (opened if need be):
 * when they outnumber the calibrations stored, the calibrations' indexes are dropped (*bulk
 * set) until store_bulk_calibrations_end makes them again, in the same transaction, so the
 * rows and indexes committed are as if added one by one. While they are dropped only
 * store_add_calibration may touch calibrations. 0 or SMART_EIO (the transaction is then to be
 * rolled back, as after any failed write). */
int store_bulk_calibrations_begin(store *s, size_t adding, bool *bulk, smart_error *err);
/* Makes the indexes store_bulk_calibrations_begin dropped (call it only when *bulk was set).
 * 0 or SMART_EIO. */
int store_bulk_calibrations_end(store *s, smart_error *err);

/* Whether the item has a calibration with that certificate on record (from any source): 0 when
 * it has, with its calibration_date as written copied into calibration_date (size bytes); 1
 * when it has none; or SMART_EIO. */
int store_find_calibration(store *s, const char *equipment_id, const char *certificate_number,
                           char *calibration_date, size_t size, smart_error *err);

/* The day of the item's last calibration that left it in tolerance (not suspect) and, when it was
 * written with a time of day (*instant_known), the instant it was performed: 0 when found, 1 when
 * it has none, or SMART_EIO. */
int store_last_good_calibration(store *s, const char *equipment_id, civil_day *day,
                                bool *instant_known, int64_t *performed_ms, smart_error *err);

/* When the item last passed the procedure (a pass that counts: not suspect): 0 with
 * *performed_ms, 1 when it never has, or SMART_EIO. */
int store_last_pass(store *s, const char *equipment_id, const char *procedure_id,
                    int64_t *performed_ms, smart_error *err);

/* Calls visit for every test allowed with the item at or after since_ms, oldest first (ties by
 * the order recorded; the id borrowed for the call); visit returns non-zero for out of memory
 * (SMART_ENOMEM). An indexed lookup (allowed_uses): its cost follows the item's uses since
 * since_ms, not the station's history. */
int store_allowed_tests_with(store *s, const char *equipment_id, int64_t since_ms,
                             int (*visit)(void *ctx, const char *clientpo_id,
                                          int64_t decided_at_ms),
                             void *ctx, smart_error *err);

/* Records (or replaces) the equipment list linked to a ClientPO: its ids, one per line. */
int store_put_link(store *s, const char *clientpo_id, const char *equipment_ids,
                   int64_t linked_at_ms, smart_error *err);

/* Looks a link up. On success returns 0 and *equipment_ids is a malloc'd copy the caller
 * frees, or NULL when the ClientPO has no link. */
int store_get_link(store *s, const char *clientpo_id, char **equipment_ids, smart_error *err);

/* Records a test the gate allowed and the items it uses (equipment_json: their ids as a JSON
 * array of strings), and each item's use of it (store_allowed_tests_with): the work an
 * out-of-tolerance finding makes suspect. (Every decision, allowed or blocked, is in the
 * ledger; a blocked test used nothing, so the store keeps only the allowed ones.) *test_id is
 * the new test's id. */
int store_add_allowed_test(store *s, const char *clientpo_id, int64_t decided_at_ms,
                           const char *equipment_json, int64_t *test_id, smart_error *err);

/* Calls visit(ctx, check) for the last check that counts of every (item, procedure) (a pass
 * with a reference that was not fit does not: readiness.h); borrowed. */
int store_load_checks(store *s, void (*visit)(void *ctx, const check_state *check), void *ctx,
                      smart_error *err);

/* Fills c->steps from a check's readings as stored (the array store_add_check is given:
 * objects with step_id, value, taken, attested); with none (NULL, or not an array), the check
 * is left with steps_known false and stands as recorded. */
void store_check_steps_from_json(check_state *c, const char *readings_json);

/* Adds a check to the history, with its validity as worked out when it was done, and, when
 * check->suspect, why its reference was not fit (suspect_reason); strings may be NULL except
 * technician. */
int store_add_check(store *s, const check_state *check, int64_t valid_until_ms,
                    const char *technician, const char *reference_instrument,
                    const char *readings_json, const char *suspect_reason, smart_error *err);

/* A reference found out of tolerance as found: every check that named it as
 * reference_instrument at or after since_ms, not already suspect, is marked suspect with the
 * reason given (copied), and, if it was the last of its (item, procedure), stays loaded as the
 * last one, suspect (store_load_checks). In the open transaction. Returns 0 or SMART_EIO. */
int store_mark_checks_suspect(store *s, const char *reference_id, int64_t since_ms,
                              const char *reason, smart_error *err);

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

/* The calibration in force for an item on `day`: its latest dated on or before that day (of
 * two on one day, the one recorded last), with its day, its date as written (copied into
 * calibration_date, size bytes) and whether it left the item in tolerance. A suspect one that
 * left it in tolerance is not counted. 0 when found, 1 when none is dated on or before `day`,
 * or SMART_EIO. */
int store_calibration_on(store *s, const char *equipment_id, civil_day day, civil_day *cal_day,
                         char *calibration_date, size_t size, bool *in_tolerance, smart_error *err);

/* The results (as stored, JSON text) of the item's last calibration (the latest dated, of two
 * on one day the one recorded last; a suspect one in tolerance is not counted): 0 with
 * *results_json a malloc'd copy the caller frees, or
 * NULL when it has none or no calibration; SMART_ENOMEM, or SMART_EIO. */
int store_last_calibration_results(store *s, const char *equipment_id, char **results_json,
                                   smart_error *err);

/* The check of (item, procedure) in force at at_ms: the last performed at or before it (of two
 * at one instant, the one recorded last) that counts as the last check does (a pass suspect
 * when recorded is left out; one made suspect since is returned with check->suspect), into
 * *check. 0 when found, 1 when none, or SMART_EIO. */
int store_check_at(store *s, const char *equipment_id, const char *procedure_id, int64_t at_ms,
                   check_state *check, smart_error *err);

/* A period [since_ms, until_ms) in which an item was unavailable: out of service, or sent out
 * for calibration. Written when the period ends (the one under way is the item's own state:
 * record.out_of_service and out_of_service_since_ms, record.sent_out and sent_out_since_ms). */
#define STORE_UNAVAILABLE_OUT_OF_SERVICE "out_of_service"
#define STORE_UNAVAILABLE_SENT_OUT       "sent_out"

typedef struct unavailable_period {
    char kind[16]; /* STORE_UNAVAILABLE_* */
    int64_t since_ms, until_ms;
    char reason[NOTE_MAX]; /* why it was tagged out, or "" */
} unavailable_period;

/* Records an ended period; kind is STORE_UNAVAILABLE_*, reason may be NULL. */
int store_add_unavailable(store *s, const char *equipment_id, const char *kind, int64_t since_ms,
                          int64_t until_ms, const char *reason, smart_error *err);

/* The ended period that holds at_ms (since_ms <= at_ms < until_ms), into *period: 0 when
 * found, 1 when none, or SMART_EIO. */
int store_unavailable_at(store *s, const char *equipment_id, int64_t at_ms,
                         unavailable_period *period, smart_error *err);

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

/* The files of the contract set last adopted, content and hash, so that a station whose
 * contracts directory is refused at start runs on with them (contracts_in_force.c). Written in
 * the adoption's transaction: store_put_adopted_files makes them the set given (count may be 0,
 * which keeps nothing), recording only the files new or changed (by SHA-256) and deleting those
 * not given; `texts[i]` holds `lens[i]` bytes. The bytes are kept beside the store, in
 * `dir`/KEPT_DIR_NAME (kept_files.h), written and synced before it returns (so before the
 * commit that names them); the files no longer named are removed after that commit.
 * store_load_adopted_files calls `visit` for each, in file-name order, with borrowed bytes
 * valid for the call, each checked against its SHA-256 first; 0, SMART_EIO (the store failed,
 * or a kept file is missing or altered: the message names it), SMART_ENOMEM, or what `visit`
 * returned, when not 0. */
int store_put_adopted_files(store *s, const char *const *files, const char *const *sha256,
                            const char *const *texts, const size_t *lens, size_t count,
                            int64_t now_ms, smart_error *err);
int store_load_adopted_files(store *s,
                             int (*visit)(void *ctx, const char *file, const char *sha256,
                                          const char *text, size_t len),
                             void *ctx, smart_error *err);

/* Starts writing the kept copies of the files store_put_adopted_files will be given (the same
 * sha256, texts and lens), on a thread of its own, so that their I/O overlaps the adoption's
 * other work. The next store_put_adopted_files, store_keep_files_ahead or store_close waits for
 * it (as store_keep_files_wait does); store_put_adopted_files then finds them kept, and writes
 * itself any the thread could not (so reports its error). The arrays are copied, the bytes
 * borrowed until that wait. 0, or
 * SMART_ENOMEM / SMART_EIO (nothing started: store_put_adopted_files writes them all). */
int store_keep_files_ahead(store *s, const char *const *sha256, const char *const *texts,
                           const size_t *lens, size_t count, smart_error *err);

/* Waits for the thread store_keep_files_ahead started, if any: the bytes it borrowed may then
 * be freed. */
void store_keep_files_wait(store *s);

/* What the review of a reference's finding reads of one record resting on it (see
 * handlers/finding_review.c). */

/* The item's check of that procedure performed at performed_ms (of two at one instant, the one
 * recorded last): its readings as stored (*readings_json malloc'd, the caller frees; NULL when
 * none were kept), and when its next check of that procedure was performed (*has_next,
 * *next_ms): the end of what rested on it. 0, 1 when there is no such check, SMART_ENOMEM or
 * SMART_EIO. */
int store_check_record(store *s, const char *equipment_id, const char *procedure_id,
                       int64_t performed_ms, char **readings_json, bool *has_next, int64_t *next_ms,
                       smart_error *err);

/* The item's calibration with that certificate (the one recorded last): its results as stored
 * (*results_json malloc'd or NULL), and when the item's next calibration, dated on or after it
 * and recorded after it, was recorded (*has_next, *next_ms). 0, 1 when none, SMART_ENOMEM or
 * SMART_EIO. */
int store_calibration_record(store *s, const char *equipment_id, const char *certificate_number,
                             char **results_json, bool *has_next, int64_t *next_ms,
                             smart_error *err);

/* Sets the detail of the item's checks of that procedure performed at performed_ms (a passed
 * check's detail is otherwise empty): why, re-judged, it would have failed. In the open
 * transaction. 0 or SMART_EIO. */
int store_set_check_detail(store *s, const char *equipment_id, const char *procedure_id,
                           int64_t performed_ms, const char *detail, smart_error *err);

/* store_mark_checks_suspect for the checks performed before until_ms only: those made with a
 * reference while a calibration of it now suspect was in force, and not after its next one. */
int store_mark_checks_suspect_between(store *s, const char *reference_id, int64_t since_ms,
                                      int64_t until_ms, const char *reason, smart_error *err);

/* The lookups of the out-of-tolerance and reference-standard paths, whose cost must follow what
 * they find and not the station's history (tests/unit/test_store_plans.c checks their plans). */
typedef enum store_plan_query {
    STORE_PLAN_CHECKS_WITH_REFERENCE,       /* store_checks_with_reference */
    STORE_PLAN_MARK_CHECKS_SUSPECT,         /* store_mark_checks_suspect */
    STORE_PLAN_MARK_CHECKS_SUSPECT_BETWEEN, /* store_mark_checks_suspect_between */
    STORE_PLAN_CALIBRATIONS_WITH_REFERENCE, /* store_calibrations_with_reference */
    STORE_PLAN_ALLOWED_TESTS_WITH,          /* store_allowed_tests_with */
    STORE_PLAN_LAST_GOOD_CALIBRATION,       /* store_last_good_calibration */
    STORE_PLAN_COUNT
} store_plan_query;

/* SQLite's plan (EXPLAIN QUERY PLAN) of the statement behind q, as prepared: its steps' details,
 * one a line ("SEARCH calibrations USING INDEX ..."), copied into plan (size bytes, truncated).
 * Reads nothing else. 0 or SMART_EIO. */
int store_query_plan(store *s, store_plan_query q, char *plan, size_t size, smart_error *err);

#endif
