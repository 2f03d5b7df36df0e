/* contracts_in_force.c — which contracts rule the station, and changing them: at start-up and
 * whenever the hub deploys a new set (a contract.deployed event, or the contracts directory
 * changing). A new set is validated whole before anything is swapped in; a refused set
 * leaves the one in force in force. Versions only go up. */
#include "core/text.h"
#include "error.h"
#include "maintenance.h"
#include "out/emit.h"
#include "json/json_fields.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_items(const void *a, const void *b)
{
    return strcmp(((const equipment_state *)a)->equipment_id,
                  ((const equipment_state *)b)->equipment_id);
}

typedef struct item_list {
    equipment_state *items;
    size_t count, capacity;
} item_list;

static equipment_state *item_list_add(item_list *list)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? list->capacity * 2 : 64;
        equipment_state *grown = realloc(list->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        list->items = grown;
        list->capacity = cap;
    }
    equipment_state *e = &list->items[list->count++];
    equipment_state_clear(e);
    return e;
}

/* The stored rows of the equipment table, sorted by id; for the first adoption at start-up. */
typedef struct stored_rows {
    maintenance *m; /* whose texts keep the rows' */
    item_list list;
    bool out_of_memory;
} stored_rows;

static void collect_stored(void *ctx, const equipment_state *state)
{
    stored_rows *rows = ctx;
    equipment_state *e = rows->out_of_memory ? NULL : item_list_add(&rows->list);
    if (e)
        *e = *state;
    if (!e || maintenance_keep_texts(rows->m, e) < 0)
        rows->out_of_memory = true;
}

/* Refuses a contract older than the one adopted before, or changed without a new version. */
static int check_versions(maintenance *m, const contract_set *set, contract_refusal *why)
{
    for (size_t i = 0; i < set->contract_count; i++) {
        const contract *c = &set->contracts[i];
        int64_t version;
        char sha[65];
        int rc = store_get_contract_version(m->store, c->contract_id, &version, sha, &why->error);
        if (rc < 0)
            return rc;
        if (rc == 1)
            continue;
        if (c->has_version && c->version < version)
            return contract_refuse(why, SMART_ECONTRACT, c->file, NULL,
                                   "%s: version: %" JSON_INTEGER_FORMAT
                                   " is lower than version %lld of %s already in force; a "
                                   "contract is never rolled back",
                                   c->file, c->version, (long long)version, c->contract_id);
        if (c->has_version && c->version == version && strcmp(c->sha256, sha) != 0)
            return contract_refuse(why, SMART_ECONTRACT, c->file, NULL,
                                   "%s: version: %" JSON_INTEGER_FORMAT
                                   " is the version of %s in force but the content differs; a "
                                   "changed contract needs a new version",
                                   c->file, c->version, c->contract_id);
        /* Ordered by date (YYYYMMDDhhmmss, see contract.h): older is a rollback, the same date
         * with other content a silent swap; both refused. */
        if (!c->has_version && c->version < version)
            return contract_refuse(
                why, SMART_ECONTRACT, c->file, NULL,
                "%s: %s is older than the %s in force (order %lld > %" JSON_INTEGER_FORMAT
                "); a contract is never rolled back",
                c->file, c->order_text, c->contract_id, (long long)version, c->version);
        if (!c->has_version && c->version == version && strcmp(c->sha256, sha) != 0)
            return contract_refuse(why, SMART_ECONTRACT, c->file, NULL,
                                   "%s: %s is the date of %s in force but the content differs; "
                                   "a changed contract needs a later deployed_date",
                                   c->file, c->order_text, c->contract_id);
    }
    return 0;
}

/* The station's day of a contract's calibration: a timestamp counts on the station's day of
 * its instant (as a recorded calibration does), not on the date written in its own offset. */
static civil_day baseline_day(const maintenance *m, const contract_item *ci)
{
    return ci->baseline_date.has_time ? maintenance_today(m, ci->baseline_date.instant_ms)
                                      : ci->baseline_date.day;
}

/* A contract's calibration is evidence like a recorded one: one dated after now (a date after
 * the station's today, a timestamp after the instant) is refused, or it would make the item
 * current for as long as the date is ahead and refuse every real calibration as older. */
static int check_baselines(const maintenance *m, const contract_set *set, int64_t now_ms,
                           contract_refusal *why)
{
    civil_day today = maintenance_today(m, now_ms);
    for (size_t i = 0; i < set->contract_count; i++) {
        const contract *c = &set->contracts[i];
        for (size_t k = 0; k < c->item_count; k++) {
            const contract_item *ci = &c->items[k];
            if (!ci->has_baseline ||
                (ci->baseline_date.has_time ? ci->baseline_date.instant_ms <= now_ms
                                            : ci->baseline_date.day <= today))
                continue;
            char now_text[DATE_TEXT_MAX], today_text[16];
            instant_format(now_ms, now_text, sizeof now_text);
            civil_format(today, today_text, sizeof today_text);
            return contract_refuse(why, SMART_ECONTRACT, c->file, NULL,
                                   "%s: equipment_list[%zu].last_calibration.calibration_date: %s "
                                   "is in the future (now %s, %s at the station); a calibration "
                                   "counts once it is done",
                                   c->file, k, ci->baseline_date_text, now_text, today_text);
        }
    }
    return 0;
}

