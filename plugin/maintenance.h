/* maintenance.h — the module instance and the pieces of it that the handlers share. Internal
 * to the module; the host sees only smart_plugin.h. Everything hangs off the instance: no
 * global mutable state, so two instances, or an old and a new one across a reload, are safe. */
#ifndef SMART_MAINTENANCE_H
#define SMART_MAINTENANCE_H

#include "contract/contract.h"
#include "contract/signature.h"
#include "core/calibration.h"
#include "core/readiness.h"
#include "smart_plugin.h"
#include "store/equipment.h"
#include "store/store.h"
#include "store/text_pool.h"
#include "json/jsonw.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <uv.h>

typedef struct maintenance_config {
    char contracts_dir[PATH_MAX];
    char data_dir[PATH_MAX];
    int64_t sweep_interval_ms;
    int64_t alert_repeat_ms;
    station_zone *zone;      /* the station's civil time (time_zone or utc_offset); owned */
    contract_trust trust;    /* trusted_keys, require_signed_contracts (contract/signature.h) */
    bool station_files_only; /* read only `<station_type>-*` files (a folder several share) */
} maintenance_config;

/* An item's ITEM text as last built, kept while nothing about the item or the day changes:
 * a full status or a long gate decision then costs a copy per item, not a JSON build. */
typedef struct item_text_cache {
    char *text; /* malloc'd, or NULL when not built */
    size_t len;
    /* Why the item is not ready (readiness.reason), in text's allocation past the text's NUL,
     * or NULL when it is ready: a not-ready item's reason is then not judged again. */
    const char *reason;
    bool ready;
    cal_status status;
    int64_t valid_from_ms, expires_ms; /* the text holds for now in [valid_from, expires) */
} item_text_cache;

typedef struct maintenance {
    const smart_host *host;
    maintenance_config config;
    contract_set contracts;
    equipment_state *items; /* every item known to the store or a contract, sorted by id */
    size_t item_count;
    item_text_cache *item_cache; /* parallel to items */
    uint32_t *item_index;        /* open-addressed hash of items by id: index + 1, 0 empty */
    size_t item_index_mask;      /* the index has item_index_mask + 1 slots (a power of 2) */
    /* The status answer's reusable text buffers (see jsonw.h), for handle_status_query alone;
     * every other text the module writes is in a jw of the call that writes it. */
    text_pool texts;     /* the items' texts (store/equipment.h), shared and immutable */
    size_t texts_live;   /* the pool's bytes when last rebuilt (maintenance_compact_texts) */
    jw item_text;        /* an ITEM text as built for it (maintenance_item_text) */
    jw out;              /* the answer */
    check_state *checks; /* the last check per (item, procedure), sorted by both ids */
    size_t check_count;
    store *store;
    uv_timer_t *sweep_timer;
    uv_timer_t *quiet_timer;        /* debounces changes to the contracts directory */
    uv_fs_event_t *contracts_watch; /* watches the contracts directory */
    int open_handles;               /* handles not yet closed; shutdown ends at zero */
    bool rescan_posted;             /* a contract.deployed from the watch is queued */
    int64_t next_sweep_ms;          /* host-clock time at which the periodic sweep is next due */
    /* A calibration status changes only when the day changes or a handler changes the item
     * (and handlers reconcile what they change); a lasting alert is due again at a known
     * time. Until one of those, a sweep has nothing to find. */
    bool swept;             /* a full sweep has run since start-up or the last adoption */
    civil_day swept_day;    /* the local day of the last full sweep */
    int64_t next_repeat_ms; /* the earliest time a lasting condition is due to be re-raised */
    bool sweep_posted;      /* the timer has queued a sweep that has not run yet */
    bool failed;            /* the store or the ledger failed: refuse all further work */
    /* Ledger records appended since the last commit: the commit then keeps the ledger's
     * position with the store (STORE_META_LEDGER_SEQ), see module.c. */
    bool ledger_since_commit;
    smart_shutdown_done shutdown_done;
    void *shutdown_arg;
    /* Never ungated (contracts_in_force.c): when the contracts directory is refused at start
     * and no set was ever adopted, why; every test.start is then blocked with it. "" else. */
    char ungated_reason[512];
    char rejected_fingerprint[65]; /* the deployment last refused and reported, or "" */
    bool contracts_from_store;     /* adopting the set kept in the store: not stored again */
} maintenance;

