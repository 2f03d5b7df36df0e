/* finding_review.c — one record resting on a reference found out of tolerance, re-judged with
 * the size of the finding where it is known; see finding_review.h. */
#include "handlers/finding_review.h"

#include "core/decimal.h"
#include "core/finding_size.h"
#include "core/text.h"
#include "error.h"
#include "out/emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FINDING_POINTS_MAX 32

/* ---- what to review, bounded in the answer, complete in the pages ---- */

/* Room for one more row in `rows`; false when out of memory. */
static bool rows_room(review_rows *rows)
{
    if (rows->count < rows->cap)
        return true;
    size_t cap = rows->cap ? rows->cap * 2 : 256;
    size_t *grown = realloc(rows->ends, cap * sizeof *grown);
    if (!grown)
        return false;
    rows->ends = grown;
    rows->cap = cap;
    return true;
}

/* The row `i` of `rows`: its text from *start to *end. */
static void row_span(const review_rows *rows, size_t i, size_t *start, size_t *end)
{
    *start = i ? rows->ends[i - 1] + 1 : 0; /* past the comma */
    *end = rows->ends[i];
}

static void rows_release(review_rows *rows)
{
    jw_release(&rows->text);
    free(rows->ends);
    memset(rows, 0, sizeof *rows);
}

int review_pages_add_job(review_pages *pages, review_list_out *out, const char *list,
                         int64_t chain_index, const char *clientpo_id, int64_t decided_at_ms)
{
    char when[DATE_TEXT_MAX];
    instant_format(decided_at_ms, when, sizeof when);
    out->total++;
    if (pages->jobs_shown < REVIEW_JOBS_INLINE) {
        jw_sep(out->text);
        jw_raw(out->text, "{", 1);
        jw_member_string(out->text, "clientpo_id", clientpo_id);
        jw_member_string(out->text, "decided_at", when);
        jw_raw(out->text, "}", 1);
        out->listed++;
        pages->jobs_shown++;
    } else {
        pages->cut = true;
    }
    review_rows *rows = &pages->jobs;
    if (!rows_room(rows)) {
        pages->failed = true;
        return SMART_ENOMEM;
    }
    jw *r = &rows->text;
    jw_sep(r);
    jw_raw(r, "{", 1);
    jw_member_raw(r, "list", list);
    jw_member_string(r, "clientpo_id", clientpo_id);
    jw_member_string(r, "decided_at", when);
    if (chain_index >= 0)
        jw_member_int(r, "chain_index", chain_index);
    jw_raw(r, "}", 1);
    rows->ends[rows->count++] = r->len;
    if (!jw_text(r) || !jw_text(out->text)) {
        pages->failed = true;
        return SMART_ENOMEM;
    }
    return 0;
}

int review_pages_add_record(review_pages *pages, review_list_out *out, const char *list,
                            int64_t chain_index, const char *record, size_t len)
{
    out->total++;
    if (out->listed < REVIEW_RECORDS_INLINE) {
        jw_sep(out->text);
        jw_raw(out->text, record, len);
        out->listed++;
    } else {
        pages->cut = true;
    }
    review_rows *rows = &pages->records;
    if (!rows_room(rows)) {
        pages->failed = true;
        return SMART_ENOMEM;
    }
    jw *r = &rows->text;
    jw_sep(r);
    jw_raw(r, "{", 1);
    jw_member_raw(r, "list", list);
    if (chain_index >= 0)
        jw_member_int(r, "chain_index", chain_index);
    jw_key(r, "record");
    jw_raw(r, record, len);
    jw_raw(r, "}", 1);
    rows->ends[rows->count++] = r->len;
    if (!jw_text(r) || !jw_text(out->text)) {
        pages->failed = true;
        return SMART_ENOMEM;
    }
    return 0;
}

void review_list_close(jw *w, const char *key, const review_list_out *out)
{
    if (out->listed < out->total)
        jw_member_int(w, key, (int64_t)out->total);
}

/* The pages run over the jobs, then the records: row i of the whole is job i, or record
 * i - jobs.count. */
static size_t row_bytes(const review_pages *p, size_t i)
{
    size_t start, end;
    if (i < p->jobs.count)
        row_span(&p->jobs, i, &start, &end);
    else
        row_span(&p->records, i - p->jobs.count, &start, &end);
    return end - start + 1;
}