int maintenance_load_contracts(maintenance *m, int64_t now_ms, contract_set *out,
                               contract_refusal *why)
{
    contract_set set;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s-", m->host->station_type);
    int rc = contract_set_load_matching(m->config.contracts_dir, m->host->station_type,
                                        m->config.station_files_only ? prefix : NULL, &set, why);
    if (rc)
        return rc;
    if ((rc = contract_signatures_check(&m->config.trust, m->config.contracts_dir, &set, why)) ||
        (rc = check_baselines(m, &set, now_ms, why)) || (rc = check_versions(m, &set, why))) {
        contract_set_release(&set);
        return rc;
    }
    *out = set;
    return 0;
}

/* The new equipment table, in *out, which holds the previous table's items sorted by id (at
 * start-up the store's rows, taken as they are: a second copy of a 100,000-item table was a
 * third of a start-up's memory): each keeps its state (retired when no contract of `set` names
 * it); an item new to the station starts with no record. Sorted by id. On failure *out is
 * freed. */
static int merge_items(item_list *out, const contract_set *set, smart_error *err)
{
    for (size_t i = 0; i < out->count; i++)
        out->items[i].terms = NULL;
    size_t known = out->count; /* sorted by id, so new items are found by binary search */
    for (size_t i = 0; i < set->item_count; i++) {
        const contract_item *ci = set->index[i];
        equipment_state key, *e;
        snprintf(key.equipment_id, sizeof key.equipment_id, "%s", ci->equipment_id);
        e = known ? bsearch(&key, out->items, known, sizeof *e, compare_items) : NULL;
        if (!e) {
            if (!(e = item_list_add(out)))
                goto oom;
            snprintf(e->equipment_id, sizeof e->equipment_id, "%s", ci->equipment_id);
        }
        e->terms = ci;
    }
    if (out->count)
        qsort(out->items, out->count, sizeof *out->items, compare_items);
    return 0;
oom:
    free(out->items);
    memset(out, 0, sizeof *out);
    return error_set(err, SMART_ENOMEM, "out of memory");
}

/* A copy of the table in memory, for a redeployment to merge into. */
static int copy_items(const equipment_state *items, size_t count, item_list *out, smart_error *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < count; i++) {
        equipment_state *e = item_list_add(out);
        if (!e) {
            free(out->items);
            memset(out, 0, sizeof *out);
            return error_set(err, SMART_ENOMEM, "out of memory");
        }
        *e = items[i];
    }
    return 0;
}

/* The contract's calibration counts when the station has none as recent. It carries no
 * results, so it re-measures nothing: it renews the calibration of an item in tolerance, and
 * leaves a failed item failed (a failure is cleared only by a record that re-measures every
 * point, see handle_calibration.c). */
static bool baseline_due(const maintenance *m, const equipment_state *e)
{
    const contract_item *ci = e->terms;
    return ci && ci->has_baseline &&
           (!e->record.has_calibration || baseline_day(m, ci) > e->record.calibrated_on);
}

/* The baselines of an adoption, written BASELINE_ROWS at a time: the calibration rows, then
 * the rows of their items (a statement writes several rows, store_add_calibrations). */
enum { BASELINE_ROWS = 64 };
typedef struct baseline_batch {
    calibration_entry entries[BASELINE_ROWS];
    const equipment_state *items[BASELINE_ROWS];
    size_t count;
    char **sources; /* "contract:<file>" of each contract in force, by index */
} baseline_batch;

static int write_baselines(maintenance *m, baseline_batch *b, smart_error *err)
{
    int rc = store_add_calibrations(m->store, b->entries, b->count, err);
    if (rc == 0)
        rc = store_put_equipment_rows(m->store, b->items, b->count, err);
    b->count = 0;
    return rc;
}

/* Takes the contract's baseline into e's record when due, its rows into the batch (written
 * when it is full). */
static int apply_baseline(maintenance *m, equipment_state *e, int64_t now_ms, baseline_batch *b,
                          smart_error *err)
{
    if (!baseline_due(m, e))
        return 0;
    const contract_item *ci = e->terms;
    civil_day day = baseline_day(m, ci);
    b->entries[b->count] = (calibration_entry){
        .equipment_id = ci->equipment_id,
        .calibration_date = ci->baseline_date_text,
        .day = day,
        .certificate_number = ci->baseline_certificate,
        .provider = ci->baseline_provider,
        .source = b->sources[ci->owner - m->contracts.contracts],
        .recorded_at_ms = now_ms,
        .out_of_tolerance = e->record.calibration_failed, /* not a good calibration then */
    };
    const char *date = maintenance_text(m, ci->baseline_date_text, DATE_TEXT_MAX, err);
    const char *certificate = maintenance_text(m, ci->baseline_certificate, CERTIFICATE_MAX, err);
    if (!date || !certificate)
        return SMART_ENOMEM;
    e->record.has_calibration = true;
    e->record.calibrated_on = day;
    e->calibration_date = date;
    e->certificate = certificate;
    b->items[b->count++] = e;
    return b->count == BASELINE_ROWS ? write_baselines(m, b, err) : 0;
}