/* The items by id (store/item_index.c). */

/* The item with that id, or NULL. */
equipment_state *maintenance_find(maintenance *m, const char *equipment_id);

/* The shared copy (m->texts) of `text` cut to `size` - 1 bytes, as snprintf into a field of
 * `size` bytes cut it: for an item record's text (store/equipment.h). NULL when out of memory,
 * with `err` set. */
const char *maintenance_text(maintenance *m, const char *text, size_t size, smart_error *err);

/* Points each text of `e` at its copy in m->texts (for a record whose texts are borrowed). 0, or
 * -1 when out of memory (then some texts of `e` may still be the borrowed ones). */
int maintenance_keep_texts(maintenance *m, equipment_state *e);

/* Rebuilds m->texts from the texts of the items in force once it holds more than twice what
 * they used at the last rebuild (texts of past calibrations, ended tag-outs): call only where no
 * copy of a record is held (between batches, at commit). Out of memory leaves it as it was. */
void maintenance_compact_texts(maintenance *m);

/* Builds the hash index of `items` for maintenance_find (*index malloc'd, *mask its size - 1).
 * Returns 0 or SMART_ENOMEM. */
int maintenance_index_items(const equipment_state *items, size_t count, uint32_t **index,
                            size_t *mask, smart_error *err);

/* The station's days, in its time zone (the zone's lookups, core/zone_rules.h, on the
 * instance's zone): */

/* The station's local day of an instant (today's date, for now_ms). */
static inline civil_day maintenance_today(const maintenance *m, int64_t now_ms)
{
    return station_zone_day(m->config.zone, now_ms);
}

/* The instant a local day begins at the station (local midnight, or the first instant of the
 * day when daylight saving skips midnight). */
static inline int64_t maintenance_day_start_ms(const maintenance *m, civil_day day)
{
    return station_zone_day_start_ms(m->config.zone, day);
}

/* The instant the station's next local day begins after now_ms: when its "today" ends. */
static inline int64_t maintenance_next_day_start_ms(const maintenance *m, int64_t now_ms)
{
    return station_zone_next_day_start_ms(m->config.zone, now_ms);
}

/* An item's readiness: its last checks, its assessment, its ITEM text cached while it holds
 * (handlers/item_readiness.c). */

/* The item's calibration assessment now; unknown (not ready) when no contract names it. */
cal_assessment maintenance_assess(const maintenance *m, const equipment_state *e, civil_day today);

/* Whether the item is fit for a test at now_ms (and until planned_end_ms, when not 0). */
void maintenance_readiness(const maintenance *m, const equipment_state *e, int64_t now_ms,
                           int64_t planned_end_ms, readiness *out);

/* The last check of a procedure on an item, or NULL. */
check_state *maintenance_find_check(maintenance *m, const char *equipment_id,
                                    const char *procedure_id);

/* Records a check as the last of its (item, procedure), in memory. Returns 0 or SMART_ENOMEM. */
int maintenance_put_check(maintenance *m, const check_state *check, smart_error *err);

/* Forgets the cached ITEM text of `e`. */
void maintenance_item_forget_text(maintenance *m, const equipment_state *e);

/* Appends to `into` (the caller's) the ITEM text of item `id` (e: maintenance_find(m, id),
 * which may be NULL) at now_ms (until planned_end_ms when not 0), from the item's cache when it
 * still holds; *ready and *status say whether the item is ready and its calibration status,
 * and when it is not, `reason` (READINESS_TEXT_MAX bytes, the caller's) why (readiness.reason).
 * 0, or SMART_ENOMEM (into has failed, see jsonw.h). */
int maintenance_item_write(maintenance *m, const char *id, const equipment_state *e, int64_t now_ms,
                           int64_t planned_end_ms, jw *into, bool *ready, cal_status *status,
                           char *reason);

/* The same text, borrowed: the item's cached copy, or, for a text that is not cached (an item
 * no contract names, or a planned end), m->item_text, which the next call rebuilds. For the
 * status answer (handle_status_query) alone, which copies each text before the next call. NULL
 * when out of memory. */
