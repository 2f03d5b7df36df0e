/* handle_calibration.c — calibrations: recording one (with its results against the contract's
 * tolerances, and the out-of-tolerance impact when it came back out of tolerance as found),
 * sending an item out for one, and the expiry sweep. */
#include "core/decimal.h"
#include "core/text.h"
#include "error.h"
#include "handlers/finding_review.h"
#include "maintenance.h"
#include "out/emit.h"
#include "json/json_fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_FIELD_MAX 256

static const char *const calibration_keys[] = {"equipment_id",
                                               "calibration_date",
                                               "certificate_number",
                                               "provider",
                                               "technician",
                                               "results",
                                               "notes",
                                               "reference_standard",
                                               "as_found_in_tolerance",
                                               NULL};
static const char *const result_keys[] = {"parameter", "nominal", "unit",
                                          "as_found",  "as_left", NULL};

_Static_assert(TOLERANCE_NOTE_MAX == NOTE_MAX, "a verdict's notes are kept as the item's");

/* The tolerance a result is judged by: its parameter's, or, when the parameter has several
 * calibration points, the one at the result's nominal. */
static int find_tolerance(const contract_item *item, const char *path, const char *parameter,
                          bool has_nominal, double nominal, const tolerance **out, smart_error *err)
{
    size_t points = 0;
    *out = NULL;
    for (size_t i = 0; i < item->tolerance_count; i++) {
        const tolerance *t = &item->tolerances[i];
        if (strcmp(t->parameter, parameter) != 0)
            continue;
        points++;
        if (!has_nominal || (t->has_nominal && t->nominal == nominal))
            *out = t;
    }
    if (points == 0)
        return error_set(err, SMART_EINVAL,
                         "%s.parameter: '%.60s' has no tolerance in contract %s for %s", path,
                         parameter, item->owner->contract_id, item->equipment_id);
    if (points > 1 && !has_nominal)
        return error_set(err, SMART_EINVAL,
                         "%s.nominal: missing required field (%s has %zu "
                         "calibration points for %s)",
                         path, item->equipment_id, points, parameter);
    if (!*out)
        return error_set(err, SMART_EINVAL,
                         "%s.nominal: %g is not a calibration point of %s for "
                         "%s",
                         path, nominal, item->equipment_id, parameter);
    return 0;
}

/* Whether a result (already validated by judge_results) is about tolerance point t: the same
 * parameter, and the same nominal when it gives one (without one, the parameter has one point). */
static bool result_is_for(const json_t *r, const tolerance *t)
{
    const json_t *nominal = json_object_get(r, "nominal");
    return strcmp(json_string_value(json_object_get(r, "parameter")), t->parameter) == 0 &&
           (!nominal || (t->has_nominal && json_number_value(nominal) == t->nominal));
}

/* What the results give for point t: an as-found value, an as-left value. */
static void point_given(const json_t *results, const tolerance *t, bool *found, bool *left)
{
    size_t i;
    json_t *r;
    *found = *left = false;
    json_array_foreach (results, i, r) {
        if (!result_is_for(r, t))
            continue;
        *found = *found || json_object_get(r, "as_found");
        *left = *left || json_object_get(r, "as_found") || json_object_get(r, "as_left");
    }
}

/* "magnetic_field at 30 G", or "lifted_mass" for a parameter with a single limit. */
static void point_text(const tolerance *t, char *out, size_t size)
{
    char nominal[DECIMAL_TEXT_MAX];
    decimal_format_double(t->nominal, nominal, sizeof nominal);
    if (t->has_nominal)
        snprintf(out, size, "%s at %s %s", t->parameter, nominal, t->unit);
    else
        snprintf(out, size, "%s", t->parameter);
}

/* `"key":[{"parameter","nominal"?,"unit"}...]`: the points the results give no as-found value
 * for (as_left false) or no value at all (as_left true). `results` may be NULL (none given). */
static void write_points(jw *w, const char *key, const contract_item *item, const json_t *results,
                         bool as_left)
{
    jw_key(w, key);
    jw_raw(w, "[", 1);
    for (size_t k = 0; k < item->tolerance_count; k++) {
        const tolerance *t = &item->tolerances[k];
        bool found, left;
        point_given(results, t, &found, &left);
        if (as_left ? left : found)
            continue;
        jw_sep(w);
        jw_raw(w, "{", 1);
        jw_member_string(w, "parameter", t->parameter);
        if (t->has_nominal) {
            char nominal[DECIMAL_TEXT_MAX];
            decimal_format_double(t->nominal, nominal, sizeof nominal);
            jw_key(w, "nominal");
            jw_lit(w, nominal);
        }
        jw_member_string(w, "unit", t->unit);
        jw_raw(w, "}", 1);
    }
    jw_raw(w, "]", 1);
}

/* Which points the results leave unmeasured, as found and as left. `results` may be NULL. */
static void count_unmeasured(const json_t *results, const contract_item *item, result_verdict *v)
{
    for (size_t k = 0; k < item->tolerance_count; k++) {
        const tolerance *t = &item->tolerances[k];
        bool found, left;
        point_given(results, t, &found, &left);
        v->not_found += !found;
        if (!left) {
            char line[160];
            point_text(t, line, sizeof line);
            text_append(v->not_left_note, sizeof v->not_left_note, ", ", line);
            v->not_left++;
        }
    }
}

/* One result's fields, read and checked for their shape. */
typedef struct result_fields {
    const char *parameter, *unit;
    double found, left, nominal;
    bool has_found, has_left, has_nominal;
} result_fields;

/* Reads result i (path, JF_PATH_MAX bytes, is set to name it): 0 or SMART_EINVAL. */
static int read_result(const json_t *r, size_t i, char *path, result_fields *f, smart_error *err)
{
    int rc;
    jf_index(path, JF_PATH_MAX, "data.results", i);
    if ((rc = jf_object(r, path, result_keys, err)) ||
        (rc = jf_string(r, path, "parameter", true, &f->parameter, err)) ||
        (rc = jf_number(r, path, "nominal", false, &f->nominal, &f->has_nominal, err)) ||
        (rc = jf_string(r, path, "unit", false, &f->unit, err)) ||
        (rc = jf_number(r, path, "as_found", false, &f->found, &f->has_found, err)) ||
        (rc = jf_number(r, path, "as_left", false, &f->left, &f->has_left, err)))
        return rc;
    if (!f->has_found && !f->has_left)
        return error_set(err, SMART_EINVAL, "%s: give as_found, as_left or both", path);
    return 0;
}

/* Validates the results and judges them; a parameter the contract has no tolerance for is
 * recorded but cannot be judged, so it is refused rather than silently passed. `results` may
 * be NULL (none given: every point is not measured). */
static int judge_results(const json_t *results, const contract_item *item, result_verdict *v,
                         reference_needs *needs, smart_error *err)
{
    size_t i;
    json_t *r;
    memset(v, 0, sizeof *v);
    json_array_foreach (results, i, r) {
        char path[JF_PATH_MAX];
        result_fields f;
        const tolerance *t;
        int rc;
        if ((rc = read_result(r, i, path, &f, err)) ||
            (rc = find_tolerance(item, path, f.parameter, f.has_nominal, f.nominal, &t, err)))
            return rc;
        reference_needs_add(needs, t->references, t->unit);
        if (f.unit && strcmp(f.unit, t->unit) != 0)
            return error_set(err, SMART_EINVAL,
                             "%s.unit: '%.20s' but the contract's tolerance is "
                             "in %s",
                             path, f.unit, t->unit);
        tolerance_judge_result(t, f.parameter, f.has_found, f.found, f.has_left, f.left, v);
    }
    count_unmeasured(results, item, v);
    return 0;
}

void reference_needs_add(reference_needs *needs, const json_t *accepted, const char *unit)
{
    if (accepted)
        unit = NULL; /* the contract names what it accepts: the unit is not asked */
    for (size_t i = 0; i < needs->count; i++)
        if (needs->need[i].accepted == accepted &&
            (accepted || strcmp(needs->need[i].unit, unit) == 0))
            return;
    if (needs->count == REFERENCE_NEEDS_MAX)
        needs->overflow = true;
    else
        needs->need[needs->count++] = (reference_need){.accepted = accepted, .unit = unit};
}

static bool accepts(const json_t *accepted, const equipment_state *ref)
{
    size_t i;
    json_t *name;
    json_array_foreach (accepted, i, name) {
        const char *text = json_string_value(name);
        if (strcmp(text, ref->equipment_id) == 0 ||
            (ref->terms->equipment_type && strcmp(text, ref->terms->equipment_type) == 0))
            return true;
    }
    return false;
}

static bool measures(const equipment_state *ref, const char *unit)
{
    for (size_t i = 0; i < ref->terms->tolerance_count; i++)
        if (strcmp(ref->terms->tolerances[i].unit, unit) == 0)
            return true;
    return false;
}

/* Writes why a reference is not fit (truncated on a character boundary): 0, for the caller to
 * return. */