/* Every item's baseline when due (apply_baseline). 0, SMART_ENOMEM or SMART_EIO. */
static int apply_baselines(maintenance *m, int64_t now_ms, smart_error *err)
{
    const contract_set *set = &m->contracts;
    baseline_batch *b = calloc(1, sizeof *b);
    char **sources = b ? calloc(set->contract_count + 1, sizeof *sources) : NULL;
    int rc = sources ? 0 : error_set(err, SMART_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < set->contract_count; i++) {
        size_t size = strlen(set->contracts[i].file) + sizeof "contract:";
        if (!(sources[i] = malloc(size)))
            rc = error_set(err, SMART_ENOMEM, "out of memory");
        else
            snprintf(sources[i], size, "contract:%s", set->contracts[i].file);
    }
    if (rc == 0)
        b->sources = sources;
    for (size_t i = 0; rc == 0 && i < m->item_count; i++)
        rc = apply_baseline(m, &m->items[i], now_ms, b, err);
    if (rc == 0 && b->count)
        rc = write_baselines(m, b, err);
    for (size_t i = 0; sources && i < set->contract_count; i++)
        free(sources[i]);
    free(sources);
    free(b);
    return rc;
}

/* The last calibration's results judged again under the tolerances in force: a value left
 * (as_left, or as_found when not adjusted) outside a tolerance a redeploy tightened makes the
 * item calibration_failed, the note naming the figure and the terms (reconciled by the caller,
 * cause "contract"). A result for a point the contract no longer has is not judged. */
static int rejudge_calibration(maintenance *m, equipment_state *e, smart_error *err)
{
    const contract_item *ci = e->terms;
    if (!ci || !ci->tolerance_count || !e->record.has_calibration || e->record.calibration_failed)
        return 0;
    char *text = NULL;
    int rc = store_last_calibration_results(m->store, e->equipment_id, &text, err);
    if (rc || !text)
        return rc;
    json_t *results = json_loads(text, 0, NULL);
    free(text);
    size_t i;
    json_t *r;
    json_array_foreach (results, i, r) {
        const char *parameter = json_string_value(json_object_get(r, "parameter"));
        const json_t *nominal = json_object_get(r, "nominal");
        const json_t *left = json_object_get(r, "as_left");
        if (!json_is_number(left))
            left = json_object_get(r, "as_found");
        if (!parameter || !json_is_number(left))
            continue;
        for (size_t k = 0; k < ci->tolerance_count; k++) {
            const tolerance *t = &ci->tolerances[k];
            if (strcmp(t->parameter, parameter) != 0 ||
                (nominal && !(t->has_nominal && json_number_value(nominal) == t->nominal)))
                continue;
            double value = json_number_value(left);
            if (tolerance_within(t, value))
                break;
            char limits[96], figure[DECIMAL_TEXT_MAX];
            tolerance_text(t, limits, sizeof limits);
            decimal_format_double(value, figure, sizeof figure);
            char note[NOTE_MAX];
            snprintf(note, sizeof note, "%s left %s %s outside %s under contract %s v%lld",
                     parameter, figure, t->unit, limits, ci->owner->contract_id,
                     (long long)ci->owner->version);
            json_decref(results);
            if (!(e->failure_note = maintenance_text(m, note, sizeof note, err)))
                return SMART_ENOMEM;
            e->record.calibration_failed = true;
            maintenance_item_forget_text(m, e);
            return 0;
        }
    }
    json_decref(results);
    return 0;
}

/* What changed between the set in force and the new one, for the record: a JSON array. */
static void write_changes(jw *w, const contract_set *before, const contract_set *after)
{
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < after->contract_count; i++) {
        const contract *c = &after->contracts[i];
        const contract *old = NULL;
        for (size_t j = 0; j < before->contract_count && !old; j++)
            if (strcmp(before->contracts[j].contract_id, c->contract_id) == 0)
                old = &before->contracts[j];
        if (old && strcmp(old->sha256, c->sha256) == 0)
            continue;
        jw_sep(w);
        jw_raw(w, "{", 1);
        jw_member_string(w, "contract_id", c->contract_id);
        jw_member_raw(w, "change", old ? "updated" : "added");
        if (old)
            jw_member_int(w, "from_version", old->version);
        jw_member_int(w, "version", c->version);
        jw_raw(w, "}", 1);
    }
    for (size_t j = 0; j < before->contract_count; j++) {
        bool kept = false;
        for (size_t i = 0; i < after->contract_count && !kept; i++)
            kept = strcmp(before->contracts[j].contract_id, after->contracts[i].contract_id) == 0;
        if (kept)
            continue;
        jw_sep(w);
        jw_raw(w, "{", 1);
        jw_member_string(w, "contract_id", before->contracts[j].contract_id);
        jw_member_raw(w, "change", "removed");
        jw_member_int(w, "version", before->contracts[j].version);
        jw_raw(w, "}", 1);
    }
    jw_raw(w, "]", 1);
}