/* The row after `from` that starts the next page: rows are added while the page stays within
 * REVIEW_PAGE_BYTES (one row at least: a row is at most a chain entry, far below). */
static size_t page_end(const review_pages *p, size_t from)
{
    size_t total = p->jobs.count + p->records.count, to = from + 1, bytes = row_bytes(p, from);
    while (to < total && bytes + row_bytes(p, to) <= REVIEW_PAGE_BYTES)
        bytes += row_bytes(p, to++);
    return to;
}

static size_t page_count(const review_pages *p)
{
    size_t pages = 0, total = p->jobs.count + p->records.count;
    for (size_t at = 0; at < total; at = page_end(p, at))
        pages++;
    return pages;
}

void review_pages_write_member(jw *w, const review_pages *pages)
{
    if (!pages->cut)
        return;
    jw_key(w, "review_pages");
    jw_raw(w, "{", 1);
    jw_member_raw(w, "topic", "review.page");
    jw_member_int(w, "pages", (int64_t)page_count(pages));
    jw_member_int(w, "jobs", (int64_t)pages->jobs.count);
    jw_member_int(w, "records", (int64_t)pages->records.count);
    jw_raw(w, "}", 1);
}

/* `"key":[rows from..to)` of one series. */
static void write_rows(jw *w, const char *key, const review_rows *rows, size_t from, size_t to)
{
    jw_key(w, key);
    jw_raw(w, "[", 1);
    if (from < to) {
        size_t start, end, ignored;
        row_span(rows, from, &start, &ignored);
        row_span(rows, to - 1, &ignored, &end);
        jw_raw(w, rows->text.text + start, end - start);
    }
    jw_raw(w, "]", 1);
}

int review_pages_emit(maintenance *m, const review_pages *p, const char *of, const jw *ident,
                      const char *target, smart_error *err)
{
    if (p->failed)
        return error_set(err, SMART_ENOMEM, "out of memory");
    if (!p->cut)
        return 0;
    size_t pages = page_count(p), page = 0, jobs = p->jobs.count;
    size_t total = jobs + p->records.count;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < total; page++) {
        size_t to = page_end(p, at);
        jw data = {0};
        jw_raw(&data, "{", 1);
        jw_member_raw(&data, "of", of);
        jw_raw(&data, ",", 1);
        jw_append(&data, ident);
        jw_member_int(&data, "page", (int64_t)page + 1);
        jw_member_int(&data, "pages", (int64_t)pages);
        jw_member_int(&data, "jobs_total", (int64_t)jobs);
        jw_member_int(&data, "records_total", (int64_t)p->records.count);
        write_rows(&data, "jobs", &p->jobs, at < jobs ? at : jobs, to < jobs ? to : jobs);
        write_rows(&data, "records", &p->records, at > jobs ? at - jobs : 0,
                   to > jobs ? to - jobs : 0);
        jw_raw(&data, "}", 1);
        char details[300];
        snprintf(details, sizeof details,
                 "What to review for the %s of %s, page %zu of %zu (%zu job(s) and %zu record(s) "
                 "in all)",
                 of, target, page + 1, pages, jobs, p->records.count);
        text_utf8_trim(details);
        rc = emit_ledger_jw(m, "review.page", target, "system", details, &data, err);
        if (rc == 0)
            rc = emit_output_jw(m, "review.page", &data, err);
        jw_release(&data);
        at = to;
    }
    return rc;
}

void review_pages_release(review_pages *pages)
{
    rows_release(&pages->jobs);
    rows_release(&pages->records);
    memset(pages, 0, sizeof *pages);
}

int id_set_add(id_set *set, const char *id)
{
    if ((!set->list && !(set->list = json_array())) || (!set->seen && !(set->seen = json_object())))
        return SMART_ENOMEM;
    if (json_object_get(set->seen, id))
        return 0;
    return json_object_set_new(set->seen, id, json_true()) ||
                   json_array_append_new(set->list, json_string(id))
               ? SMART_ENOMEM
               : 0;
}

size_t id_set_size(const id_set *set)
{
    return json_array_size(set->list);
}

void id_set_release(id_set *set)
{
    json_decref(set->list);
    json_decref(set->seen);
    set->list = set->seen = NULL;
}