static int unfit(char *why, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static int unfit(char *why, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(why, size, format, ap);
    va_end(ap);
    text_utf8_trim(why);
    return 0;
}

/* A reference instrument (a standard or a meter) vouches for a reading only when it measures
 * what is read and was itself fit for use when used: judged at the time of the evidence, not
 * at the time it is entered (a calibration may be entered days after it was made). */
int maintenance_judge_reference(maintenance *m, const char *field, const char *reference_id,
                                const char *subject_id, const reference_needs *needs,
                                const char *used_for, int64_t performed_ms, bool date_only,
                                int64_t now_ms, char *why, size_t why_size, smart_error *err)
{
    why[0] = '\0';
    if (strcmp(reference_id, subject_id) == 0)
        return error_set(err, SMART_EINVAL, "%s: an instrument cannot be its own reference", field);
    const equipment_state *ref = maintenance_find(m, reference_id);
    if (!ref || !ref->terms)
        return error_set(err, SMART_EINVAL,
                         "%s: reference instrument '%s' is not named by any "
                         "contract in force, so its calibration cannot be vouched for",
                         field, reference_id);
    if (needs->overflow)
        return error_set(err, SMART_EINVAL,
                         "%s: %s reads more than %d quantities; no reference can be checked for "
                         "all of them",
                         field, used_for, REFERENCE_NEEDS_MAX);
    bool met_one = false;
    for (size_t i = 0; i < needs->count && needs->any && !met_one; i++)
        met_one = needs->need[i].accepted ? accepts(needs->need[i].accepted, ref)
                                          : measures(ref, needs->need[i].unit);
    for (size_t i = 0; i < needs->count && !met_one; i++) {
        const reference_need *need = &needs->need[i];
        if (needs->any && i + 1 < needs->count)
            continue; /* none met: name the last in the message */
        if (need->accepted && !accepts(need->accepted, ref)) {
            char names[256] = "";
            size_t k;
            json_t *name;
            json_array_foreach (need->accepted, k, name)
                text_append(names, sizeof names, ", ", json_string_value(name));
            return unfit(why, why_size,
                         "%s (%s) is not a reference the contract accepts for %s "
                         "(accepted: %s)",
                         reference_id, ref->terms->equipment_type, used_for, names);
        }
        if (!need->accepted && !measures(ref, need->unit))
            return unfit(why, why_size,
                         "%s (%s) is not calibrated for what %s reads: it has no tolerance of "
                         "its own in %s",
                         reference_id, ref->terms->equipment_type, used_for, need->unit);
    }
    /* A date alone is judged as its day ended (or now, for today): a reference tagged out,
     * sent out or failing a check that day, and not restored by its end, vouches for nothing
     * dated that day. */
    int64_t at_ms = performed_ms;
    if (date_only) {
        at_ms = maintenance_next_day_start_ms(m, performed_ms) - 1;
        if (at_ms > now_ms)
            at_ms = now_ms;
    }
    if (at_ms >= now_ms) {
        /* Used now: fit for use now, as for a test (its calibration, its checks, in service). */
        readiness r;
        maintenance_readiness(m, ref, now_ms, 0, &r);
        if (r.ready)
            return 0;
        char when[DATE_TEXT_MAX];
        instant_format(now_ms, when, sizeof when);
        return unfit(why, why_size, "reference instrument %s was not fit for use at %s: %s",
                     reference_id, when, r.reason);
    }
    bool fit;
    char at[400];
    int rc = maintenance_fit_at(m, ref, at_ms, date_only, &fit, at, sizeof at, err);
    if (rc || fit)
        return rc;
    return unfit(why, why_size, "reference instrument %s %s", reference_id, at);
}

int maintenance_check_reference(maintenance *m, const char *field, const char *reference_id,
                                const char *subject_id, const reference_needs *needs,
                                const char *used_for, int64_t performed_ms, bool date_only,
                                int64_t now_ms, smart_error *err)
{
    char why[REFERENCE_WHY_MAX];
    int rc = maintenance_judge_reference(m, field, reference_id, subject_id, needs, used_for,
                                         performed_ms, date_only, now_ms, why, sizeof why, err);
    if (rc == 0 && why[0])
        rc = error_set(err, SMART_EINVAL, "%s: %s", field, why);
    return rc;
}

/* The work an out-of-tolerance finding makes suspect: the window opens on the day of the last
 * calibration that left the item in tolerance (local midnight), or, with none on record, at its
 * first use; in it, the tests allowed with the item and, when the item is one of the station's
 * reference standards or instruments, the checks and calibrations made with it. */
typedef struct oot_window {
    int64_t since_ms;
    civil_day since_day; /* 0 when there was no good calibration */
    char since_date[16]; /* "" when there was no good calibration */
    jw clientpos;        /* the elements of [{clientpo_id, decided_at}], oldest first (the first
                            REVIEW_JOBS_INLINE of the finding's jobs: finding_review.h) */
    review_list_out clientpos_out; /* clientpos, and how many it lists of how many */
    review_pages pages;            /* everything the finding lists, for its pages */
    jw checks;                     /* of [{equipment_id, check_type, performed_at}] made with it */
    jw calibrations; /* of [{equipment_id, certificate_number, calibration_date}] with it */
    review_list_out checks_out, calibrations_out; /* the first REVIEW_RECORDS_INLINE of each */
    size_t clientpo_count, check_count, calibration_count;
    id_set clientpo_ids; /* the ClientPOs among them, each once */
    id_set verified_ids; /* the items checked or calibrated with it, each once */
} oot_window;

static void oot_window_release(oot_window *w)
{
    jw_release(&w->clientpos);
    review_pages_release(&w->pages);
    jw_release(&w->checks);
    jw_release(&w->calibrations);
    id_set_release(&w->clientpo_ids);
    id_set_release(&w->verified_ids);
}

/* `{"k0":"v0","k1":"v1","k2":"v2"}` (k2 may be NULL) as the next element of `list`. */
static void write_record(jw *list, const char *const *keys, const char *const *values)
{
    jw_sep(list);
    jw_raw(list, "{", 1);
    for (size_t k = 0; k < 3 && keys[k]; k++)
        jw_member_string(list, keys[k], values[k]);
    jw_raw(list, "}", 1);
}

static int collect_use(void *ctx, const char *clientpo_id, int64_t decided_at_ms)
{
    oot_window *w = ctx;
    w->clientpo_count++;
    if (review_pages_add_job(&w->pages, &w->clientpos_out, "clientpos", -1, clientpo_id,
                             decided_at_ms))
        return SMART_ENOMEM;
    return id_set_add(&w->clientpo_ids, clientpo_id);
}

static int collect_check(void *ctx, const char *equipment_id, const char *procedure_id,
                         int64_t performed_ms)
{
    static const char *const keys[] = {"equipment_id", "check_type", "performed_at"};
    oot_window *w = ctx;
    char when[DATE_TEXT_MAX];
    instant_format(performed_ms, when, sizeof when);
    jw one = {0};
    write_record(&one, keys, (const char *const[]){equipment_id, procedure_id, when});
    w->check_count++;
    int rc = jw_text(&one) ? review_pages_add_record(&w->pages, &w->checks_out, "checks", -1,
                                                     one.text, one.len)
                           : SMART_ENOMEM;
    jw_release(&one);
    return rc ? rc : id_set_add(&w->verified_ids, equipment_id);
}

static int collect_calibration(void *ctx, const char *equipment_id, const char *certificate,
                               const char *calibration_date)
{
    static const char *const keys[] = {"equipment_id", "certificate_number", "calibration_date"};
    oot_window *w = ctx;
    jw one = {0};
    write_record(&one, keys, (const char *const[]){equipment_id, certificate, calibration_date});
    w->calibration_count++;
    int rc = jw_text(&one) ? review_pages_add_record(&w->pages, &w->calibrations_out,
                                                     "calibrations", -1, one.text, one.len)
                           : SMART_ENOMEM;
    jw_release(&one);
    return rc ? rc : id_set_add(&w->verified_ids, equipment_id);
}

/* Found before the new calibration joins the history, which moves the window. It opens at the
 * instant of the last good calibration where it was written with one, else at the start of its
 * day. On failure nothing is left to release. */
static int find_oot_window(maintenance *m, const equipment_state *e, oot_window *w,
                           smart_error *err)
{
    civil_day good_day = 0;
    bool instant_known = false;
    int64_t good_ms = 0;
    memset(w, 0, sizeof *w);
    w->clientpos_out.text = &w->clientpos;
    w->checks_out.text = &w->checks;
    w->calibrations_out.text = &w->calibrations;
    int rc = store_last_good_calibration(m->store, e->equipment_id, &good_day, &instant_known,
                                         &good_ms, err);
    if (rc == 0) {
        w->since_ms = instant_known ? good_ms : maintenance_day_start_ms(m, good_day);
        w->since_day = good_day;
        civil_format(good_day, w->since_date, sizeof w->since_date);
    } else if (rc != 1) {
        return rc;
    }
    if (!(rc = maintenance_suspect_tests(m, e, w->since_ms, collect_use, w, err)) &&
        !(rc = store_checks_with_reference(m->store, e->equipment_id, w->since_ms, collect_check, w,
                                           err)))
        rc = store_calibrations_with_reference(m->store, e->equipment_id, w->since_day,
                                               collect_calibration, w, err);
    if (!rc && (!jw_text(&w->clientpos) || !jw_text(&w->checks) || !jw_text(&w->calibrations)))
        rc = error_set(err, SMART_ENOMEM, "out of memory");
    if (rc)
        oot_window_release(w);
    return rc;
}

/* The chain being followed from a reference found out of tolerance: what it lists, and the items
 * already visited (each once, so a loop of references ends). */
typedef struct chain_walk {
    maintenance *m;
    jw *chain;          /* the elements of [{clientpos, re-judged, equipment_id, via, depth}] */
    size_t links;       /* how many elements `chain` holds */
    size_t failing;     /* how many of them would have failed, re-judged with the finding */
    id_set *chain_ids;  /* the ClientPOs in it, each once */
    review_pages *jobs; /* everything the finding lists (finding_review.h) */
    review_list_out *chain_out; /* the entries `chain` shows of how many */
    json_t *visited;            /* {equipment_id: the instant its work was followed until (ms)} */
    const reference_finding *finding; /* the size of the finding, for the records made with
                                         the reference found out (depth 1) */
    int64_t now_ms;
    smart_error *err;
} chain_walk;

static int found_check(void *ctx, const char *equipment_id, const char *procedure_id,
                       int64_t performed_ms)
{
    return json_array_append_new(ctx, json_pack("{s:s, s:s, s:I}", "equipment_id", equipment_id,
                                                "check_type", procedure_id, "performed_ms",
                                                (json_int_t)performed_ms));
}

static int found_calibration(void *ctx, const char *equipment_id, const char *certificate,
                             const char *calibration_date)
{
    return json_array_append_new(ctx, json_pack("{s:s, s:s, s:s}", "equipment_id", equipment_id,
                                                "certificate_number", certificate,
                                                "calibration_date", calibration_date));
}

/* One link: a record resting on the reference, `entry` (released here) written by
 * finding_review_* (the jobs that rested on it, and its re-judgement), closed with what it is. */
static int add_link(chain_walk *cw, const char *item, const char *via, int depth, jw *entry,
                    bool failed)
{
    jw one = {0};
    jw_raw(&one, "{", 1);
    jw_append(&one, entry);
    jw_member_string(&one, "equipment_id", item);
    jw_member_string(&one, "via", via);
    jw_member_int(&one, "depth", depth);
    jw_raw(&one, "}", 1);
    jw_release(entry);
    int rc = jw_text(&one) ? review_pages_add_record(cw->jobs, cw->chain_out, "chain",
                                                     (int64_t)cw->links, one.text, one.len)
                           : SMART_ENOMEM;
    jw_release(&one);
    cw->links++;
    cw->failing += failed;
    return rc ? error_set(cw->err, SMART_ENOMEM, "out of memory") : 0;
}

/* The records made against `reference` in the window, as new arrays (the caller's to release):
 * its checks since since_ms and its calibrations dated since since_day; the reference noted
 * as followed until until_ms. */
static int find_resting_records(chain_walk *cw, const char *reference, int64_t since_ms,
                                civil_day since_day, int64_t until_ms, json_t **checks,
                                json_t **calibrations)
{
    *checks = json_array();
    *calibrations = json_array();
    if (!*checks || !*calibrations ||
        json_object_set_new(cw->visited, reference, json_integer(until_ms)))
        return error_set(cw->err, SMART_ENOMEM, "out of memory");
    int rc = store_checks_with_reference(cw->m->store, reference, since_ms, found_check, *checks,
                                         cw->err);
    return rc ? rc
              : store_calibrations_with_reference(cw->m->store, reference, since_day,
                                                  found_calibration, *calibrations, cw->err);
}

/* One check made against the reference (already marked suspect in the store): suspect in
 * memory too when it is its item's last of that procedure (not ready until it passes again),
 * re-judged with the finding's size where it is known (depth 1), and listed. */
static int follow_check(chain_walk *cw, const json_t *c, int depth)
{
    maintenance *m = cw->m;
    const char *item = json_string_value(json_object_get(c, "equipment_id"));
    const char *procedure = json_string_value(json_object_get(c, "check_type"));
    int64_t at_ms = json_integer_value(json_object_get(c, "performed_ms"));
    check_state *last = maintenance_find_check(m, item, procedure);
    bool is_last = last && last->performed_ms == at_ms;
    if (is_last && !last->suspect) {
        last->suspect = true;
        maintenance_item_forget_text(m, maintenance_find(m, item)); /* its text said ready */
    }
    char at[DATE_TEXT_MAX], via[200], failed_why[FINDING_WHY_MAX];
    instant_format(at_ms, at, sizeof at);
    snprintf(via, sizeof via, "check %s at %s", procedure, at);
    /* One that would have failed says so wherever the item's not being ready is explained. */
    jw entry = {0};
    bool would_fail = false;
    int rc = finding_review_check(m, depth == 1 ? cw->finding : NULL, item, procedure, at_ms,
                                  &entry, cw->chain_ids, cw->jobs, (int64_t)cw->links, &would_fail,
                                  failed_why, sizeof failed_why, cw->err);
    if (!rc && would_fail) {
        rc = store_set_check_detail(m->store, item, procedure, at_ms, failed_why, cw->err);
        if (is_last && last->passed) {
            snprintf(last->detail, sizeof last->detail, "%.*s", (int)sizeof last->detail - 1,
                     failed_why);
            text_utf8_trim(last->detail);
            maintenance_item_forget_text(m, maintenance_find(m, item));
        }
    }
    if (rc) {
        jw_release(&entry);
        return rc;
    }
    return add_link(cw, item, via, depth, &entry, would_fail);
}

/* The item whose current calibration `cert` rests on the reference: calibration_failed until
 * a new calibration, with why (what the re-judgement makes of it, where it was made). */
static int fail_resting_item(chain_walk *cw, equipment_state *e, const char *cert,
                             const char *reference, const char *why, const char *failed_why)
{
    equipment_state next = *e;
    next.record.calibration_failed = true;
    char note[NOTE_MAX];
    if (failed_why) {
        snprintf(note, sizeof note,
                 "calibration %s made against %s (found out of tolerance, %s) would have failed: ",
                 cert, reference, cw->finding->certificate);
        text_append(note, sizeof note, "", failed_why);
    } else {
        snprintf(note, sizeof note, "calibration %s made against %s, which %s", cert, reference,
                 why);
    }
    text_utf8_trim(note);
    if (!(next.failure_note = maintenance_text(cw->m, note, sizeof note, cw->err)))
        return SMART_ENOMEM;
    bool had_status = e->has_status;
    cal_status was = e->status;
    int rc = maintenance_item_commit(cw->m, e, &next, cw->now_ms, "reference", cw->err);
    if (rc || !had_status || !e->has_status || e->status != was)
        return rc; /* the status.transition says it */
    /* Its status outranks the failure (out of service, sent out): on record here. */
    jw found = {0};
    jw_member_string(&found, "reference", reference);
    jw_member_string(&found, "finding_certificate", cw->finding->certificate);
    jw_member_string(&found, "certificate_number", cert);
    rc = maintenance_record_unseen_failure(cw->m, e, &found, "reference", cw->err);
    jw_release(&found);
    return rc;
}

static int follow_chain(chain_walk *cw, const char *reference, const char *why, int64_t since_ms,
                        civil_day since_day, int64_t until_ms, int64_t resume_ms, int depth);

/* One calibration made against the reference, counted from the start of its station day:
 * listed; its item failed when it is the item's current one; and what that item verified
 * while this calibration was its last (until its next calibration was entered) followed one
 * level deeper, on from where that item was followed until when it was reached before. */
static int follow_calibration(chain_walk *cw, const json_t *c, const char *reference,
                              const char *why, int64_t until_ms, int64_t resume_ms, int depth)
{
    maintenance *m = cw->m;
    const char *item = json_string_value(json_object_get(c, "equipment_id"));
    const char *cert = json_string_value(json_object_get(c, "certificate_number"));
    const char *date = json_string_value(json_object_get(c, "calibration_date"));
    date_value day;
    char bad[80], via[300], failed_why[FINDING_WHY_MAX];
    if (date_parse(date, &day, bad, sizeof bad) != 0)
        return 0; /* every stored calibration_date was parsed when recorded */
    /* The station's day of a timestamp, not the date written in its own offset. */
    if (day.has_time)
        day.day = maintenance_today(m, day.instant_ms);
    int64_t day_ms = maintenance_day_start_ms(m, day.day), next_ms = INT64_MAX;
    if (day_ms >= until_ms || day_ms < resume_ms)
        return 0; /* not in this window, or listed when the reference was followed before */
    snprintf(via, sizeof via, "calibration %s on %s", cert, date);
    text_utf8_trim(via);
    jw entry = {0};
    bool would_fail = false;
    int rc = finding_review_calibration(
        m, depth == 1 ? cw->finding : NULL, item, cert, day_ms, &entry, cw->chain_ids, cw->jobs,
        (int64_t)cw->links, &would_fail, failed_why, sizeof failed_why, &next_ms, cw->err);
    if (rc) {
        jw_release(&entry);
        return rc;
    }
    equipment_state *e = maintenance_find(m, item);
    if ((rc = add_link(cw, item, via, depth, &entry, would_fail)) || !e)
        return rc;
    if (strcmp(e->certificate, cert) == 0 && !e->record.calibration_failed &&
        (rc = fail_resting_item(cw, e, cert, reference, why, would_fail ? failed_why : NULL)))
        return rc;
    json_t *followed = json_object_get(cw->visited, item);
    int64_t followed_ms = followed ? json_integer_value(followed) : INT64_MIN;
    if (followed_ms >= next_ms)
        return 0;
    char deeper[NOTE_MAX];
    snprintf(deeper, sizeof deeper, "rests on calibration %s, made against %s", cert, reference);
    text_utf8_trim(deeper);
    return follow_chain(cw, item, deeper, day_ms > followed_ms ? day_ms : followed_ms, day.day,
                        next_ms, followed_ms, depth + 1);
}

/* ISO/IEC 17025 §6.4.8 followed to the end: every check and calibration made against `reference`
 * since since_ms (since_day for calibrations, dated by day) becomes suspect. A check, in the store
 * and, when it is its item's last of that procedure, in memory: the item is not ready until
 * the procedure passes again. A calibration that is its item's current one fails the item
 * (calibration_failed, cleared only by a new calibration in tolerance as left), and what was
 * verified with that item since is followed in turn, one level deeper: only what was made with
 * it before until_ms, while that calibration was its last (INT64_MAX at the top: since its last
 * good calibration, all of it). An item reached again through a later suspect calibration is
 * followed on from where its work was followed until (resume_ms: a calibration dated before it
 * was listed then), so each record is listed once and a loop of references ends. */
static int follow_chain(chain_walk *cw, const char *reference, const char *why, int64_t since_ms,
                        civil_day since_day, int64_t until_ms, int64_t resume_ms, int depth)
{
    json_t *checks = NULL, *calibrations = NULL;
    int rc =
        find_resting_records(cw, reference, since_ms, since_day, until_ms, &checks, &calibrations);
    char reason[400];
    snprintf(reason, sizeof reason, "reference %s %s", reference, why);
    text_utf8_trim(reason);
    if (!rc && json_array_size(checks) > 0)
        rc = store_mark_checks_suspect_between(cw->m->store, reference, since_ms, until_ms, reason,
                                               cw->err);
    size_t i;
    json_t *c;
    json_array_foreach (checks, i, c) {
        /* One made after the reference was calibrated again does not rest on it. */
        if (!rc && json_integer_value(json_object_get(c, "performed_ms")) < until_ms)
            rc = follow_check(cw, c, depth);
    }
    json_array_foreach (calibrations, i, c) {
        if (!rc)
            rc = follow_calibration(cw, c, reference, why, until_ms, resume_ms, depth);
    }
    json_decref(checks);
    json_decref(calibrations);
    return rc;
}

/* The finding in a sentence: the jobs, and the records made against the item, to assess. */
static void impact_message(char *message, size_t size, const oot_window *w, const char *id,
                           const char *certificate, const char *note)
{
    size_t n = w->clientpo_count, checks = w->check_count, calibrations = w->calibration_count;
    const char *from = w->since_date[0] ? w->since_date : "it entered service";
    if (checks + calibrations == 0)
        snprintf(message, size,
                 "%s was out of tolerance as found (%s, certificate %s): %zu test(s) allowed with "
                 "it since %s must be assessed",
                 id, note, certificate, n, from);
    else
        snprintf(message, size,
                 "%s was out of tolerance as found (%s, certificate %s): %zu test(s) allowed with "
                 "it, and %zu check(s) and %zu calibration(s) made against it, since %s must be "
                 "assessed",
                 id, note, certificate, n, checks, calibrations, from);
    text_utf8_trim(message);
}

/* What the chain from an item found out of tolerance holds. */
typedef struct impact_chain {
    jw text;             /* the elements of the "chain" array (the first shown) */
    review_list_out out; /* how many it shows of how many */
    size_t links;        /* how many */
    size_t failing;      /* how many would have failed, re-judged with the finding's size */
    id_set chain_ids;    /* the ClientPOs in it, each once */
} impact_chain;

/* The chain from the item found out of tolerance into `chain`. */
static int walk_chain(maintenance *m, oot_window *w, const equipment_state *e,
                      const char *certificate, const json_t *results, int64_t now_ms,
                      impact_chain *chain, smart_error *err)
{
    char why[300];
    snprintf(why, sizeof why, "was found out of tolerance as found (certificate %s)", certificate);
    text_utf8_trim(why);
    reference_finding finding = {.reference_id = e->equipment_id,
                                 .certificate = certificate,
                                 .results = results,
                                 .reference = e};
    chain_walk cw = {.m = m,
                     .chain = &chain->text,
                     .chain_ids = &chain->chain_ids,
                     .jobs = &w->pages,
                     .chain_out = &chain->out,
                     .visited = json_object(),
                     .finding = &finding,
                     .now_ms = now_ms,
                     .err = err};
    int rc = !cw.visited ? error_set(err, SMART_ENOMEM, "out of memory")
                         : follow_chain(&cw, e->equipment_id, why, w->since_ms, w->since_day,
                                        INT64_MAX, INT64_MIN, 1);
    json_decref(cw.visited);
    chain->links = cw.links;
    chain->failing = cw.failing;
    return rc;
}

/* The message goes on with what the chain holds: its records and jobs, and how many of the
 * records re-judged with the finding's size would have failed. */
static void summarise_chain(char *message, size_t size, const impact_chain *chain)
{
    size_t len = strlen(message);
    snprintf(message + len, size - len,
             "; %zu record(s) resting on it, down the chain, now suspect, and %zu job(s) "
             "tested on the items they verified",
             chain->links, id_set_size(&chain->chain_ids));
    len = strlen(message);
    if (chain->failing > 0)
        snprintf(message + len, size - len,
                 "; re-judged with the finding's size, %zu of them would have failed",
                 chain->failing);
    text_utf8_trim(message);
}

/* `"key":[...]` with the elements in `list`. */
static void write_array(jw *w, const char *key, const jw *list)
{
    jw_key(w, key);
    jw_raw(w, "[", 1);
    jw_append(w, list);
    jw_raw(w, "]", 1);
}

/* oot.impact's data, for the ledger and the answer. */
static int write_impact(jw *data, const oot_window *w, const char *id, const char *certificate,
                        const char *note, int64_t now_ms, const impact_chain *chain,
                        smart_error *err)
{
    char since[DATE_TEXT_MAX], until[DATE_TEXT_MAX];
    instant_format(w->since_ms, since, sizeof since);
    instant_format(now_ms, until, sizeof until);
    jw_raw(data, "{", 1);
    jw_member_string(data, "equipment_id", id);
    jw_member_string(data, "certificate_number", certificate);
    jw_member_string(data, "out_of_tolerance", note);
    jw_member_string(data, "suspect_since", since);
    jw_member_string(data, "suspect_until", until);
    write_array(data, "clientpos", &w->clientpos);
    review_list_close(data, "clientpo_count", &w->clientpos_out);
    if (w->check_count + w->calibration_count > 0) {
        jw_key(data, "verified_with_it");
        jw_raw(data, "{", 1);
        write_array(data, "checks", &w->checks);
        review_list_close(data, "check_count", &w->checks_out);
        write_array(data, "calibrations", &w->calibrations);
        review_list_close(data, "calibration_count", &w->calibrations_out);
        jw_raw(data, "}", 1);
    }
    if (chain->links > 0) {
        write_array(data, "chain", &chain->text);
        review_list_close(data, "chain_count", &chain->out);
    }
    review_pages_write_member(data, &w->pages);
    jw_raw(data, "}", 1);
    return jw_text(data) ? 0 : error_set(err, SMART_ENOMEM, "out of memory");
}

/* The critical alert: the jobs to assess, the items verified with it, the jobs down the chain. */
static int alert_impact(maintenance *m, const oot_window *w, const char *id, const char *message,
                        const impact_chain *chain, int64_t now_ms, smart_error *err)
{
    /* A ClientPO tested twice with the item is one job to assess: it is listed once. */
    char since[DATE_TEXT_MAX];
    instant_format(w->since_ms, since, sizeof since);
    jw subject = {0};
    jw_member_raw(&subject, "equipment_id", id);
    review_write_ids(&subject, "clientpo_ids", &w->clientpo_ids);
    if (id_set_size(&w->verified_ids) > 0)
        review_write_ids(&subject, "verified_equipment", &w->verified_ids);
    if (chain->links > 0)
        review_write_ids(&subject, "chain_clientpo_ids", &chain->chain_ids);
    jw_member_raw(&subject, "suspect_since", since);
    int rc =
        emit_alert(m, "out_of_tolerance_impact", "critical", id, &subject, message, now_ms, err);
    jw_release(&subject);
    return rc;
}

/* ISO/IEC 17025 §7.10: work done with an item later found out of tolerance is suspect from its
 * last good calibration on. List every test allowed with it in that window, and what was
 * checked or calibrated against it (§6.4.8: the items whose verification relied on it). */
static int report_oot_impact(maintenance *m, oot_window *w, const equipment_state *e,
                             const char *certificate, const char *note, const json_t *results,
                             int64_t now_ms, smart_error *err)
{
    const char *id = e->equipment_id;
    char message[768];
    impact_message(message, sizeof message, w, id, certificate, note);
    impact_chain chain = {.links = 0};
    chain.out.text = &chain.text;
    int rc = walk_chain(m, w, e, certificate, results, now_ms, &chain, err);
    if (!rc && chain.links > 0)
        summarise_chain(message, sizeof message, &chain);
    jw data = {0};
    if (!rc)
        rc = write_impact(&data, w, id, certificate, note, now_ms, &chain, err);
    jw ident = {0}; /* what names the finding in its pages */
    jw_member_string(&ident, "equipment_id", id);
    jw_member_string(&ident, "certificate_number", certificate);
    if (!rc && !(rc = emit_ledger_jw(m, "oot.impact", id, "system", message, &data, err)) &&
        !(rc = emit_output_jw(m, "oot.impact", &data, err)) &&
        !(rc = review_pages_emit(m, &w->pages, "oot.impact", &ident, id, err)))
        rc = alert_impact(m, w, id, message, &chain, now_ms, err);
    jw_release(&ident);
    jw_release(&data);
    jw_release(&chain.text);
    id_set_release(&chain.chain_ids);
    return rc;
}

/* A calibration.record as given, validated; borrowed from the event and m. `day` and
 * `performed_ms` are worked out as it is judged. */
typedef struct calibration_input {
    const char *id, *date_text, *certificate, *provider, *technician, *notes, *reference;
    date_value date;
    json_t *results;
    const json_t *stated; /* a retired item's as_found_in_tolerance */
    equipment_state *e;
    civil_day day;
    int64_t performed_ms, now_ms;
} calibration_input;

/* A calibration already on record sent again: said in the ledger and answered with the item as
 * it stands, nothing else. */
static int answer_replay(maintenance *m, const equipment_state *e, const char *date_text,
                         const char *certificate, const char *technician, int64_t now_ms,
                         smart_error *err)
{
    int rc = maintenance_catch_up(m, now_ms, err);
    if (rc)
        return rc;
    readiness r;
    maintenance_readiness(m, e, now_ms, 0, &r);
    char due[16] = "", details[512];
    if (r.calibration.has_due)
        civil_format(r.calibration.due, due, sizeof due);
    snprintf(details, sizeof details,
             "Calibration of %s on %s, certificate %s, is already on record: sent again, "
             "nothing changed",
             e->equipment_id, date_text, certificate);
    text_utf8_trim(details);
    jw meta = {0}, out = {0};
    jw_raw(&meta, "{", 1);
    jw_member_raw(&meta, "equipment_id", e->equipment_id);
    jw_member_string(&meta, "calibration_date", date_text);
    jw_member_string(&meta, "certificate_number", certificate);
    jw_raw(&meta, "}", 1);
    jw_raw(&out, "{", 1);
    jw_member_raw(&out, "equipment_id", e->equipment_id);
    jw_member_string(&out, "calibration_date", date_text);
    jw_member_string(&out, "certificate_number", certificate);
    jw_member_bool(&out, "replay", true);
    if (r.calibration.has_due) {
        jw_member_raw(&out, "due_date", due);
        jw_member_int(&out, "days_remaining", r.calibration.days_remaining);
    }
    jw_member_raw(&out, "status", cal_status_name(r.calibration.status));
    jw_member_bool(&out, "ready", r.ready);
    jw_raw(&out, "}", 1);
    if (!(rc = emit_ledger_jw(m, "calibration.replayed", e->equipment_id, technician, details,
                              &meta, err)))
        rc = emit_output_jw(m, "calibration.recorded", &out, err);
    jw_release(&meta);
    jw_release(&out);
    return rc;
}

/* A retired item's calibration (ISO/IEC 17025 §7.10: the lab's finding on an item no longer in
 * use still calls for a review of the work done with it). No contract in force gives its
 * tolerances, and those it was last under are not kept, so its results are recorded as given
 * (shapes checked, not judged) and its conformity as found is the certificate's statement
 * (as_found_in_tolerance). Found out of tolerance, the impact is raised over the jobs it was
 * used on since its last good calibration. The item stays retired: its state is not changed. */
/* Stores the calibration given, its results as jansson's compact text (*results_text, the
 * caller's to free; NULL when none were given), after finding the impact window when asked
 * (before this calibration joins the history). `suspect_reason` NULL: not suspect. */
static int store_calibration(maintenance *m, const calibration_input *in, bool out_of_tolerance,
                             const char *suspect_reason, bool find_window, oot_window *window,
                             char **results_text, smart_error *err)
{
    *results_text = in->results ? json_dumps(in->results, JSON_COMPACT) : NULL;
    if (in->results && !*results_text)
        return error_set(err, SMART_ENOMEM, "out of memory");
    calibration_entry entry = {
        .equipment_id = in->id,
        .calibration_date = in->date_text,
        .day = in->day,
        .certificate_number = in->certificate,
        .provider = in->provider,
        .technician = in->technician,
        .results_json = *results_text,
        .notes = in->notes,
        .source = "event",
        .reference_standard = in->reference,
        .recorded_at_ms = in->now_ms,
        .out_of_tolerance = out_of_tolerance,
        .instant_known = in->date.has_time,
        .performed_ms = in->performed_ms,
        .suspect = suspect_reason != NULL,
        .suspect_reason = suspect_reason,
    };
    int rc = find_window ? find_oot_window(m, in->e, window, err) : 0;
    if (rc == 0)
        rc = store_add_calibration(m->store, &entry, err);
    return rc;
}

/* Opens a calibration.recorded object: the item, the date and the certificate, and, in the
 * ledger's record, who made it. */
static void write_calibration_head(jw *w, const calibration_input *in, bool who)
{
    jw_raw(w, "{", 1);
    jw_member_raw(w, "equipment_id", in->id);
    jw_member_string(w, "calibration_date", in->date_text);
    jw_member_string(w, "certificate_number", in->certificate);
    if (who) {
        jw_member_string(w, "provider", in->provider);
        jw_member_string(w, "technician", in->technician);
    }
}

/* The verdict's members: in tolerance as found and as left, and the points not measured. */
static void write_judgement(jw *w, const result_verdict *verdict, const contract_item *terms,
                            const json_t *results)
{
    jw_member_bool(w, "as_found_in_tolerance", !verdict->found_out && verdict->not_found == 0);
    jw_member_bool(w, "as_left_in_tolerance", !verdict->left_out && verdict->not_left == 0);
    write_points(w, "not_measured", terms, results, false);
    write_points(w, "not_measured_as_left", terms, results, true);
}

/* The results as stored: jansson's compact text of the results given. */
static void write_results(jw *w, const char *results_text)
{
    if (results_text) {
        jw_key(w, "results");
        jw_lit(w, results_text);
    }
}

/* `"equipment_type"?, "tolerances":[{"parameter","nominal"?,"unit","min"?,"max"?}...]`: the
 * terms the results were judged against, so that a report read from the ledger alone can show
 * each value against its band and group items by type (host-stub/report/). */
static void write_tolerances(jw *w, const contract_item *item)
{
    if (item->equipment_type)
        jw_member_string(w, "equipment_type", item->equipment_type);
    jw_key(w, "tolerances");
    jw_raw(w, "[", 1);
    for (size_t k = 0; k < item->tolerance_count; k++) {
        const tolerance *t = &item->tolerances[k];
        char number[DECIMAL_TEXT_MAX];
        jw_sep(w);
        jw_raw(w, "{", 1);
        jw_member_string(w, "parameter", t->parameter);
        jw_member_string(w, "unit", t->unit);
        const struct {
            bool has;
            double value;
            const char *key;
        } bounds[] = {{t->has_nominal, t->nominal, "nominal"},
                      {t->has_min, t->min, "min"},
                      {t->has_max, t->max, "max"}};
        for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
            if (!bounds[b].has)
                continue;
            decimal_format_double(bounds[b].value, number, sizeof number);
            jw_key(w, bounds[b].key);
            jw_lit(w, number);
        }
        jw_raw(w, "}", 1);
    }
    jw_raw(w, "]", 1);
}