/* Keeps the files of the set now in force, content and hash, for a start whose directory is
 * refused (maintenance_start_refused). */
/* The files of a set as the store keeps them: store_put_adopted_files's arrays, borrowing the
 * set's strings and bytes. */
typedef struct adopted_files {
    const char **files, **shas, **texts;
    size_t *lens, count;
} adopted_files;

static int collect_adopted(const contract_set *set, adopted_files *a, smart_error *err)
{
    size_t n = set->contract_count;
    *a = (adopted_files){.files = calloc(n + 1, sizeof *a->files),
                         .shas = calloc(n + 1, sizeof *a->shas),
                         .texts = calloc(n + 1, sizeof *a->texts),
                         .lens = calloc(n + 1, sizeof *a->lens),
                         .count = n};
    if (!a->files || !a->shas || !a->texts || !a->lens)
        return error_set(err, SMART_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        a->files[i] = set->contracts[i].file;
        a->shas[i] = set->contracts[i].sha256;
        a->texts[i] = set->contracts[i].text;
        a->lens[i] = set->contracts[i].text_len;
    }
    return 0;
}

static void release_adopted(adopted_files *a)
{
    free(a->files), free(a->shas), free(a->texts), free(a->lens);
    *a = (adopted_files){.count = 0};
}

/* A contract read and not in force: its id, order, file and hash, and why not. */
static void write_held(jw *w, const contract *c, bool with_version)
{
    jw_sep(w);
    jw_raw(w, "{", 1);
    jw_member_string(w, "contract_id", c->contract_id);
    jw_member_string(w, "order", c->order_text);
    if (with_version)
        jw_member_int(w, "version", c->version);
    jw_member_string(w, "file", c->file);
    jw_member_string(w, "sha256", c->sha256);
    jw_member_bool(w, "in_force", false);
    jw_member_string(w, "why_not", c->not_in_force);
}

/* A file skipped (another station's, another type of contract): as acknowledged to the hub
 * (its hash, not in force and why not) or as recorded (the reason). */
static void write_skipped(jw *w, const contract_set *set, size_t i, bool acknowledged)
{
    const char *why = set->skipped_why[i];
    jw_sep(w);
    jw_raw(w, "{", 1);
    jw_member_string(w, "file", set->skipped[i]);
    if (acknowledged) {
        jw_member_string(w, "sha256", set->skipped_sha[i] ? set->skipped_sha[i] : "");
        jw_member_bool(w, "in_force", false);
        jw_member_string(w, "why_not", why ? why : "skipped");
    } else {
        jw_member_string(w, "reason", why ? why : "");
    }
    if (set->skipped_ids[i])
        jw_member_string(w, "contract_id", set->skipped_ids[i]);
    jw_raw(w, "}", 1);
}

/* What the hub waits for to move a deployment from deployed to active: per contract of the
 * directory, its id, the order it was adopted by (version or date), its file, its SHA-256,
 * whether it is in force and why not. A JSON array. */
static void write_acknowledgement(jw *w, const contract_set *set)
{
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < set->contract_count; i++) {
        const contract *c = &set->contracts[i];
        jw_sep(w);
        jw_raw(w, "{", 1);
        jw_member_string(w, "contract_id", c->contract_id);
        jw_member_string(w, "order", c->order_text);
        jw_member_int(w, "version", c->version);
        jw_member_string(w, "file", c->file);
        jw_member_string(w, "sha256", c->sha256);
        jw_member_bool(w, "in_force", true);
        jw_raw(w, "}", 1);
    }
    for (size_t i = 0; i < set->held_count; i++) {
        write_held(w, &set->held[i], true);
        jw_raw(w, "}", 1);
    }
    for (size_t i = 0; i < set->skipped_count; i++)
        write_skipped(w, set, i, true);
    jw_raw(w, "]", 1);
}

/* One contract in force, for the record: with how each reference_value text of the hub's
 * checklist was read. */
static void write_loaded(jw *w, const contract *c)
{
    jw_sep(w);
    jw_raw(w, "{", 1);
    jw_member_string(w, "contract_id", c->contract_id);
    jw_member_int(w, "version", c->version);
    jw_member_string(w, "file", c->file);
    jw_member_string(w, "sha256", c->sha256);
    jw_member_int(w, "equipment", (int64_t)c->item_count);
    if (c->signed_by[0])
        jw_member_string(w, "signed_by", c->signed_by);
    bool listed = false;
    for (size_t k = 0; k < c->procedure_count; k++)
        for (size_t j = 0; j < c->procedures[k].step_count; j++) {
            const check_step *st = &c->procedures[k].steps[j];
            if (!st->reference_reading[0])
                continue;
            if (!listed) {
                jw_key(w, "reference_values");
                jw_raw(w, "[", 1);
                listed = true;
            }
            jw_sep(w);
            jw_raw(w, "{", 1);
            jw_member_string(w, "procedure_id", c->procedures[k].procedure_id);
            jw_member_string(w, "step_id", st->step_id);
            jw_member_string_or_null(w, "reference_value", st->reference_value);
            jw_member_string(w, "read_as", st->reference_reading);
            jw_member_bool(w, "machine_checked", !st->needs_attestation);
            jw_raw(w, "}", 1);
        }
    if (listed)
        jw_raw(w, "]", 1);
    jw_raw(w, "}", 1);
}

