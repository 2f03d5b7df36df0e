/* handle_equipment.c — the item's life at the station: maintenance checks evaluated step by
 * step against the contract's limits, tagging out of service, and returning to service. */
#include "core/text.h"
#include "error.h"
#include "handlers/finding_review.h"
#include "maintenance.h"
#include "out/emit.h"
#include "json/json_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_FIELD_MAX 256

static equipment_state *known_item(maintenance *m, const char *id, smart_error *err)
{
    equipment_state *e = maintenance_find(m, id);
    if (!e || !e->terms) {
        error_set(err, SMART_EINVAL,
                  "data.equipment_id: '%s' is not named by any contract in force", id);
        return NULL;
    }
    return e;
}

/* Answers an equipment change with the item's state after it. */
static int emit_updated(maintenance *m, const equipment_state *e, const char *action,
                        int64_t now_ms, smart_error *err)
{
    readiness r;
    maintenance_readiness(m, e, now_ms, 0, &r);
    jw out = {0};
    jw_raw(&out, "{", 1);
    jw_member_raw(&out, "action", action);
    jw_key(&out, "item");
    emit_item_write(&out, e->equipment_id, e, &r);
    jw_raw(&out, "}", 1);
    int rc = emit_output_jw(m, "equipment.updated", &out, err);
    jw_release(&out);
    return rc;
}

static const procedure *find_procedure(const contract_item *item, const char *id)
{
    for (size_t i = 0; i < item->procedure_count; i++)
        if (strcmp(item->procedures[i]->procedure_id, id) == 0)
            return item->procedures[i];
    return NULL;
}

static const char *const check_keys[] = {
    "equipment_id", "check_type",           "technician", "readings",
    "attestations", "reference_instrument", "notes",      NULL};

/* Every key of readings/attestations must be a step of the right kind. */
static int check_step_keys(const json_t *values, const char *path, const procedure *p,
                           bool readings, smart_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)values, key, value) {
        bool known = false;
        for (size_t i = 0; i < p->step_count && !known; i++)
            known = strcmp(p->steps[i].step_id, key) == 0 &&
                    (p->steps[i].is_reading == readings ||
                     (!readings && p->steps[i].needs_attestation)); /* attesting a reading */
        if (!known)
            return error_set(err, SMART_EINVAL, "%s.%s: not a %s step of procedure %s", path, key,
                             readings ? "number" : "checkbox", p->procedure_id);
    }
    return 0;
}

/* Judges the reference instrument a check names (maintenance_judge_reference): one that is
 * unknown, retired or the item itself is bad input, refused; a known one that is not fit is
 * evidence about the check: 0, with *why (size bytes) saying why; "" when it is fit. */
static int judge_reference(maintenance *m, const char *reference, const char *id,
                           const reference_needs *needs, const char *used_for, int64_t now_ms,
                           char *why, size_t size, smart_error *err)
{
    return maintenance_judge_reference(m, "data.reference_instrument", reference, id, needs,
                                       used_for, now_ms, false, now_ms, why, size, err);
}

/* One step's result: `given` NULL when the step was not taken. */
static void write_step(jw *w, const check_step *s, const check_step_answer *given, bool passed,
                       const char *limit, const bool *attested)
{
    jw_sep(w);
    jw_raw(w, "{", 1);
    jw_member_string(w, "step_id", s->step_id);
    jw_member_string(w, "description", s->description);
    jw_member_bool(w, "passed", given ? passed : false);
    if (!given)
        jw_member_bool(w, "taken", false);
    else if (s->is_reading)
        jw_member_real(w, "value", given->value);
    else
        jw_member_bool(w, "attested", passed);
    if (s->is_reading) {
        jw_member_string(w, "unit", s->unit);
        jw_member_string(w, "limit", limit);
    }
    if (attested)
        jw_member_bool(w, "attested", *attested);
    if (s->reference_value)
        jw_member_string(w, "reference_value", s->reference_value);
    if (s->reference_reading[0])
        jw_member_string(w, "reference_read_as", s->reference_reading);
    jw_raw(w, "}", 1);
}