const char *maintenance_item_text(maintenance *m, const char *id, const equipment_state *e,
                                  int64_t now_ms, int64_t planned_end_ms, bool *ready,
                                  cal_status *status, size_t *len);

/* Status changes and the sweep (handlers/transitions.c). */

/* Records a status change of one item (store, ledger, output, alert on the transitions that
 * call for one) and re-raises a lasting condition when alert_repeat has passed and `may_repeat`
 * is set. `cause` says what found it ("sweep", "calibration", "contract"). Sets *changed. */
int maintenance_reconcile(maintenance *m, equipment_state *e, int64_t now_ms, const char *cause,
                          bool may_repeat, bool *changed, smart_error *err);

/* An item that failed (calibration_failed set) while its status stays what it was (out of
 * service, sent out: the statuses that outrank calibration_failed) gets no status.transition,
 * so the failure is recorded as calibration.rejudged: details that say so, and metadata
 * {equipment_id, status, calibration_failed: true, failure (e->failure_note), the members `extra`
 * holds (each written with jw_member_*, or NULL for none), cause}. The ledger then says when and
 * why the item failed. 0 or what the emit returned. */
int maintenance_record_unseen_failure(maintenance *m, const equipment_state *e, const jw *extra,
                                      const char *cause, smart_error *err);

/* Makes `next` (a handler's whole change of `e`, built on a copy) the item's state: forgets its
 * cached text, records any status change it causes (reconcile), and saves it. When the store
 * fails, `e` is left as it was and SMART_EIO returned. */
int maintenance_item_commit(maintenance *m, equipment_state *e, const equipment_state *next,
                            int64_t now_ms, const char *cause, smart_error *err);

/* Calls visit for every test allowed with `e` at or after since_ms, oldest first; the ClientPO
 * id is borrowed for the call. visit returns non-zero for out of memory. Uses from before the
 * item's last good calibration are left out. An indexed lookup in the store. 0, SMART_ENOMEM or
 * SMART_EIO. */
int maintenance_suspect_tests(maintenance *m, const equipment_state *e, int64_t since_ms,
                              int (*visit)(void *ctx, const char *clientpo_id,
                                           int64_t decided_at_ms),
                              void *ctx, smart_error *err);

/* Loads the contracts directory (contract_set_load) and checks the set against the station
 * before it may be adopted: no contract below the version adopted before or changed without a
 * new version, no contract calibration (last_calibration) dated after now_ms. Changes nothing.
 * On success fills *out (release with contract_set_release, or adopt it) and returns 0.
 * Otherwise *why (required, caller-owned) says why, with the file(s) as data: SMART_ECONTRACT (or
 * SMART_ECONFIG: the directory cannot be listed) for a refused deployment, SMART_ENOMEM, or
 * SMART_EIO for a failing store. */
int maintenance_load_contracts(maintenance *m, int64_t now_ms, contract_set *out,
                               contract_refusal *why);

/* Makes `set` (from maintenance_load_contracts in this same turn; taken over, released on
 * failure) the contracts in force: rebuilds the equipment table (items keep their state; new
 * items start from the contract's calibration; items no contract names any more are retired),
 * records the adoption, and reconciles statuses. 0, SMART_ENOMEM (nothing changed) or
 * SMART_EIO. */
int maintenance_adopt_contracts(maintenance *m, contract_set *set, int64_t now_ms,
                                const char *cause, smart_error *err);

/* Runs the periodic sweep when it is due at now_ms. Every handler calls it exactly once, after
 * it has validated its event in full and before it changes or emits anything: the sweep's
 * transitions come before the event's own effects, and a refused event leaves nothing behind at
 * its time (no transition, no alert, no record, no move of the next sweep). 0 or SMART_EIO. */
int maintenance_catch_up(maintenance *m, int64_t now_ms, smart_error *err);

/* Reconciles every item a contract names; counts transitions. */
int maintenance_sweep(maintenance *m, int64_t now_ms, size_t *checked, size_t *transitions,
                      smart_error *err);

/* One thing a reference instrument must be fit for: one of the ids or equipment types the
 * contract accepts (`accepted`, a JSON array of strings), or, where the contract names none,
 * calibrated for the quantity read (a tolerance of its own in `unit`). */