/* The record of an adoption's metadata: the set in force, what changed since `before`, what
 * was read and not adopted, the acknowledgement, the directory and the cause. */
static void write_adoption(jw *w, const maintenance *m, const contract_set *before,
                           const char *cause)
{
    const contract_set *set = &m->contracts;
    jw_raw(w, "{", 1);
    jw_key(w, "contracts");
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < set->contract_count; i++)
        write_loaded(w, &set->contracts[i]);
    jw_raw(w, "]", 1);
    jw_key(w, "changes");
    write_changes(w, before, set);
    jw_key(w, "not_in_force");
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < set->held_count; i++) {
        write_held(w, &set->held[i], false);
        if (set->held[i].status)
            jw_member_string(w, "status", set->held[i].status);
        jw_raw(w, "}", 1);
    }
    jw_raw(w, "]", 1);
    jw_key(w, "skipped");
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < set->skipped_count; i++)
        write_skipped(w, set, i, false);
    jw_raw(w, "]", 1);
    jw_key(w, "acknowledgement");
    write_acknowledgement(w, set);
    jw_member_string(w, "contracts_dir", m->config.contracts_dir);
    jw_member_string(w, "cause", cause);
    jw_raw(w, "}", 1);
}

static int record_adoption(maintenance *m, const contract_set *before, const char *cause,
                           smart_error *err)
{
    const contract_set *set = &m->contracts;
    char details[256];
    snprintf(details, sizeof details,
             "%zu contract(s) in force for station type %s (%s), %zu equipment item(s); %zu "
             "read and not in force; %zu file(s) skipped (other station types or contract types)",
             set->contract_count, m->host->station_type, cause, set->item_count, set->held_count,
             set->skipped_count);
    text_utf8_trim(details); /* a cut may fall inside a character of the cause */
    jw meta = {0};
    write_adoption(&meta, m, before, cause);
    int rc = emit_ledger_jw(m, "contracts.loaded", m->host->node_id, "system", details, &meta, err);
    jw_release(&meta);
    return rc;
}

/* The equipment table a set makes, built whole before anything is swapped in. */
typedef struct new_table {
    item_list merged;
    item_text_cache *cache;
    uint32_t *index;
    size_t index_mask;
} new_table;

/* Builds the table `set` makes: at start-up from the store's rows, on a redeployment from the
 * table in memory. 0 or SMART_ENOMEM/SMART_EIO with nothing to release. */
static int build_table(maintenance *m, const contract_set *set, bool first, new_table *t,
                       smart_error *err)
{
    int rc = 0;
    stored_rows rows = {.m = m};
    *t = (new_table){.cache = NULL};
    if (first) {
        rc = store_load_equipment(m->store, collect_stored, &rows, err);
        if (rc == 0 && rows.out_of_memory)
            rc = error_set(err, SMART_ENOMEM, "out of memory");
        if (rc)
            free(rows.list.items);
        else
            t->merged = rows.list;
    } else {
        rc = copy_items(m->items, m->item_count, &t->merged, err);
    }
    if (rc == 0)
        rc = merge_items(&t->merged, set, err);
    if (rc)
        return rc;
    if (!(t->cache = calloc(t->merged.count ? t->merged.count : 1, sizeof *t->cache)))
        rc = error_set(err, SMART_ENOMEM, "out of memory");
    if (rc == 0)
        rc = maintenance_index_items(t->merged.items, t->merged.count, &t->index, &t->index_mask,
                                     err);
    if (rc) {
        free(t->cache);
        free(t->merged.items);
    }
    return rc;
}

/* Puts `set` and its table in force; *before and *old_items (the caller's to release) are
 * what was in force. */
static void swap_in(maintenance *m, contract_set *set, new_table *t, contract_set *before,
                    equipment_state **old_items, size_t *old_count)
{
    *before = m->contracts;
    *old_items = m->items;
    *old_count = m->item_count;
    for (size_t i = 0; m->item_cache && i < *old_count; i++)
        free(m->item_cache[i].text);
    free(m->item_cache);
    m->contracts = *set;
    memset(set, 0, sizeof *set);
    m->items = t->merged.items;
    m->item_count = t->merged.count;
    m->item_cache = t->cache;
    free(m->item_index);
    m->item_index = t->index;
    m->item_index_mask = t->index_mask;
    m->swept = false; /* new terms: the next sweep looks at every item */
}

/* Keeps each contract's version with the store; *changed_terms (malloc'd, one per contract)
 * says which are new to the store or changed (a redeploy, also one made while the module was
 * down). */