/* Emits the record and the answer (both the caller's, closed). */
static int emit_calibration(maintenance *m, const calibration_input *in, const char *details,
                            const jw *meta, const jw *out, smart_error *err)
{
    int rc = emit_ledger_jw(m, "calibration.recorded", in->id, in->technician, details, meta, err);
    return rc ? rc : emit_output_jw(m, "calibration.recorded", out, err);
}

/* The results of a retired item: their shape only, no contract gives their tolerances. */
static int check_retired_results(const json_t *results, smart_error *err)
{
    size_t i;
    json_t *r;
    json_array_foreach (results, i, r) {
        char path[JF_PATH_MAX];
        result_fields f;
        int rc = read_result(r, i, path, &f, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* A calibration of a retired item (no contract in force names it), recorded for the review of
 * the work it was used on: no tolerances judge it, so the certificate's statement as found is
 * recorded (as_found_in_tolerance). Found out of tolerance, the impact is raised over the jobs
 * it was used on since its last good calibration, even when its reference was not fit (then
 * it is recorded suspect). The item stays retired: its state is not changed. */
static int record_retired(maintenance *m, calibration_input *in, smart_error *err)
{
    const char *id = in->id;
    bool found_in = json_is_true(in->stated);
    int rc;
    if ((rc = check_retired_results(in->results, err)))
        return rc;
    in->performed_ms =
        in->date.has_time ? in->date.instant_ms : maintenance_day_start_ms(m, in->day);
    /* A reference that was not fit makes the record suspect, not void: a finding can always
     * be recorded (README "The rules"). */
    char why[REFERENCE_WHY_MAX] = "";
    if (in->reference) {
        reference_needs needs = {.count = 0}; /* what it measured is not known: its fitness only */
        char used_for[EQUIPMENT_ID_MAX + 32];
        snprintf(used_for, sizeof used_for, "the calibration of %s", id);
        if ((rc = maintenance_judge_reference(
                 m, "data.reference_standard", in->reference, id, &needs, used_for,
                 in->performed_ms, !in->date.has_time, in->now_ms, why, sizeof why, err)))
            return rc;
    }
    const char *suspect = why[0] ? why : NULL;
    oot_window window = {0};
    char *results_text = NULL;
    /* its state as left is not judged: not a good one */
    if ((rc = maintenance_catch_up(m, in->now_ms, err)) ||
        (rc = store_calibration(m, in, !found_in, suspect, !found_in, &window, &results_text,
                                err))) {
        oot_window_release(&window);
        free(results_text);
        return rc;
    }
    char details[768];
    snprintf(details, sizeof details,
             "Calibration of %s (retired: no contract in force names it) on %s recorded%s: "
             "certificate %s from %s; %s as found, as the certificate states%s%s",
             id, in->date_text, suspect ? " SUSPECT" : "", in->certificate, in->provider,
             found_in ? "in tolerance" : "OUT OF TOLERANCE", suspect ? "; " : "",
             suspect ? suspect : "");
    text_utf8_trim(details);
    jw meta = {0}, out = {0};
    write_calibration_head(&meta, in, true);
    jw_member_bool(&meta, "retired", true);
    jw_member_bool(&meta, "as_found_in_tolerance", found_in);
    write_results(&meta, results_text);
    if (in->reference)
        jw_member_raw(&meta, "reference_standard", in->reference);
    if (suspect) {
        jw_member_bool(&meta, "suspect", true);
        jw_member_string(&meta, "suspect_reason", suspect);
    }
    jw_raw(&meta, "}", 1);
    free(results_text);
    write_calibration_head(&out, in, false);
    jw_member_bool(&out, "retired", true);
    jw_member_raw(&out, "status", cal_status_name(CAL_UNKNOWN));
    jw_member_bool(&out, "ready", false);
    jw_member_bool(&out, "as_found_in_tolerance", found_in);
    if (suspect) {
        jw_member_bool(&out, "suspect", true);
        jw_member_string(&out, "suspect_reason", suspect);
    }
    jw_raw(&out, "}", 1);
    rc = emit_calibration(m, in, details, &meta, &out, err);
    if (rc == 0 && !found_in)
        rc = report_oot_impact(m, &window, in->e, in->certificate,
                               "stated out of tolerance as found by the certificate; retired",
                               in->results, in->now_ms, err);
    jw_release(&meta);
    jw_release(&out);
    oot_window_release(&window);
    return rc;
}

/* A calibration in tolerance made with a reference that was not fit (ISO/IEC 17025 §6.5: its
 * results are not traceable): recorded, marked suspect, and nothing else. It renews no
 * calibration, clears no failure, ends no send-out and verifies nothing for a return to
 * service; the store does not count it as a calibration (store_calibration_on). The item's
 * state and status are as before it; the answer says so. */
static int record_suspect_pass(maintenance *m, const calibration_input *in,
                               const result_verdict *verdict, const char *why, smart_error *err)
{
    const equipment_state *e = in->e;
    /* As found out of tolerance is still a finding: the work done with the item is reviewed. */
    oot_window window = {0};
    char *results_text = NULL;
    int rc = store_calibration(m, in, false, why, verdict->found_out, &window, &results_text, err);
    if (rc) {
        oot_window_release(&window);
        free(results_text);
        return rc;
    }
    readiness r;
    maintenance_readiness(m, e, in->now_ms, 0, &r);
    static const char note[] = "suspect: its reference was not fit, so a result in tolerance "
                               "proves nothing; the calibration is not renewed and the item is "
                               "as it was";
    char details[1280], due[16] = "";
    if (r.calibration.has_due)
        civil_format(r.calibration.due, due, sizeof due);
    snprintf(details, sizeof details,
             "Calibration of %s on %s recorded SUSPECT: certificate %s from %s; %s; %s", in->id,
             in->date_text, in->certificate, in->provider, why, note);
    text_utf8_trim(details);
    jw meta = {0}, out = {0};
    write_calibration_head(&meta, in, true);
    jw_member_int(&meta, "contract_version", e->terms->owner->version);
    write_judgement(&meta, verdict, e->terms, in->results);
    write_results(&meta, results_text);
    write_tolerances(&meta, e->terms);
    jw_member_raw(&meta, "reference_standard", in->reference);
    jw_member_bool(&meta, "suspect", true);
    jw_member_string(&meta, "suspect_reason", why);
    jw_raw(&meta, "}", 1);
    free(results_text);
    write_calibration_head(&out, in, false);
    if (r.calibration.has_due) {
        jw_member_raw(&out, "due_date", due);
        jw_member_int(&out, "days_remaining", r.calibration.days_remaining);
    }
    jw_member_raw(&out, "status", cal_status_name(r.calibration.status));
    jw_member_bool(&out, "ready", r.ready);
    write_judgement(&out, verdict, e->terms, in->results);
    jw_member_bool(&out, "suspect", true);
    jw_member_string(&out, "suspect_reason", why);
    jw_member_string(&out, "note", note);
    jw_raw(&out, "}", 1);
    rc = emit_calibration(m, in, details, &meta, &out, err);
    if (rc == 0 && verdict->found_out)
        rc = report_oot_impact(m, &window, e, in->certificate, verdict->found_note, in->results,
                               in->now_ms, err);
    jw_release(&meta);
    jw_release(&out);
    oot_window_release(&window);
    return rc;
}

/* The event's fields and the item; a retired item (it has history and no contract in force
 * names it) needs the certificate's statement as found, one under a contract must not have it. */
static int parse_calibration(maintenance *m, const json_t *data, calibration_input *in,
                             smart_error *err)
{
    int rc;
    if ((rc = jf_object(data, "data", calibration_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", true, &in->id, err)) ||
        (rc = jf_date(data, "data", "calibration_date", true, &in->date, &in->date_text, err)) ||
        (rc = jf_text(data, "data", "certificate_number", true, CERTIFICATE_MAX - 1,
                      &in->certificate, err)) ||
        (rc = jf_text(data, "data", "provider", true, TEXT_FIELD_MAX, &in->provider, err)) ||
        (rc = jf_text(data, "data", "technician", true, TEXT_FIELD_MAX, &in->technician, err)) ||
        (rc = jf_text(data, "data", "notes", false, 2000, &in->notes, err)) ||
        (rc = jf_id(data, "data", "reference_standard", false, &in->reference, err)) ||
        (rc = jf_array(data, "data", "results", false, &in->results, err)))
        return rc;
    in->stated = json_object_get(data, "as_found_in_tolerance");
    if (in->stated && !json_is_boolean(in->stated))
        return error_set(err, SMART_EINVAL,
                         "data.as_found_in_tolerance: must be true or false (got %s)",
                         jf_type_name(in->stated));
    equipment_state *e = in->e = maintenance_find(m, in->id);
    if (!e)
        return error_set(err, SMART_EINVAL,
                         "data.equipment_id: '%s' is not named by any contract in force", in->id);
    if (e->terms && in->stated)
        return error_set(err, SMART_EINVAL,
                         "data.as_found_in_tolerance: only for a retired item; %s is judged by "
                         "the tolerances of contract %s",
                         in->id, e->terms->owner->contract_id);
    if (!e->terms && !in->stated)
        return error_set(err, SMART_EINVAL,
                         "data.as_found_in_tolerance: missing required field (%s is retired: no "
                         "contract in force gives its tolerances, so the certificate's statement "
                         "of conformity as found is recorded)",
                         in->id);
    return 0;
}

/* A calibration is recorded once: the same certificate again is a producer's resend (after a
 * crash it must send again what it has no answer for), answered and changing nothing: 1 when
 * it was answered so, 0 when it is new, or an error. */
static int answer_if_recorded(maintenance *m, const calibration_input *in, smart_error *err)
{
    char on_record[DATE_TEXT_MAX];
    int rc =
        store_find_calibration(m->store, in->id, in->certificate, on_record, sizeof on_record, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (strcmp(on_record, in->date_text) != 0)
        return error_set(err, SMART_EINVAL,
                         "data.certificate_number: %s is already on record for %s, dated %s; "
                         "a certificate is recorded once",
                         in->certificate, in->id, on_record);
    rc = answer_replay(m, in->e, in->date_text, in->certificate, in->technician, in->now_ms, err);
    return rc ? rc : 1;
}

/* The station's day of the calibration (in->day), neither in the future nor before the one on
 * record. The day of a timestamp is the station's day of its instant, whatever offset it was
 * written in: a validity counted from the writer's day could outlast the station's. */
static int check_calibration_day(maintenance *m, calibration_input *in, smart_error *err)
{
    const date_value *date = &in->date;
    in->day = date->has_time ? maintenance_today(m, date->instant_ms) : date->day;
    civil_day today = maintenance_today(m, in->now_ms);
    if (date->has_time ? date->instant_ms > in->now_ms : in->day > today) {
        char now_text[DATE_TEXT_MAX];
        instant_format(in->now_ms, now_text, sizeof now_text);
        return error_set(err, SMART_EINVAL,
                         "data.calibration_date: %s is in the future (now %s); a calibration is "
                         "recorded once it is done",
                         in->date_text, now_text);
    }
    if (in->e->record.has_calibration && in->day < in->e->record.calibrated_on)
        return error_set(err, SMART_EINVAL,
                         "data.calibration_date: %s is before the calibration on record for %s "
                         "(%s); history is not rewritten",
                         in->date_text, in->id, in->e->calibration_date);
    return 0;
}

/* Judges the results against the contract's tolerances and the reference standard (why,
 * REFERENCE_WHY_MAX bytes, "" when fit) at when the calibration was performed; then runs the
 * sweep due now. */
static int judge_calibration(maintenance *m, calibration_input *in, result_verdict *verdict,
                             char *why, smart_error *err)
{
    const contract_item *terms = in->e->terms;
    reference_needs needs = {.count = 0};
    int rc;
    if ((rc = judge_results(in->results, terms, verdict, &needs, err)))
        return rc;
    needs.any = !in->results; /* nothing judged: the standard must fit one quantity the item has */
    if (!in->results)
        for (size_t i = 0; i < terms->tolerance_count; i++)
            reference_needs_add(&needs, terms->tolerances[i].references, terms->tolerances[i].unit);
    /* A calibration counts from when it was performed (a date alone: from the start of that
     * day, so one on the day of a tag-out or a send-out does not count as after it), not from
     * when it was entered; its reference is judged then too. */
    in->performed_ms =
        in->date.has_time ? in->date.instant_ms : maintenance_day_start_ms(m, in->day);
    char used_for[EQUIPMENT_ID_MAX + 32];
    size_t used = 0;
    text_put_str(used_for, sizeof used_for, &used, "the calibration of ");
    text_put_str(used_for, sizeof used_for, &used, in->id);
    why[0] = '\0';
    if ((in->reference &&
         (rc = maintenance_judge_reference(m, "data.reference_standard", in->reference, in->id,
                                           &needs, used_for, in->performed_ms, !in->date.has_time,
                                           in->now_ms, why, REFERENCE_WHY_MAX, err))))
        return rc;
    return maintenance_catch_up(m, in->now_ms, err);
}

/* What a calibration under a contract does to the item. */
typedef struct calibration_outcome {
    equipment_state next;
    bool ends_send_out, still_out; /* performed after the send-out ends it; before, history */
    bool kept_failed, failed;
} calibration_outcome;

/* Decide: the new record; the status follows from it in reconcile. 0 or SMART_ENOMEM. */
static int decide_calibration(maintenance *m, const calibration_input *in,
                              const result_verdict *verdict, calibration_outcome *o,
                              smart_error *err)
{
    const equipment_state *e = in->e;
    equipment_state *next = &o->next;
    *next = *e;
    next->record.has_calibration = true;
    next->record.calibrated_on = in->day;
    /* A send-out ends with a calibration performed after it: one performed before it (a date
     * alone: from the start of its day, so one dated the day it was sent out) is history. */
    o->ends_send_out = e->record.sent_out && in->performed_ms > e->sent_out_since_ms;
    o->still_out = e->record.sent_out && !o->ends_send_out;
    next->record.sent_out = o->still_out;
    /* A failure is cleared only by re-measuring it: a record that leaves a point of a failed
     * item with no value (another point only, no results) leaves it failed, with the failure
     * on record. An item not failed keeps its status: the record renews its calibration. */
    o->kept_failed = !verdict->left_out && verdict->not_left > 0 && e->record.calibration_failed;
    o->failed = verdict->left_out || o->kept_failed;
    next->record.calibration_failed = o->failed;
    if (!o->kept_failed &&
        !(next->failure_note = maintenance_text(m, verdict->left_note, NOTE_MAX, err)))
        return SMART_ENOMEM;
    if (!(next->calibration_date = maintenance_text(m, in->date_text, DATE_TEXT_MAX, err)) ||
        !(next->certificate = maintenance_text(m, in->certificate, CERTIFICATE_MAX, err)))
        return SMART_ENOMEM;
    if (!o->failed && in->performed_ms > next->last_verification_ms)
        next->last_verification_ms = in->performed_ms;
    return 0;
}

/* The texts of a calibration recorded: what failed, the note of one made before a send-out
 * and when the send-out began (each DATE_TEXT_MAX or as declared in the caller), the record's
 * sentence. */
typedef struct calibration_texts {
    char due[16], failure[NOTE_MAX * 2 + 64], sent_since[DATE_TEXT_MAX], still_note[160];
    char details[1280];
} calibration_texts;

static void word_calibration(const calibration_input *in, const result_verdict *verdict,
                             const calibration_outcome *o, const readiness *r, calibration_texts *t)
{
    t->failure[0] = t->still_note[0] = '\0';
    civil_format(r->calibration.due, t->due, sizeof t->due);
    if (verdict->left_out)
        snprintf(t->failure, sizeof t->failure, "%s", verdict->left_note);
    else if (o->kept_failed)
        snprintf(t->failure, sizeof t->failure, "not re-measured: %s; still failed: %s",
                 verdict->not_left_note, in->e->failure_note);
    text_utf8_trim(t->failure);
    instant_format(in->e->sent_out_since_ms, t->sent_since, sizeof t->sent_since);
    if (o->still_out)
        snprintf(t->still_note, sizeof t->still_note,
                 "performed before it was sent out for calibration at %s: recorded as history, "
                 "it stays pending calibration",
                 t->sent_since);
    /* "Calibration of %s on %s recorded: certificate %s from %s; valid until %s%s%s%s%s" */
    const char *const pieces[] = {"Calibration of ",
                                  in->id,
                                  " on ",
                                  in->date_text,
                                  " recorded: certificate ",
                                  in->certificate,
                                  " from ",
                                  in->provider,
                                  "; valid until ",
                                  t->due,
                                  o->failed ? "; FAILED: " : "",
                                  t->failure,
                                  o->still_out ? "; " : "",
                                  t->still_note};
    size_t used = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        text_put_str(t->details, sizeof t->details, &used, pieces[i]);
    text_utf8_trim(t->details);
}

/* The ledger's record of a calibration under a contract (meta, the caller's). */
static void write_calibration_record(jw *meta, const calibration_input *in,
                                     const result_verdict *verdict, const calibration_outcome *o,
                                     const calibration_texts *t, const char *results_text,
                                     const char *why)
{
    const contract_item *terms = in->e->terms;
    write_calibration_head(meta, in, true);
    jw_member_raw(meta, "due_date", t->due);
    jw_member_int(meta, "contract_version", terms->owner->version);
    write_judgement(meta, verdict, terms, in->results);
    write_results(meta, results_text);
    write_tolerances(meta, terms);
    if (in->reference)
        jw_member_raw(meta, "reference_standard", in->reference);
    if (why[0]) {
        jw_member_bool(meta, "suspect", true);
        jw_member_string(meta, "suspect_reason", why);
    }
    if (o->still_out)
        jw_member_raw(meta, "sent_out_since", t->sent_since);
    jw_raw(meta, "}", 1);
}

/* The answer: the calibration and the item's state after it (out, the caller's). */
static void write_calibration_answer(jw *out, const calibration_input *in,
                                     const result_verdict *verdict, const calibration_outcome *o,
                                     const calibration_texts *t, const readiness *r,
                                     const char *why)
{
    const contract_item *terms = in->e->terms;
    write_calibration_head(out, in, false);
    jw_member_raw(out, "due_date", t->due);
    jw_member_raw(out, "status", cal_status_name(r->calibration.status));
    jw_member_bool(out, "ready", r->ready);
    jw_member_int(out, "days_remaining", r->calibration.days_remaining);
    write_judgement(out, verdict, terms, in->results);
    if (o->failed)
        jw_member_string(out, "failure", t->failure);
    if (why[0]) {
        jw_member_bool(out, "suspect", true);
        jw_member_string(out, "suspect_reason", why);
    }
    if (o->still_out) {
        jw_member_raw(out, "sent_out_since", t->sent_since);
        jw_member_string(out, "note", t->still_note);
    }
    jw_raw(out, "}", 1);
}

/* A calibration under a contract, judged: decide, persist, record, commit, answer, and the
 * impact of one found out of tolerance. */
static int record_calibration(maintenance *m, const calibration_input *in,
                              const result_verdict *verdict, const char *why, smart_error *err)
{
    const equipment_state *e = in->e;
    calibration_outcome o;
    int rc = decide_calibration(m, in, verdict, &o, err);
    if (rc)
        return rc;
    oot_window window = {0};
    char *results_text = NULL;
    rc = store_calibration(m, in, o.failed, why[0] ? why : NULL, verdict->found_out, &window,
                           &results_text, err);
    if (rc == 0 && o.ends_send_out) /* the period it was away, for judging it as a reference */
        rc = store_add_unavailable(m->store, in->id, STORE_UNAVAILABLE_SENT_OUT,
                                   e->sent_out_since_ms, in->now_ms, NULL, err);
    if (rc) {
        oot_window_release(&window);
        free(results_text);
        return rc;
    }
    readiness r;
    maintenance_readiness(m, &o.next, in->now_ms, 0, &r);
    calibration_texts t;
    word_calibration(in, verdict, &o, &r, &t);
    jw meta = {0}, out = {0};
    write_calibration_record(&meta, in, verdict, &o, &t, results_text, why);
    free(results_text);
    if (!(rc = emit_ledger_jw(m, "calibration.recorded", in->id, in->technician, t.details, &meta,
                              err)) &&
        !(rc = maintenance_item_commit(m, in->e, &o.next, in->now_ms, "calibration", err))) {
        write_calibration_answer(&out, in, verdict, &o, &t, &r, why);
        rc = emit_output_jw(m, "calibration.recorded", &out, err);
        if (rc == 0 && verdict->found_out)
            rc = report_oot_impact(m, &window, e, in->certificate, verdict->found_note, in->results,
                                   in->now_ms, err);
    }
    jw_release(&meta);
    jw_release(&out);
    oot_window_release(&window);
    return rc;
}

int handle_calibration_record(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    calibration_input in = {.now_ms = now_ms};
    int rc;
    if ((rc = parse_calibration(m, data, &in, err)) || (rc = answer_if_recorded(m, &in, err)) ||
        (rc = check_calibration_day(m, &in, err)))
        return rc < 0 ? rc : 0;
    if (!in.e->terms)
        return record_retired(m, &in, err);
    result_verdict verdict = {0};
    char why[REFERENCE_WHY_MAX];
    if ((rc = judge_calibration(m, &in, &verdict, why, err)))
        return rc;
    /* A reference not fit makes the record suspect, not void: a failure found with it is still
     * a failure (recorded, it fails the item, and as found it raises the impact); a result in
     * tolerance proves nothing, so the item stays as it was. */
    if (why[0] && !verdict.left_out)
        return record_suspect_pass(m, &in, &verdict, why, err);
    return record_calibration(m, &in, &verdict, why, err);
}

static const char *const schedule_keys[] = {"equipment_id", "technician", "provider", "notes",
                                            NULL};

int handle_calibration_schedule(maintenance *m, const json_t *data, int64_t now_ms,
                                smart_error *err)
{
    const char *id, *technician, *provider, *notes;
    int rc;
    if ((rc = jf_object(data, "data", schedule_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", true, &id, err)) ||
        (rc = jf_text(data, "data", "technician", true, TEXT_FIELD_MAX, &technician, err)) ||
        (rc = jf_text(data, "data", "provider", false, TEXT_FIELD_MAX, &provider, err)) ||
        (rc = jf_text(data, "data", "notes", false, 2000, &notes, err)))
        return rc;
    json_t *stated = json_object_get(data, "as_found_in_tolerance");
    if (stated && !json_is_boolean(stated))
        return error_set(err, SMART_EINVAL,
                         "data.as_found_in_tolerance: must be true or false (got %s)",
                         jf_type_name(stated));
    /* An item the station knew (it has history) and no contract in force names is retired: its
     * calibration is still recorded, for the review of the work it was used on. */
    equipment_state *e = maintenance_find(m, id);
    if (!e)
        return error_set(err, SMART_EINVAL,
                         "data.equipment_id: '%s' is not named by any contract in force", id);
    if (e->terms && stated)
        return error_set(err, SMART_EINVAL,
                         "data.as_found_in_tolerance: only for a retired item; %s is judged by "
                         "the tolerances of contract %s",
                         id, e->terms->owner->contract_id);
    if (!e->terms && !stated)
        return error_set(err, SMART_EINVAL,
                         "data.as_found_in_tolerance: missing required field (%s is retired: no "
                         "contract in force gives its tolerances, so the certificate's statement "
                         "of conformity as found is recorded)",
                         id);
    if (e->record.sent_out)
        return error_set(err, SMART_EINVAL,
                         "data.equipment_id: %s is already out for "
                         "calibration",
                         id);
    if ((rc = maintenance_catch_up(m, now_ms, err)))
        return rc;
    equipment_state next = *e;
    next.record.sent_out = true;
    next.sent_out_since_ms = now_ms; /* only a calibration performed after it ends it */
    char details[512];
    snprintf(details, sizeof details, "%s sent out for calibration%s%s", id, provider ? " to " : "",
             provider ? provider : "");
    jw text = {0}; /* the record's metadata, then the answer */
    jw_raw(&text, "{", 1);
    jw_member_raw(&text, "equipment_id", id);
    jw_member_string_or_null(&text, "provider", provider);
    jw_member_string_or_null(&text, "notes", notes);
    jw_raw(&text, "}", 1);
    if ((rc = emit_ledger_jw(m, "calibration.scheduled", id, technician, details, &text, err)) ||
        (rc = maintenance_item_commit(m, e, &next, now_ms, "calibration.schedule", err))) {
        jw_release(&text);
        return rc;
    }
    jw_reset(&text);
    jw_raw(&text, "{", 1);
    jw_member_raw(&text, "equipment_id", id);
    jw_member_raw(&text, "status", cal_status_name(CAL_PENDING));
    jw_member_bool(&text, "ready", false);
    jw_raw(&text, "}", 1);
    rc = emit_output_jw(m, "calibration.scheduled", &text, err);
    jw_release(&text);
    return rc;
}

static const char *const no_keys[] = {NULL};

int handle_calibration_sweep(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    int rc = jf_object(data, "data", no_keys, err);
    if (rc)
        return rc;
    size_t checked, transitions;
    if ((rc = maintenance_sweep(m, now_ms, &checked, &transitions, err)))
        return rc;
    char as_of[DATE_TEXT_MAX], details[128];
    instant_format(now_ms, as_of, sizeof as_of);
    snprintf(details, sizeof details, "Expiry sweep: %zu item(s) checked, %zu transition(s)",
             checked, transitions);
    jw meta = {0}, out = {0};
    jw_raw(&meta, "{", 1);
    jw_member_int(&meta, "checked", (int64_t)checked);
    jw_member_int(&meta, "transitions", (int64_t)transitions);
    jw_raw(&meta, "}", 1);
    jw_raw(&out, "{", 1);
    jw_member_raw(&out, "as_of", as_of);
    jw_member_int(&out, "checked", (int64_t)checked);
    jw_member_int(&out, "transitions", (int64_t)transitions);
    jw_raw(&out, "}", 1);
    if (!(rc = emit_ledger_jw(m, "sweep.completed", m->host->node_id, "system", details, &meta,
                              err)))
        rc = emit_output_jw(m, "sweep.completed", &out, err);
    jw_release(&meta);
    jw_release(&out);
    return rc;
}