typedef struct reference_need {
    const json_t *accepted; /* NULL: judged by unit */
    const char *unit;       /* with accepted NULL: the unit of the quantity read */
} reference_need;

#define REFERENCE_NEEDS_MAX 32

/* What a reference must be fit for, built by reference_needs_add. */
typedef struct reference_needs {
    reference_need need[REFERENCE_NEEDS_MAX];
    size_t count;
    bool any;      /* one need met is enough (what was read is not said: a calibration given
                      without results must have used a reference for one of the item's
                      quantities); otherwise every need must be met */
    bool overflow; /* more distinct needs than fit: the reference is refused (fail safe) */
} reference_needs;

/* Adds a need unless an equal one is listed. */
void reference_needs_add(reference_needs *needs, const json_t *accepted, const char *unit);

/* Room for why a reference is not fit: what maintenance_judge_reference writes. */
#define REFERENCE_WHY_MAX 480

/* Judges a reference instrument named in `field` for evidence about `subject_id`. Bad input
 * is refused (SMART_EINVAL, naming `field`): a reference that is unknown (or retired: no
 * contract in force names it), the subject itself, or `needs` that overflowed. A known
 * reference that is not fit is evidence about the record, not bad input: 0 with `why`
 * (caller-owned, why_size bytes, REFERENCE_WHY_MAX is enough) saying why as a sentence
 * without the field ("reference instrument X was not fit for use at T: ..."), "" when fit.
 * Not fit: it does not meet one of `needs` (what it is used for, `used_for`, is named), or it
 * was not fit for use when the evidence was made (maintenance_fit_at): at performed_ms, or,
 * with date_only (a calibration dated by day alone), as the station day that begins at
 * performed_ms ended (its last instant, or now_ms when that is earlier). Used now, that is its
 * readiness now. SMART_EIO when the store fails. */
int maintenance_judge_reference(maintenance *m, const char *field, const char *reference_id,
                                const char *subject_id, const reference_needs *needs,
                                const char *used_for, int64_t performed_ms, bool date_only,
                                int64_t now_ms, char *why, size_t why_size, smart_error *err);

/* maintenance_judge_reference, refusing (SMART_EINVAL) a reference not fit too, with
 * "FIELD: why". */
int maintenance_check_reference(maintenance *m, const char *field, const char *reference_id,
                                const char *subject_id, const reference_needs *needs,
                                const char *used_for, int64_t performed_ms, bool date_only,
                                int64_t now_ms, smart_error *err);

/* Whether `e` was fit for use at at_ms, judged by its history (fitness_history.c): the
 * calibration in force on that instant's station day (the latest dated on or before it) left
 * it in tolerance and is valid that day under the interval in force; it was neither out of
 * service nor sent out then; every check its contract requires before testing was done,
 * passed and within its window then (under the terms in force), and no check of its
 * procedures had failed without passing again. Sets *fit; when not fit, `why` (caller-owned)
 * says why as a predicate ("was not in calibration on 2025-03-24: its calibration of
 * 2024-03-20 was valid through 2025-03-20"); whole_day words the instant as its day. 0 or
 * SMART_EIO. */
int maintenance_fit_at(maintenance *m, const equipment_state *e, int64_t at_ms, bool whole_day,
                       bool *fit, char *why, size_t why_size, smart_error *err);

/* The handlers, one per topic: parse and validate `data` → decide → persist → emit.
 * Each returns 0, SMART_EINVAL (nothing changed; err names the field) or SMART_EIO. */
int handle_clientpo_link(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_test_start(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_calibration_record(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_calibration_sweep(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_status_query(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_maintenance_check(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_out_of_service(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_return_to_service(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);
int handle_calibration_schedule(maintenance *m, const json_t *data, int64_t now_ms,
                                smart_error *err);
/* Start-up with the contracts directory refused (`why`): never ungated, never stopped. Adopts
 * the set adopted last (kept in the store) or, when there is none, no set, and then every
 * test.start is blocked with the reason; says so on stderr (the host's log), in the ledger
 * (contract.rejected) and as an alert. Fails only when the store or the ledger does. */
int maintenance_start_refused(maintenance *m, const contract_refusal *why, int64_t now_ms,
                              smart_error *err);

int handle_contract_deployed(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);

#endif