void review_write_ids(jw *w, const char *key, const id_set *ids)
{
    size_t i, n = id_set_size(ids);
    json_t *id;
    jw_key(w, key);
    jw_raw(w, "[", 1);
    json_array_foreach (ids->list, i, id) {
        if (i == REVIEW_IDS_INLINE)
            break;
        jw_sep(w);
        jw_string(w, json_string_value(id));
    }
    jw_raw(w, "]", 1);
    if (n > REVIEW_IDS_INLINE) {
        char total[64];
        snprintf(total, sizeof total, "%s_total", key);
        jw_member_int(w, total, (int64_t)n);
    }
}

/* ---- one record resting on the reference ---- */

/* The tests allowed with an item in [since, until), written into the entry's array; each
 * ClientPO also noted once in the chain's ids. */
typedef struct job_window {
    review_list_out out;
    review_pages *jobs;
    int64_t chain_index;
    id_set *chain_ids;
    int64_t until_ms;
} job_window;

static int collect_job(void *ctx, const char *clientpo_id, int64_t decided_at_ms)
{
    job_window *w = ctx;
    if (decided_at_ms >= w->until_ms)
        return 0;
    if (review_pages_add_job(w->jobs, &w->out, "chain", w->chain_index, clientpo_id, decided_at_ms))
        return SMART_ENOMEM;
    return id_set_add(w->chain_ids, clientpo_id);
}

/* entry.clientpos: the tests allowed with `item` at or after since_ms and before until_ms (from
 * the store: the whole history, as a record deeper in the chain may predate the usage index's
 * window). */
static int add_jobs(maintenance *m, const char *item, int64_t since_ms, int64_t until_ms, jw *entry,
                    id_set *chain_ids, review_pages *jobs, int64_t chain_index, smart_error *err)
{
    job_window w = {.out = {.text = entry},
                    .jobs = jobs,
                    .chain_index = chain_index,
                    .chain_ids = chain_ids,
                    .until_ms = until_ms};
    jw_key(entry, "clientpos");
    jw_raw(entry, "[", 1);
    int rc = maintenance_find(m, item)
                 ? store_allowed_tests_with(m->store, item, since_ms, collect_job, &w, err)
                 : 0;
    jw_raw(entry, "]", 1);
    review_list_close(entry, "clientpo_count", &w.out);
    return rc == SMART_ENOMEM ? error_set(err, SMART_ENOMEM, "out of memory") : rc;
}

/* The finding's points in `unit`: each result with a nominal and an as-found value, its unit
 * as given or as the reference's tolerance at that point says. */
static size_t finding_points(const reference_finding *f, const char *unit, finding_point *points)
{
    size_t n = 0, i;
    json_t *r;
    json_array_foreach (f->results, i, r) {
        const json_t *nominal = json_object_get(r, "nominal"),
                     *found = json_object_get(r, "as_found");
        const char *parameter = json_string_value(json_object_get(r, "parameter"));
        const char *given = json_string_value(json_object_get(r, "unit"));
        if (!json_is_number(nominal) || !json_is_number(found) || n == FINDING_POINTS_MAX)
            continue;
        for (size_t k = 0; !given && parameter && f->reference && f->reference->terms &&
                           k < f->reference->terms->tolerance_count;
             k++) {
            const tolerance *t = &f->reference->terms->tolerances[k];
            if (strcmp(t->parameter, parameter) == 0 &&
                (!t->has_nominal || t->nominal == json_number_value(nominal)))
                given = t->unit;
        }
        if (!given || strcmp(given, unit) != 0)
            continue;
        if (decimal_from_double(json_number_value(nominal), &points[n].nominal) &&
            decimal_from_double(json_number_value(found), &points[n].as_found))
            n++;
    }
    return n;
}

/* One reading re-judged: appended to `rejudged`; 1 when it would have failed, 0 when not, -1
 * when it cannot be re-judged (no point of the finding in its unit, or not exactly). */