static int record_versions(maintenance *m, int64_t now_ms, bool **changed_terms, smart_error *err)
{
    const contract_set *set = &m->contracts;
    bool *changed = *changed_terms = calloc(set->contract_count + 1, sizeof *changed);
    int rc = changed ? 0 : error_set(err, SMART_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < set->contract_count; i++) {
        const contract *c = &set->contracts[i];
        int64_t version;
        char sha[65];
        rc = store_get_contract_version(m->store, c->contract_id, &version, sha, err);
        changed[i] = rc == 1 || (rc == 0 && (version != c->version || strcmp(sha, c->sha256) != 0));
        rc = rc == 1 ? 0 : rc;
    }
    for (size_t i = 0; rc == 0 && i < set->contract_count; i++) {
        const contract *c = &set->contracts[i];
        rc = store_put_contract_version(m->store, c->contract_id, c->version, c->sha256, c->file,
                                        now_ms, err);
    }
    return rc;
}

/* Items the new set no longer names are retired: kept, no longer required; recorded. */
static int record_retirements(maintenance *m, const equipment_state *old_items, size_t old_count,
                              smart_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->item_count; i++) {
        const equipment_state *e = &m->items[i];
        equipment_state key = *e;
        const equipment_state *was =
            old_count ? bsearch(&key, old_items, old_count, sizeof *old_items, compare_items)
                      : NULL;
        if (e->terms || !was || !was->terms)
            continue;
        char details[160];
        snprintf(details, sizeof details,
                 "%s retired: no contract in force names it; its history is kept", e->equipment_id);
        jw meta = {0};
        jw_raw(&meta, "{", 1);
        jw_member_string(&meta, "equipment_id", e->equipment_id);
        jw_member_string(&meta, "contract_id", was->terms->owner->contract_id);
        jw_raw(&meta, "}", 1);
        rc = emit_ledger_jw(m, "equipment.retired", e->equipment_id, "system", details, &meta, err);
        jw_release(&meta);
    }
    return rc;
}

/* An item the new terms failed whose status stays what it was (out of service, sent out: the
 * status that outranks calibration_failed): the reconcile writes no status.transition for it,
 * so the failure, the figure and the terms are recorded here, or the ledger would never say
 * when and why the item failed. */
static int record_unseen_failure(maintenance *m, const equipment_state *e, smart_error *err)
{
    const contract *owner = e->terms->owner;
    jw terms = {0};
    jw_member_string(&terms, "contract_id", owner->contract_id);
    jw_member_int(&terms, "contract_version", owner->version);
    int rc = maintenance_record_unseen_failure(m, e, &terms, "contract", err);
    jw_release(&terms);
    return rc;
}

/* A tightened tolerance the last calibration's results are now outside fails the item; judged
 * for the items of a contract new or changed since the store last adopted it (so also a
 * redeploy made while the module was down). Sets *rejudged when an item failed. */
static int rejudge_changed(maintenance *m, const bool *changed_terms, int64_t now_ms,
                           bool *rejudged, smart_error *err)
{
    int rc = 0;
    *rejudged = false;
    civil_day today = maintenance_today(m, now_ms);
    for (size_t i = 0; rc == 0 && i < m->item_count; i++) {
        equipment_state *e = &m->items[i];
        if (!e->terms || !changed_terms[e->terms->owner - m->contracts.contracts] ||
            e->record.calibration_failed)
            continue;
        rc = rejudge_calibration(m, e, err);
        /* Saved now: the reconcile below saves only a change of status, and an item out of
         * service keeps its status while failed under it. */
        if (rc == 0 && e->record.calibration_failed)
            rc = store_put_equipment(m->store, e, err);
        if (rc == 0 && e->record.calibration_failed && e->has_status &&
            maintenance_assess(m, e, today).status == e->status)
            rc = record_unseen_failure(m, e, err);
        *rejudged = *rejudged || e->record.calibration_failed;
    }
    return rc;
}