/* The tests to review after a failed check, as the store lists them: their text (`text`, the
 * caller's: {"clientpos":[{clientpo_id, decided_at}],"since":...}, the first
 * REVIEW_JOBS_INLINE of them: finding_review.h), every one in `pages`, each
 * ClientPO once for the alert (`ids`: "a","b", owned, the first REVIEW_IDS_INLINE; `seen`
 * all of them, as a set) and how many tests. `gathered`: the check failed. */
typedef struct review_list {
    jw *text;
    review_list_out out;
    review_pages pages;
    jw ids;
    json_t *seen;
    size_t count;
    bool gathered;
} review_list;

static void review_list_release(review_list *list)
{
    jw_release(&list->ids);
    review_pages_release(&list->pages);
    json_decref(list->seen);
    list->seen = NULL;
}

static int collect_review(void *ctx, const char *clientpo_id, int64_t decided_at_ms)
{
    review_list *list = ctx;
    list->count++;
    if (review_pages_add_job(&list->pages, &list->out, "review", -1, clientpo_id, decided_at_ms))
        return SMART_ENOMEM;
    /* A ClientPO tested twice is one job. */
    if (json_object_get(list->seen, clientpo_id))
        return 0;
    if (json_object_set_new(list->seen, clientpo_id, json_true()))
        return SMART_ENOMEM;
    if (json_object_size(list->seen) <= REVIEW_IDS_INLINE) {
        jw_sep(&list->ids);
        jw_string(&list->ids, clientpo_id);
    }
    return jw_text(&list->ids) ? 0 : SMART_ENOMEM;
}

/* A maintenance check as given, validated: its fields, the item, the procedure and the
 * reference instrument judged (suspect_why "" when fit). Borrowed from the event and m. */
typedef struct check_input {
    const char *id, *type, *technician, *reference, *notes;
    const json_t *readings, *attestations;
    equipment_state *e;
    const procedure *p;
    char suspect_why[REFERENCE_WHY_MAX];
} check_input;