static int rejudge(const reference_finding *f, const char *name, const char *unit, double value,
                   const bool *against_nominal, double nominal, const finding_limits *limits,
                   const char *limit_text, jw *rejudged, char *why, size_t why_size)
{
    finding_point points[FINDING_POINTS_MAX];
    size_t count = finding_points(f, unit, points);
    decimal v, n = {0, 0};
    finding_size size;
    corrected_value c;
    if (!decimal_from_double(value, &v) || (against_nominal && !decimal_from_double(nominal, &n)) ||
        !finding_size_pick(points, count, against_nominal ? n : v, &size) ||
        !(against_nominal ? finding_correct_against_nominal(&size, v, n, &c)
                          : finding_correct_reading(&size, v, &c)))
        return -1;
    int within = finding_within(&c, limits);
    if (within < 0)
        return -1;
    jw_sep(rejudged);
    jw_raw(rejudged, "{", 1);
    jw_member_string(rejudged, "step", name);
    jw_member_string(rejudged, "unit", unit);
    jw_member_real(rejudged, "value", value);
    jw_member_real(rejudged, "corrected", corrected_value_to_double(&c));
    jw_member_string(rejudged, "limit", limit_text);
    jw_key(rejudged, "finding_size");
    jw_raw(rejudged, "{", 1);
    jw_member_real(rejudged, "nominal", decimal_to_double(size.nominal));
    jw_member_real(rejudged, "as_found", decimal_to_double(size.as_found));
    jw_member_string(rejudged, "rule", size.rule == FINDING_OFFSET ? "offset" : "proportional");
    jw_raw(rejudged, "}", 1);
    jw_member_bool(rejudged, "would_have_failed", !within);
    if (against_nominal)
        jw_member_real(rejudged, "nominal", nominal);
    jw_raw(rejudged, "}", 1);
    if (!within && !why[0]) { /* the first that would have failed: enough to say why */
        char shown[DECIMAL_TEXT_MAX];
        decimal_format_double(value, shown, sizeof shown);
        snprintf(why, why_size, "%s %s %s corrected to %.6g, outside %s", name, shown, unit,
                 corrected_value_to_double(&c), limit_text);
        text_utf8_trim(why);
    }
    return !within;
}

/* Writes the re-judgement's members into `entry` from `rejudged` (released here) and the
 * count; with `named`, `why` (the first reading that would have failed) becomes the sentence
 * naming the reference and its certificate. */
static int finish(const reference_finding *f, jw *entry, jw *rejudged, size_t judged, bool failed,
                  bool named, const char *not_why, char *why, size_t why_size, smart_error *err)
{
    if (judged == 0) {
        jw_key(entry, "finding_size");
        jw_lit(entry, "null");
        jw_key(entry, "would_have_failed");
        jw_lit(entry, "null");
        jw_member_string(entry, "not_rejudged", not_why);
    } else {
        jw_key(entry, "rejudged");
        jw_raw(entry, "[", 1);
        jw_append(entry, rejudged);
        jw_raw(entry, "]", 1);
        jw_member_bool(entry, "would_have_failed", failed);
    }
    jw_release(rejudged);
    int rc = jw_text(entry) ? 0 : 1;
    if (failed && named) {
        char head[FINDING_WHY_MAX];
        snprintf(head, sizeof head, "would have failed: %s, by the finding of %s (certificate %s)",
                 why, f->reference_id, f->certificate);
        snprintf(why, why_size, "%s", head);
        text_utf8_trim(why);
    }
    return rc ? error_set(err, SMART_ENOMEM, "out of memory") : 0;
}

static const char *const SIZE_UNKNOWN =
    "the size of the finding is known only for the reference found out of tolerance; this "
    "record rests on it through another record";