int maintenance_adopt_contracts(maintenance *m, contract_set *set, int64_t now_ms,
                                const char *cause, smart_error *err)
{
    bool first = m->items == NULL; /* start-up begins from the store */
    /* A set of the directory's is kept by the store: its files are written and synced on a
     * thread of the store's while the table and the baselines are made (the set's contract
     * array, and so the bytes, move to m->contracts unchanged). Not started, the store writes
     * them itself. */
    adopted_files adopted = {0};
    int rc = m->contracts_from_store ? 0 : collect_adopted(set, &adopted, err);
    if (rc == 0 && !m->contracts_from_store)
        store_keep_files_ahead(m->store, adopted.shas, adopted.texts, adopted.lens, adopted.count,
                               NULL);
    new_table table;
    if (rc == 0)
        rc = build_table(m, set, first, &table, err);
    if (rc) {
        store_keep_files_wait(m->store);
        release_adopted(&adopted);
        contract_set_release(set);
        return rc;
    }
    /* Swap: from here on the new set is in force (a failure below is an I/O failure, which
     * stops the module anyway). */
    contract_set before;
    equipment_state *old_items;
    size_t old_count;
    swap_in(m, set, &table, &before, &old_items, &old_count);
    size_t baselines = 0; /* the calibrations apply_baseline is to write, at most */
    for (size_t i = 0; i < m->item_count; i++)
        baselines += baseline_due(m, &m->items[i]);
    bool bulk = false, results_stored = true;
    /* With no calibration stored before the baselines (which have no results), the results
     * on record judged again below are none: a new station's 100,000 look-ups are skipped. */
    rc = store_has_calibrations(m->store, &results_stored, err);
    if (rc == 0 && baselines)
        rc = store_bulk_calibrations_begin(m->store, baselines, &bulk, err);
    if (rc == 0 && baselines)
        rc = apply_baselines(m, now_ms, err);
    if (rc == 0 && bulk)
        rc = store_bulk_calibrations_end(m->store, err);
    bool *changed_terms = NULL; /* the results on record for their items are judged again */
    if (rc == 0)
        rc = record_versions(m, now_ms, &changed_terms, err);
    if (rc == 0 && !m->contracts_from_store)
        rc = store_put_adopted_files(m->store, adopted.files, adopted.shas, adopted.texts,
                                     adopted.lens, adopted.count, now_ms, err);
    release_adopted(&adopted);
    store_keep_files_wait(m->store);        /* when a failure above left it running */
    contract_set_drop_texts(&m->contracts); /* stored: the documents hold what is read */
    if (rc == 0)
        rc = record_adoption(m, &before, cause, err);
    if (rc == 0 && !m->contracts_from_store) { /* a set of the directory's: gated by it */
        m->ungated_reason[0] = '\0';
        m->rejected_fingerprint[0] = '\0';
    }
    if (rc == 0 && !first)
        rc = record_retirements(m, old_items, old_count, err);
    free(old_items);
    contract_set_release(&before);
    bool rejudged = false;
    if (rc == 0 && results_stored)
        rc = rejudge_changed(m, changed_terms, now_ms, &rejudged, err);
    free(changed_terms);
    /* A changed interval or warning period changes statuses at once. */
    for (size_t i = 0; rc == 0 && (!first || rejudged) && i < m->item_count; i++) {
        bool changed;
        rc = maintenance_reconcile(m, &m->items[i], now_ms, "contract", false, &changed, err);
    }
    return rc;
}

/* What is in force while a refused deployment is not: for the record and the hub. */
static void describe_in_force(const maintenance *m, char *out, size_t size)
{
    if (m->ungated_reason[0])
        snprintf(out, size, "none: no contract set was ever adopted, every test is blocked");
    else
        snprintf(out, size, "the set adopted before (%zu contract(s), %zu item(s))",
                 m->contracts.contract_count, m->contracts.item_count);
}

/* A refusal as recorded (`record`: with the count of problems found) or as answered (with
 * already_reported): the file, the reason, the problems listed, what stays in force. */
static void write_rejection(jw *w, const contract_refusal *why, const char *file,
                            const char *in_force, bool record, bool repeat)
{
    jw_raw(w, "{", 1);
    jw_member_string(w, "contract_file", file);
    jw_member_string(w, "reason", why->error.text);
    jw_key(w, "problems");
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < why->problems.count; i++) {
        jw_sep(w);
        jw_string(w, why->problems.text[i]);
    }
    if (why->problems.count == 0)
        jw_string(w, why->error.text);
    jw_raw(w, "]", 1);
    if (record)
        jw_member_int(w, "problems_found",
                      (int64_t)(why->problems.found ? why->problems.found : 1));
    jw_member_string(w, "in_force", in_force);
    if (!record)
        jw_member_bool(w, "already_reported", repeat);
    if (why->other_file[0])
        jw_member_string(w, "other_file", why->other_file);
    jw_raw(w, "}", 1);
}

/* A refused deployment: recorded (ledger contract.rejected) and alerted once, however many
 * times it is asked for (the hub's contract.deployed and the directory watch both ask for the
 * same files); `answer` also emits contract.rejected as the event's answer, marked
 * already_reported when it was. The file refused comes with the refusal; one about no file (the
 * directory) names the directory. */
static int report_rejection(maintenance *m, const contract_refusal *why, int64_t now_ms,
                            bool answer, smart_error *err)
{
    const char *file = why->file[0] ? why->file : m->config.contracts_dir;
    const char *reason_text = why->error.text;
    bool repeat = why->fingerprint[0] && strcmp(why->fingerprint, m->rejected_fingerprint) == 0;
    char in_force[160];
    describe_in_force(m, in_force, sizeof in_force);
    jw meta = {0}, out = {0};
    write_rejection(&meta, why, file, in_force, true, false);
    write_rejection(&out, why, file, in_force, false, repeat);
    int rc = 0;
    if (!repeat)
        rc = emit_ledger_jw(m, "contract.rejected", file, "system", reason_text, &meta, err);
    if (rc == 0 && answer)
        rc = emit_output_jw(m, "contract.rejected", &out, err);
    jw_release(&meta);
    jw_release(&out);
    if (rc)
        return rc;
    if (repeat)
        return 0;
    snprintf(m->rejected_fingerprint, sizeof m->rejected_fingerprint, "%s", why->fingerprint);
    jw subject = {0};
    jw_member_string(&subject, "contract_file", file);
    if (why->other_file[0])
        jw_member_string(&subject, "other_file", why->other_file);
    jw_member_string(&subject, "in_force", in_force);
    rc = emit_alert(m, "contract_rejected", "high", NULL, &subject, reason_text, now_ms, err);
    jw_release(&subject);
    return rc;
}