/* The check's fields and types, the item and its procedure. */
static int parse_check(maintenance *m, const json_t *data, check_input *in, smart_error *err)
{
    int rc;
    in->readings = json_object_get(data, "readings");
    in->attestations = json_object_get(data, "attestations");
    if ((rc = jf_object(data, "data", check_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", true, &in->id, err)) ||
        (rc = jf_id(data, "data", "check_type", true, &in->type, err)) ||
        (rc = jf_text(data, "data", "technician", true, TEXT_FIELD_MAX, &in->technician, err)) ||
        (rc = jf_id(data, "data", "reference_instrument", false, &in->reference, err)) ||
        (rc = jf_text(data, "data", "notes", false, 2000, &in->notes, err)))
        return rc;
    if (in->readings && !json_is_object(in->readings))
        return error_set(err, SMART_EINVAL, "data.readings: must be an object (got %s)",
                         jf_type_name(in->readings));
    if (in->attestations && !json_is_object(in->attestations))
        return error_set(err, SMART_EINVAL, "data.attestations: must be an object (got %s)",
                         jf_type_name(in->attestations));
    if (!(in->e = known_item(m, in->id, err)))
        return SMART_EINVAL;
    const contract_item *terms = in->e->terms;
    if (!(in->p = find_procedure(terms, in->type))) {
        char known[256] = "";
        for (size_t i = 0; i < terms->procedure_count; i++)
            text_append(known, sizeof known, ", ", terms->procedures[i]->procedure_id);
        return error_set(err, SMART_EINVAL,
                         "data.check_type: '%s' is not a procedure for %s in "
                         "contract %s (its procedures: %s)",
                         in->type, in->id, terms->owner->contract_id, known[0] ? known : "none");
    }
    return 0;
}

/* The reference instrument the procedure needs, judged, and the answers' keys. */
static int validate_check(maintenance *m, check_input *in, int64_t now_ms, smart_error *err)
{
    const procedure *p = in->p;
    int rc;
    if (p->needs_reference && !in->reference)
        return error_set(err, SMART_EINVAL,
                         "data.reference_instrument: missing required field "
                         "(procedure %s needs the instrument the readings were taken with)",
                         p->procedure_id);
    /* The reference must measure what is read: one the procedure accepts by id or type, or,
     * where it names none, one calibrated in the unit of every reading. */
    reference_needs needs = {.count = 0};
    if (p->references)
        reference_needs_add(&needs, p->references, NULL);
    else
        for (size_t i = 0; i < p->step_count; i++)
            if (p->steps[i].is_reading && p->steps[i].unit)
                reference_needs_add(&needs, NULL, p->steps[i].unit);
    char used_for[80];
    snprintf(used_for, sizeof used_for, "procedure %s", p->procedure_id);
    in->suspect_why[0] = '\0';
    if ((in->reference && (rc = judge_reference(m, in->reference, in->id, &needs, used_for, now_ms,
                                                in->suspect_why, sizeof in->suspect_why, err))) ||
        (in->readings && (rc = check_step_keys(in->readings, "data.readings", p, true, err))) ||
        (in->attestations &&
         (rc = check_step_keys(in->attestations, "data.attestations", p, false, err))))
        return rc;
    return 0;
}

/* Evaluates every step against its limit into *check and writes the steps into `steps` (an
 * array). A step not answered was not taken: it fails (a lamp that does not strike gives no
 * reading), so a failure can always be recorded. */
static int judge_steps(const check_input *in, int64_t now_ms, check_state *check, jw *steps,
                       smart_error *err)
{
    const procedure *p = in->p;
    *check = (check_state){.performed_ms = now_ms, .passed = true};
    snprintf(check->equipment_id, sizeof check->equipment_id, "%s", in->id);
    snprintf(check->procedure_id, sizeof check->procedure_id, "%s", p->procedure_id);
    jw_raw(steps, "[", 1);
    for (size_t i = 0; i < p->step_count; i++) {
        const check_step *s = &p->steps[i];
        char limit[96], line[CHECK_DETAIL_MAX];
        json_t *answer =
            json_object_get(s->is_reading ? in->readings : in->attestations, s->step_id);
        if (answer && (s->is_reading ? !json_is_number(answer) : !json_is_boolean(answer)))
            return s->is_reading ? error_set(err, SMART_EINVAL,
                                             "data.readings.%s: must be a number (step "
                                             "\"%.80s\" needs a reading in %s)",
                                             s->step_id, s->description, s->unit)
                                 : error_set(err, SMART_EINVAL,
                                             "data.attestations.%s: must be true or false "
                                             "(step \"%.80s\")",
                                             s->step_id, s->description);
        check_step_answer given = {.taken = answer != NULL,
                                   .has_value = answer && s->is_reading,
                                   .value = answer && s->is_reading ? json_number_value(answer) : 0,
                                   .attested = json_is_true(answer)};
        bool passed = check_step_judge(s, &given, limit, sizeof limit, line, sizeof line);
        if (line[0])
            text_append(check->detail, sizeof check->detail, "; ", line);
        /* A reference_value the module cannot check: the reading needs an attestation that it
         * meets the text. */
        bool attested = false, *attestation = NULL;
        if (answer && s->is_reading && s->needs_attestation) {
            attested = json_is_true(json_object_get(in->attestations, s->step_id));
            attestation = &attested;
            if (passed && !attested) {
                passed = false;
                snprintf(line, sizeof line, "%s not attested to meet its reference value",
                         s->step_id);
                text_append(check->detail, sizeof check->detail, "; ", line);
            }
        }
        write_step(steps, s, answer ? &given : NULL, passed, limit, attestation);
        check->passed = check->passed && passed;
    }
    jw_raw(steps, "]", 1);
    /* Made with a reference that was not fit, the check is recorded, marked suspect: a pass
     * then counts as not done (it verifies nothing and is not kept as the last check), a failed
     * step still fails the item. */
    check->suspect = in->suspect_why[0] != '\0';
    if (check->suspect) {
        char line[CHECK_DETAIL_MAX];
        snprintf(line, sizeof line, "suspect: reference %s not fit", in->reference);
        text_append(check->detail, sizeof check->detail, "; ", line);
    }
    return jw_text(steps) ? 0 : error_set(err, SMART_ENOMEM, "out of memory");
}

/* What the check does to the item: a pass that counts verifies it, unless it was tagged out by
 * another procedure's failure; a failure of a procedure that tags out tags it out. 0 or
 * SMART_ENOMEM. */
static int decide_item(maintenance *m, const check_input *in, const check_state *check, bool counts,
                       int64_t now_ms, equipment_state *next, smart_error *err)
{
    const equipment_state *e = in->e;
    const procedure *p = in->p;
    *next = *e;
    bool tagged_by_other = e->record.out_of_service && e->out_of_service_procedure[0] &&
                           strcmp(e->out_of_service_procedure, p->procedure_id) != 0;
    if (counts && !tagged_by_other)
        next->last_verification_ms = now_ms;
    else if (!check->passed && p->out_of_service_on_fail && !next->record.out_of_service) {
        next->record.out_of_service = true;
        next->out_of_service_since_ms = now_ms;
        char reason[NOTE_MAX] = "";
        text_append(reason, NOTE_MAX, "", "failed ");
        text_append(reason, NOTE_MAX, "", p->procedure_id);
        text_append(reason, NOTE_MAX, ": ", check->detail);
        if (!(next->out_of_service_procedure =
                  maintenance_text(m, p->procedure_id, PROCEDURE_ID_MAX, err)) ||
            !(next->out_of_service_reason = maintenance_text(m, reason, NOTE_MAX, err)))
            return SMART_ENOMEM;
    }
    return 0;
}

/* Stores the check (its steps as text) and, unless a suspect pass, keeps it as the last. */
static int persist_check(maintenance *m, const check_input *in, check_state *check,
                         int64_t valid_until_ms, const jw *steps, smart_error *err)
{
    const char *text = jw_text(steps);
    int rc = store_add_check(m->store, check, valid_until_ms, in->technician, in->reference, text,
                             in->suspect_why, err);
    store_check_steps_from_json(check, text);          /* judged again on a redeploy */
    if (rc == 0 && !(check->passed && check->suspect)) /* a suspect pass is history only */
        rc = maintenance_put_check(m, check, err);
    return rc;
}

/* ISO/IEC 17025 §7.10 for a process check: the work done on the item since the procedure last
 * passed (or since its first use) relied on the condition now found failed. From the store's
 * whole history: a calibration does not re-verify a process condition. On success *list holds
 * the tests, `review` (the caller's) their text and `since` (DATE_TEXT_MAX) the last pass. */
static int gather_review(maintenance *m, const check_input *in, review_list *list, jw *review,
                         char *since, smart_error *err)
{
    int64_t last_pass_ms = 0;
    int rc = store_last_pass(m->store, in->id, in->p->procedure_id, &last_pass_ms, err);
    if (rc == 1)
        last_pass_ms = 0; /* never passed: every test allowed with it */
    if (rc < 0)
        return rc;
    list->text = review;
    list->out.text = review;
    list->gathered = true;
    if (!(list->seen = json_object()))
        return error_set(err, SMART_ENOMEM, "out of memory");
    jw_raw(review, "{\"clientpos\":[", 14);
    if ((rc = store_allowed_tests_with(m->store, in->e->equipment_id, last_pass_ms, collect_review,
                                       list, err)))
        return rc == SMART_ENOMEM ? error_set(err, SMART_ENOMEM, "out of memory") : rc;
    jw_raw(review, "]", 1);
    review_list_close(review, "clientpo_count", &list->out);
    if (last_pass_ms > 0) {
        instant_format(last_pass_ms, since, DATE_TEXT_MAX);
        jw_member_raw(review, "since", since);
    }
    review_pages_write_member(review, &list->pages);
    jw_raw(review, "}", 1);
    return jw_text(review) ? 0 : error_set(err, SMART_ENOMEM, "out of memory");
}

/* The ledger record's sentence (details, size bytes). */
static void check_details(const check_input *in, const check_state *check, bool counts,
                          bool tagged_now, const char *until, const review_list *review,
                          const char *review_since, char *details, size_t size)
{
    const procedure *p = in->p;
    if (counts)
        snprintf(details, size, "%s check %s on %s passed; valid until %s", p->frequency_label,
                 p->procedure_id, in->id, until);
    else if (check->passed)
        snprintf(details, size,
                 "%s check %s on %s SUSPECT, not counted: every step within its limit, but %s",
                 p->frequency_label, p->procedure_id, in->id, in->suspect_why);
    else
        snprintf(details, size, "%s check %s on %s FAILED: %s%s", p->frequency_label,
                 p->procedure_id, in->id, check->detail,
                 tagged_now ? "; tagged out of service" : "");
    if (review->gathered) {
        char line[160];
        snprintf(line, sizeof line, "; %zu test(s) allowed with it since %s to review",
                 review->count,
                 review_since[0] ? review_since : "its first use (the procedure never passed)");
        text_append(details, size, "", line);
    }
    text_utf8_trim(details);
}

/* The members both the record and the answer end with: suspect, then review. */
static void write_check_tail(jw *w, const check_input *in, const check_state *check,
                             const jw *review)
{
    if (check->suspect) {
        jw_member_bool(w, "suspect", true);
        jw_member_string(w, "suspect_reason", in->suspect_why);
    }
    if (review->len) {
        jw_key(w, "review");
        jw_append(w, review);
    }
    jw_raw(w, "}", 1);
}

static int record_check(maintenance *m, const check_input *in, const check_state *check,
                        bool counts, const jw *steps, const jw *review, const char *details,
                        smart_error *err)
{
    jw meta = {0};
    jw_raw(&meta, "{", 1);
    jw_member_raw(&meta, "equipment_id", in->id);
    jw_member_string(&meta, "check_type", in->p->procedure_id);
    /* How often it is due, for a compliance report read from the ledger alone. */
    jw_member_string(&meta, "frequency", in->p->frequency_text);
    jw_member_int(&meta, "every", in->p->every);
    if (in->p->frequency != FREQ_DAYS) { /* per shift and every N hours follow the shifts */
        const contract *c = in->p->owner;
        jw_key(&meta, "shift_starts");
        jw_raw(&meta, "[", 1);
        for (size_t i = 0; i < c->shift_count; i++) {
            char hhmm[8];
            snprintf(hhmm, sizeof hhmm, "%02d:%02d", c->shift_starts[i] / 60 % 100,
                     c->shift_starts[i] % 60);
            jw_sep(&meta);
            jw_string_raw(&meta, hhmm);
        }
        jw_raw(&meta, "]", 1);
    }
    jw_member_bool(&meta, "passed", counts);
    jw_key(&meta, "steps");
    jw_append(&meta, steps);
    jw_member_string_or_null(&meta, "reference_instrument", in->reference);
    write_check_tail(&meta, in, check, review);
    int rc = emit_ledger_jw(m, "maintenance.checked", in->id, in->technician, details, &meta, err);
    jw_release(&meta);
    return rc;
}

/* The answer: the check and the item's state after it. A suspect pass fails nothing: the item
 * stands as it did, and the answer says why the check was not counted. */
static int answer_check(maintenance *m, const check_input *in, const check_state *check,
                        bool counts, const jw *steps, const jw *review, const char *until,
                        int64_t now_ms, smart_error *err)
{
    char when[DATE_TEXT_MAX];
    instant_format(now_ms, when, sizeof when);
    readiness r;
    maintenance_readiness(m, in->e, now_ms, 0, &r);
    jw out = {0};
    jw_raw(&out, "{", 1);
    jw_member_raw(&out, "equipment_id", in->id);
    jw_member_string(&out, "check_type", in->p->procedure_id);
    jw_member_raw(&out, "performed_at", when);
    jw_member_bool(&out, "passed", counts);
    jw_member_string(&out, "technician", in->technician);
    jw_key(&out, "steps");
    jw_append(&out, steps);
    jw_member_raw(&out, "status", cal_status_name(r.calibration.status));
    jw_member_bool(&out, "ready", r.ready);
    jw_member_string(&out, "reason", r.reason);
    if (counts)
        jw_member_raw(&out, "valid_until", until);
    write_check_tail(&out, in, check, review);
    int rc = emit_output_jw(m, "maintenance.checked", &out, err);
    jw_release(&out);
    return rc;
}

/* The alert of a failed check, naming each ClientPO to review once. */
static int alert_check_failed(maintenance *m, const check_input *in, const review_list *review,
                              const char *review_since, const char *details, int64_t now_ms,
                              smart_error *err)
{
    jw subject = {0};
    jw_member_raw(&subject, "equipment_id", in->id);
    jw_member_string(&subject, "check_type", in->p->procedure_id);
    if (review_since[0])
        jw_member_raw(&subject, "review_since", review_since);
    jw_key(&subject, "clientpo_ids");
    jw_raw(&subject, "[", 1);
    jw_append(&subject, &review->ids);
    jw_raw(&subject, "]", 1);
    if (json_object_size(review->seen) > REVIEW_IDS_INLINE)
        jw_member_int(&subject, "clientpo_ids_total", (int64_t)json_object_size(review->seen));
    int rc =
        emit_alert(m, "maintenance_check_failed", "high", in->id, &subject, details, now_ms, err);
    jw_release(&subject);
    return rc;
}

/* The check after validation: judge, decide, persist, then record, commit, answer, alert. */
static int run_check(maintenance *m, check_input *in, int64_t now_ms, jw *steps, jw *review,
                     review_list *list, smart_error *err)
{
    check_state check;
    int rc = judge_steps(in, now_ms, &check, steps, err);
    if (rc)
        return rc;
    bool counts = check.passed && !check.suspect; /* a pass that verifies the item */
    /* As worked out now, for the answer and the history; decisions work it out again under the
     * terms in force (readiness.h). */
    int64_t valid_until_ms = check_state_valid_until(in->p, &check, m->config.zone);
    /* After the sweep due now has run, so the copy holds its outcome: the check, then the
     * item. */
    if ((rc = maintenance_catch_up(m, now_ms, err)))
        return rc;
    equipment_state next;
    if ((rc = decide_item(m, in, &check, counts, now_ms, &next, err)))
        return rc;
    char review_since[DATE_TEXT_MAX] = "";
    if ((rc = persist_check(m, in, &check, valid_until_ms, steps, err)) ||
        (!check.passed && (rc = gather_review(m, in, list, review, review_since, err))))
        return rc;
    char details[640], until[DATE_TEXT_MAX];
    instant_format(valid_until_ms, until, sizeof until);
    check_details(in, &check, counts, next.record.out_of_service && !in->e->record.out_of_service,
                  until, list, review_since, details, sizeof details);
    if ((rc = record_check(m, in, &check, counts, steps, review, details, err)) ||
        (rc = maintenance_item_commit(m, in->e, &next, now_ms, "maintenance.check", err)) ||
        (rc = answer_check(m, in, &check, counts, steps, review, until, now_ms, err)) ||
        check.passed)
        return rc;
    char performed[DATE_TEXT_MAX];
    instant_format(now_ms, performed, sizeof performed);
    jw ident = {0}; /* what names the check in its review's pages */
    jw_member_raw(&ident, "equipment_id", in->id);
    jw_member_string(&ident, "check_type", in->p->procedure_id);
    jw_member_raw(&ident, "performed_at", performed);
    rc = review_pages_emit(m, &list->pages, "maintenance.checked", &ident, in->id, err);
    jw_release(&ident);
    if (rc)
        return rc;
    return alert_check_failed(m, in, list, review_since, details, now_ms, err);
}

int handle_maintenance_check(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    check_input in;
    int rc;
    if ((rc = parse_check(m, data, &in, err)) || (rc = validate_check(m, &in, now_ms, err)))
        return rc;
    jw steps = {0}, review = {0}; /* this check's own texts, freed here */
    review_list list = {.count = 0};
    rc = run_check(m, &in, now_ms, &steps, &review, &list, err);
    review_list_release(&list);
    jw_release(&review);
    jw_release(&steps);
    return rc;
}

/* Records a change of the item's state (the record: its id and `key`, a string or null),
 * commits it and answers with the item after it. */
static int change_state(maintenance *m, equipment_state *e, const equipment_state *next,
                        const char *action, const char *technician, const char *details,
                        const char *key, const char *value, const char *answer, int64_t now_ms,
                        smart_error *err)
{
    jw meta = {0};
    jw_raw(&meta, "{", 1);
    jw_member_raw(&meta, "equipment_id", e->equipment_id);
    jw_member_string_or_null(&meta, key, value);
    jw_raw(&meta, "}", 1);
    int rc = emit_ledger_jw(m, action, e->equipment_id, technician, details, &meta, err);
    jw_release(&meta);
    if (rc || (rc = maintenance_item_commit(m, e, next, now_ms, action, err)))
        return rc;
    return emit_updated(m, e, answer, now_ms, err);
}

static const char *const out_keys[] = {"equipment_id", "reason", "technician", NULL};

int handle_out_of_service(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *id, *reason, *technician;
    int rc;
    if ((rc = jf_object(data, "data", out_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", true, &id, err)) ||
        (rc = jf_text(data, "data", "reason", true, NOTE_MAX - 1, &reason, err)) ||
        (rc = jf_text(data, "data", "technician", true, TEXT_FIELD_MAX, &technician, err)))
        return rc;
    equipment_state *e = known_item(m, id, err);
    if (!e)
        return SMART_EINVAL;
    if (e->record.out_of_service)
        return error_set(err, SMART_EINVAL, "data.equipment_id: %s is already out of service (%s)",
                         id, e->out_of_service_reason);
    if ((rc = maintenance_catch_up(m, now_ms, err)))
        return rc;
    equipment_state next = *e;
    next.record.out_of_service = true;
    next.out_of_service_since_ms = now_ms;
    next.out_of_service_procedure = "";
    if (!(next.out_of_service_reason = maintenance_text(m, reason, NOTE_MAX, err)))
        return SMART_ENOMEM;
    char details[512];
    snprintf(details, sizeof details, "%s tagged out of service: %s", id, reason);
    return change_state(m, e, &next, "equipment.out_of_service", technician, details, "reason",
                        reason, "out_of_service", now_ms, err);
}

static const char *const return_keys[] = {"equipment_id", "technician", "notes", NULL};

int handle_return_to_service(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *id, *technician, *notes;
    int rc;
    if ((rc = jf_object(data, "data", return_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", true, &id, err)) ||
        (rc = jf_text(data, "data", "technician", true, TEXT_FIELD_MAX, &technician, err)) ||
        (rc = jf_text(data, "data", "notes", false, 2000, &notes, err)))
        return rc;
    equipment_state *e = known_item(m, id, err);
    if (!e)
        return SMART_EINVAL;
    if (!e->record.out_of_service)
        return error_set(err, SMART_EINVAL, "data.equipment_id: %s is not out of service", id);
    /* ISO/IEC 17025 §6.4.4: verified before it re-enters service. Tagged out by a failed
     * check, the verification is that procedure passing, or an in-tolerance calibration, after
     * the tag-out (a pass of another procedure does not move last_verification_ms then), and
     * the procedure has not failed again since. */
    if (e->terms->return_requires_verification) {
        char since[DATE_TEXT_MAX];
        instant_format(e->out_of_service_since_ms, since, sizeof since);
        const char *cause = e->out_of_service_procedure;
        if (e->last_verification_ms <= e->out_of_service_since_ms) {
            if (!cause[0])
                return error_set(err, SMART_EINVAL,
                                 "data.equipment_id: %s cannot return to service: no "
                                 "passed check or calibration since it was tagged out at %s",
                                 id, since);
            return error_set(err, SMART_EINVAL,
                             "data.equipment_id: %s cannot return to service: tagged out at %s "
                             "by a failed check %s, it needs %s to pass, or an in-tolerance "
                             "calibration, performed after that",
                             id, since, cause, cause);
        }
        const check_state *last = cause[0] ? maintenance_find_check(m, id, cause) : NULL;
        if (last && !last->passed && last->performed_ms >= e->last_verification_ms) {
            char when[DATE_TEXT_MAX];
            instant_format(last->performed_ms, when, sizeof when);
            return error_set(err, SMART_EINVAL,
                             "data.equipment_id: %s cannot return to service: check %s failed "
                             "again at %s, after its last verification",
                             id, cause, when);
        }
    }
    /* The period it was out, kept for judging it later as a reference at a past instant. */
    if ((rc = maintenance_catch_up(m, now_ms, err)) ||
        (rc = store_add_unavailable(m->store, id, STORE_UNAVAILABLE_OUT_OF_SERVICE,
                                    e->out_of_service_since_ms, now_ms, e->out_of_service_reason,
                                    err)))
        return rc;
    char details[512];
    snprintf(details, sizeof details, "%s returned to service (was out: %s)", id,
             e->out_of_service_reason);
    equipment_state next = *e;
    next.record.out_of_service = false;
    next.out_of_service_reason = "";
    next.out_of_service_procedure = "";
    return change_state(m, e, &next, "equipment.return_to_service", technician, details, "notes",
                        notes, "return_to_service", now_ms, err);
}