int finding_review_check(maintenance *m, const reference_finding *finding, const char *item,
                         const char *procedure_id, int64_t at_ms, jw *entry, id_set *chain_ids,
                         review_pages *jobs, int64_t chain_index, bool *failed, char *why,
                         size_t why_size, smart_error *err)
{
    char *readings = NULL;
    bool has_next = false;
    int64_t next_ms = 0;
    *failed = false;
    why[0] = '\0';
    int rc = store_check_record(m->store, item, procedure_id, at_ms, &readings, &has_next, &next_ms,
                                err);
    if (rc < 0)
        return rc;
    rc = add_jobs(m, item, at_ms, has_next ? next_ms : INT64_MAX, entry, chain_ids, jobs,
                  chain_index, err);
    check_state c = {0};
    store_check_steps_from_json(&c, readings);
    free(readings);
    if (rc)
        return rc;
    jw rejudged = {0};
    /* The steps of the procedure in force: their limits are what a reading is judged by. */
    const equipment_state *e = maintenance_find(m, item);
    const procedure *p = NULL;
    for (size_t i = 0; e && e->terms && i < e->terms->procedure_count && !p; i++)
        if (strcmp(e->terms->procedures[i]->procedure_id, procedure_id) == 0)
            p = e->terms->procedures[i];
    size_t judged = 0;
    const char *not_why = !finding ? SIZE_UNKNOWN
                          : !p     ? "the procedure is not in force for the item"
                                   : "no reading of it is in a unit the finding gives an as-found "
                                     "value for";
    for (size_t i = 0; finding && p && i < p->step_count; i++) {
        const check_step *s = &p->steps[i];
        for (size_t k = 0; s->is_reading && s->unit && k < c.step_count; k++) {
            const check_step_answer *a = &c.steps[k];
            if (strcmp(a->step_id, s->step_id) != 0 || !a->has_value)
                continue;
            char limit[128];
            check_step_limit_text(s, limit, sizeof limit);
            finding_limits l = {s->has_min, s->has_max, s->low, s->high};
            int r = rejudge(finding, s->step_id, s->unit, a->value, NULL, 0, &l, limit, &rejudged,
                            why, why_size);
            judged += r >= 0;
            *failed = *failed || r == 1;
        }
    }
    return finish(finding, entry, &rejudged, judged, *failed, true, not_why, why, why_size, err);
}

int finding_review_calibration(maintenance *m, const reference_finding *finding, const char *item,
                               const char *certificate, int64_t since_ms, jw *entry,
                               id_set *chain_ids, review_pages *jobs, int64_t chain_index,
                               bool *failed, char *why, size_t why_size, int64_t *until_ms,
                               smart_error *err)
{
    char *text = NULL;
    bool has_next = false;
    int64_t next_ms = 0;
    *failed = false;
    why[0] = '\0';
    int rc = store_calibration_record(m->store, item, certificate, &text, &has_next, &next_ms, err);
    if (rc < 0)
        return rc;
    *until_ms = has_next ? next_ms : INT64_MAX;
    rc = add_jobs(m, item, since_ms, *until_ms, entry, chain_ids, jobs, chain_index, err);
    if (rc) {
        free(text);
        return rc;
    }
    json_t *results = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    jw rejudged = {0};
    const equipment_state *e = maintenance_find(m, item);
    const contract_item *terms = e ? e->terms : NULL;
    size_t judged = 0, i;
    json_t *r;
    const char *not_why = !finding ? SIZE_UNKNOWN
                          : !terms ? "no contract in force gives the item's tolerances"
                                   : "none of its results is at a calibration point (a nominal) "
                                     "in a unit the finding gives an as-found value for";
    json_array_foreach (finding &&terms ? results : NULL, i, r) {
        const char *parameter = json_string_value(json_object_get(r, "parameter"));
        const json_t *nominal = json_object_get(r, "nominal"),
                     *value = json_object_get(r, "as_left");
        if (!json_is_number(value))
            value = json_object_get(r, "as_found");
        if (!parameter || !json_is_number(value))
            continue;
        /* Its tolerance point in force; the value the reference gave is that point's nominal. */
        const tolerance *t = NULL;
        for (size_t k = 0; k < terms->tolerance_count && !t; k++) {
            const tolerance *c = &terms->tolerances[k];
            if (strcmp(c->parameter, parameter) == 0 && c->has_nominal &&
                (!nominal || c->nominal == json_number_value(nominal)))
                t = c;
        }
        if (!t)
            continue; /* a limit with no nominal: what the reference gave is not known */
        char limit[128], name[160];
        tolerance_text(t, limit, sizeof limit);
        snprintf(name, sizeof name, "%s", parameter);
        finding_limits l = {t->has_min, t->has_max, t->low, t->high};
        bool against = true;
        int rj = rejudge(finding, name, t->unit, json_number_value(value), &against, t->nominal, &l,
                         limit, &rejudged, why, why_size);
        judged += rj >= 0;
        *failed = *failed || rj == 1;
    }
    json_decref(results);
    return finish(finding, entry, &rejudged, judged, *failed, false, not_why, why, why_size, err);
}