typedef struct stored_files {
    size_t count, cap;
    char **names, **texts;
    size_t *lens;
    bool out_of_memory;
} stored_files;

static int collect_file(void *ctx, const char *file, const char *sha256, const char *text,
                        size_t len)
{
    stored_files *f = ctx;
    (void)sha256; /* the text is hashed again as it is parsed */
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        char **names = realloc(f->names, cap * sizeof *names);
        if (names)
            f->names = names;
        char **texts = realloc(f->texts, cap * sizeof *texts);
        if (texts)
            f->texts = texts;
        size_t *lens = realloc(f->lens, cap * sizeof *lens);
        if (lens)
            f->lens = lens;
        if (!names || !texts || !lens)
            return f->out_of_memory = true, SMART_ENOMEM;
        f->cap = cap;
    }
    char *name = strdup(file ? file : ""), *copy = malloc(len + 1);
    if (!name || !copy) {
        free(name), free(copy);
        return f->out_of_memory = true, SMART_ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    f->names[f->count] = name;
    f->texts[f->count] = copy;
    f->lens[f->count++] = len;
    return 0;
}

static void stored_files_free(stored_files *f)
{
    for (size_t i = 0; i < f->count; i++)
        free(f->names[i]), free(f->texts[i]);
    free(f->names), free(f->texts), free(f->lens);
}

int maintenance_start_refused(maintenance *m, const contract_refusal *why, int64_t now_ms,
                              smart_error *err)
{
    stored_files files = {0};
    int rc = store_load_adopted_files(m->store, collect_file, &files, err);
    if (rc == SMART_ENOMEM || files.out_of_memory) {
        stored_files_free(&files);
        return error_set(err, SMART_ENOMEM, "out of memory");
    }
    if (rc) {
        stored_files_free(&files);
        return rc;
    }
    contract_set set = {0};
    contract_refusal again = {0};
    bool have_set =
        files.count > 0 &&
        contract_set_load_texts((const char *const *)files.names, (const char *const *)files.texts,
                                files.lens, files.count, m->host->station_type, &set, &again) == 0;
    stored_files_free(&files);
    char message[1024] = "", count[96];
    text_append(message, sizeof message, "", "contracts in ");
    text_append(message, sizeof message, "", m->config.contracts_dir);
    text_append(message, sizeof message, "", " refused at start-up: ");
    text_append(message, sizeof message, "", why->error.text);
    if (have_set) {
        snprintf(count, sizeof count,
                 "; running with the set adopted before (%zu contract(s), "
                 "kept in the store)",
                 set.contract_count);
        text_append(message, sizeof message, "", count);
    } else {
        m->ungated_reason[0] = '\0';
        text_append(m->ungated_reason, sizeof m->ungated_reason, "",
                    "no contracts in force: the contracts in ");
        text_append(m->ungated_reason, sizeof m->ungated_reason, "", m->config.contracts_dir);
        text_append(m->ungated_reason, sizeof m->ungated_reason, "",
                    " were refused at start-up and no set was ever adopted");
        text_append(message, sizeof message, "",
                    "; no set was ever adopted: running with none in force, every test is "
                    "blocked");
    }
    text_utf8_trim(message);
    m->host->log(m->host, SMART_LOG_ERROR, message);
    m->contracts_from_store = true;
    rc = maintenance_adopt_contracts(m, &set, now_ms,
                                     have_set ? "start-up: contracts_dir refused, the set adopted "
                                                "before"
                                              : "start-up: contracts_dir refused, none in force",
                                     err);
    m->contracts_from_store = false;
    if (rc == 0)
        rc = report_rejection(m, why, now_ms, false, err);
    return rc;
}

static const char *const deployed_keys[] = {"reason", NULL};

int handle_contract_deployed(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *reason;
    int rc;
    if ((rc = jf_object(data, "data", deployed_keys, err)) ||
        (rc = jf_string(data, "data", "reason", false, &reason, err)) ||
        (rc = maintenance_catch_up(m, now_ms, err)))
        return rc;
    m->rescan_posted = false;
    contract_set set;
    contract_refusal why = {0};
    rc = maintenance_load_contracts(m, now_ms, &set, &why);
    if (rc == 0)
        rc = maintenance_adopt_contracts(m, &set, now_ms, reason ? reason : "contract.deployed",
                                         &why.error);
    if (rc == SMART_EIO || rc == SMART_ENOMEM) {
        *err = why.error;
        return rc;
    }
    if (rc == 0) {
        jw out = {0};
        jw_raw(&out, "{", 1);
        jw_member_int(&out, "contracts", (int64_t)m->contracts.contract_count);
        jw_member_int(&out, "equipment", (int64_t)m->contracts.item_count);
        jw_key(&out, "acknowledgement");
        write_acknowledgement(&out, &m->contracts);
        jw_raw(&out, "}", 1);
        rc = emit_output_jw(m, "contracts.loaded", &out, err);
        jw_release(&out);
        return rc;
    }
    return report_rejection(m, &why, now_ms, true, err);
}
