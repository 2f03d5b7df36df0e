/* handlers.c — one function per input topic: parse and validate → decide → persist → emit.
 * A handler checks everything before it changes anything, so a rejected event leaves no
 * trace but the host's record of the rejection. */
#include "emit.h"
#include "error.h"
#include "json_fields.h"
#include "maintenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_FIELD_MAX 256

/* Rejects a free-text field longer than the store and the messages are meant to carry. */
static int check_length(const char *path, const char *key, const char *value, size_t max,
                        smart_error *err)
{
    if (value && strlen(value) > max)
        return error_set(err, SMART_EINVAL, "%s.%s: longer than %zu characters", path, key, max);
    return 0;
}

/* Assesses each listed item, appending its ITEM object to `items` and the ids of those not
 * ready to `blocking`. Returns 0 or SMART_ENOMEM. */
static int assess_list(maintenance *m, const json_t *ids, civil_day today, json_t *items,
                       json_t *blocking, smart_error *err)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        const char *equipment_id = json_string_value(id);
        const equipment_state *e = maintenance_find(m, equipment_id);
        cal_assessment a = maintenance_assess(m, e, today);
        json_t *item = emit_item_json(m, equipment_id, e, &a);
        if (!item || json_array_append_new(items, item) ||
            (!a.ready && json_array_append(blocking, id)))
            return error_set(err, SMART_ENOMEM, "out of memory");
    }
    return 0;
}

/* "LP01-THM-01 (calibration expired: was due 2025-02-03, 10 days overdue); ..." */
static void describe_blocking(const json_t *items, char *out, size_t size)
{
    size_t i, used = 0;
    json_t *item;
    out[0] = '\0';
    json_array_foreach(items, i, item) {
        if (json_is_true(json_object_get(item, "ready")) || used >= size)
            continue;
        used += (size_t)snprintf(out + used, size - used, "%s%s (%s)", used ? "; " : "",
                                 json_string_value(json_object_get(item, "equipment_id")),
                                 json_string_value(json_object_get(item, "reason")));
    }
}

static const char *const link_keys[] = {"clientpo_id", "equipment", NULL};

int handle_clientpo_link(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *clientpo_id;
    json_t *ids;
    int rc;
    if ((rc = jf_object(data, "data", link_keys, err)) ||
        (rc = jf_id(data, "data", "clientpo_id", true, &clientpo_id, err)) ||
        (rc = jf_id_array(data, "data", "equipment", true, true, &ids, err)))
        return rc;

    json_t *items = json_array(), *blocking = json_array();
    char *ids_text = json_dumps(ids, JSON_COMPACT);
    if (!items || !blocking || !ids_text) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = assess_list(m, ids, maintenance_today(m, now_ms), items, blocking, err)) ||
        (rc = store_put_link(m->store, clientpo_id, ids_text, now_ms, err)))
        goto done;
    char details[1024];
    size_t n_blocking = json_array_size(blocking);
    int used = snprintf(details, sizeof details, "ClientPO %s linked to %zu item(s); %zu not ready",
                        clientpo_id, json_array_size(ids), n_blocking);
    if (n_blocking && used > 0 && (size_t)used < sizeof details - 3) {
        memcpy(details + used, ": ", 3);
        describe_blocking(items, details + used + 2, sizeof details - (size_t)used - 2);
    }
    if ((rc = emit_ledger(m, "clientpo.linked", clientpo_id, "system", details,
                          json_pack("{s:O, s:O}", "equipment", ids, "not_ready", blocking), err)))
        goto done;
    rc = emit_output(m, "clientpo.linked",
                     json_pack("{s:s, s:O, s:b}", "clientpo_id", clientpo_id, "equipment", items,
                               "all_ready", n_blocking == 0),
                     err);
done:
    free(ids_text);
    json_decref(items);
    json_decref(blocking);
    return rc;
}

static const char *const start_keys[] = {"clientpo_id", "equipment", NULL};

int handle_test_start(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *clientpo_id;
    json_t *given, *ids = NULL;
    int rc;
    if ((rc = jf_object(data, "data", start_keys, err)) ||
        (rc = jf_id(data, "data", "clientpo_id", true, &clientpo_id, err)) ||
        (rc = jf_id_array(data, "data", "equipment", false, true, &given, err)))
        return rc;
    if (given) {
        ids = json_incref(given);
    } else {
        char *linked;
        if ((rc = store_get_link(m->store, clientpo_id, &linked, err)))
            return rc;
        ids = linked ? json_loads(linked, 0, NULL) : json_array();
        free(linked);
    }

    json_t *items = json_array(), *blocking = json_array();
    char *items_text = NULL;
    if (!ids || !items || !blocking) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = assess_list(m, ids, maintenance_today(m, now_ms), items, blocking, err)))
        goto done;
    /* Fail safe: a start that names no equipment at all is not a test we can vouch for. */
    bool nothing = json_array_size(ids) == 0;
    bool allowed = !nothing && json_array_size(blocking) == 0;
    char details[1024], decided_at[DATE_TEXT_MAX];
    instant_format(now_ms, decided_at, sizeof decided_at);
    if (nothing)
        snprintf(details, sizeof details,
                 "Test for ClientPO %s blocked: no equipment given and none linked", clientpo_id);
    else if (allowed)
        snprintf(details, sizeof details, "Test for ClientPO %s allowed: %zu item(s) ready",
                 clientpo_id, json_array_size(ids));
    else {
        int used = snprintf(details, sizeof details, "Test for ClientPO %s blocked: ",
                            clientpo_id);
        describe_blocking(items, details + used, sizeof details - (size_t)used);
    }
    if (!(items_text = json_dumps(items, JSON_COMPACT))) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = store_add_gate_decision(m->store, clientpo_id, now_ms, allowed, items_text, err)) ||
        (rc = emit_ledger(m, "gate.decision", clientpo_id, "system", details,
                          json_pack("{s:b, s:O, s:O}", "allowed", allowed, "equipment", items,
                                    "blocking", blocking),
                          err)))
        goto done;
    json_t *decision = json_pack("{s:s, s:b, s:s, s:O, s:O}", "clientpo_id", clientpo_id,
                                 "allowed", allowed, "decided_at", decided_at, "equipment", items,
                                 "blocking", blocking);
    if (decision && nothing)
        json_object_set_new(decision, "reason", json_string("no equipment given and none linked"));
    if ((rc = emit_output(m, "gate.decision", decision, err)))
        goto done;
    if (!allowed)
        rc = emit_alert(m, "equipment_not_ready", "high",
                        json_pack("{s:s, s:O}", "clientpo_id", clientpo_id, "equipment", blocking),
                        details, now_ms, err);
done:
    free(items_text);
    json_decref(ids);
    json_decref(items);
    json_decref(blocking);
    return rc;
}

static const char *const calibration_keys[] = {
    "equipment_id", "calibration_date", "certificate_number", "provider", "technician",
    "results",      "notes",            NULL};
static const char *const result_keys[] = {"parameter", "unit", "as_found", "as_left", NULL};

static int check_results(const json_t *results, smart_error *err)
{
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        char path[JF_PATH_MAX];
        const char *text;
        double value;
        bool present;
        int rc;
        jf_index(path, sizeof path, "data.results", i);
        if ((rc = jf_object(r, path, result_keys, err)) ||
            (rc = jf_string(r, path, "parameter", true, &text, err)) ||
            (rc = jf_string(r, path, "unit", false, &text, err)) ||
            (rc = jf_number(r, path, "as_found", false, &value, &present, err)) ||
            (rc = jf_number(r, path, "as_left", false, &value, &present, err)))
            return rc;
    }
    return 0;
}

int handle_calibration_record(maintenance *m, const json_t *data, int64_t now_ms,
                              smart_error *err)
{
    const char *id, *date_text, *certificate, *provider, *technician, *notes;
    date_value date;
    json_t *results;
    int rc;
    if ((rc = jf_object(data, "data", calibration_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", true, &id, err)) ||
        (rc = jf_date(data, "data", "calibration_date", true, &date, &date_text, err)) ||
        (rc = jf_string(data, "data", "certificate_number", true, &certificate, err)) ||
        (rc = check_length("data", "certificate_number", certificate, CERTIFICATE_MAX - 1, err)) ||
        (rc = jf_string(data, "data", "provider", true, &provider, err)) ||
        (rc = check_length("data", "provider", provider, TEXT_FIELD_MAX, err)) ||
        (rc = jf_string(data, "data", "technician", true, &technician, err)) ||
        (rc = check_length("data", "technician", technician, TEXT_FIELD_MAX, err)) ||
        (rc = jf_string(data, "data", "notes", false, &notes, err)) ||
        (rc = jf_array(data, "data", "results", false, &results, err)) ||
        (results && (rc = check_results(results, err))))
        return rc;

    equipment_state *e = maintenance_find(m, id);
    if (!e || !e->terms)
        return error_set(err, SMART_EINVAL,
                         "data.equipment_id: '%s' is not named by any contract in force", id);
    civil_day today = maintenance_today(m, now_ms);
    if (date.has_time ? date.instant_ms > now_ms : date.day > today) {
        char now_text[DATE_TEXT_MAX];
        instant_format(now_ms, now_text, sizeof now_text);
        return error_set(err, SMART_EINVAL,
                         "data.calibration_date: %s is in the future (now %s); a calibration is "
                         "recorded once it is done",
                         date_text, now_text);
    }
    if (e->record.has_calibration && date.day < e->record.calibrated_on)
        return error_set(err, SMART_EINVAL,
                         "data.calibration_date: %s is before the calibration on record for %s "
                         "(%s); history is not rewritten",
                         date_text, id, e->calibration_date);

    /* Decide: the new record; the status follows from it in reconcile. */
    equipment_state next = *e;
    next.record.has_calibration = true;
    next.record.calibrated_on = date.day;
    next.record.sent_out = false;
    next.record.calibration_failed = false;
    snprintf(next.calibration_date, sizeof next.calibration_date, "%s", date_text);
    snprintf(next.certificate, sizeof next.certificate, "%s", certificate);

    char *results_text = results ? json_dumps(results, JSON_COMPACT) : NULL;
    if (results && !results_text)
        return error_set(err, SMART_ENOMEM, "out of memory");
    calibration_entry entry = {
        .equipment_id = id,
        .calibration_date = date_text,
        .day = date.day,
        .certificate_number = certificate,
        .provider = provider,
        .technician = technician,
        .results_json = results_text,
        .notes = notes,
        .source = "event",
        .recorded_at_ms = now_ms,
    };
    rc = store_add_calibration(m->store, &entry, err);
    free(results_text);
    if (rc)
        return rc;
    *e = next;
    bool changed;
    cal_assessment a = maintenance_assess(m, e, today);
    char due[16], details[512];
    civil_format(a.due, due, sizeof due);
    snprintf(details, sizeof details,
             "Calibration of %s on %s recorded: certificate %s from %s; valid until %s", id,
             date_text, certificate, provider, due);
    json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "equipment_id", id,
                             "calibration_date", date_text, "certificate_number", certificate,
                             "provider", provider, "technician", technician, "due_date", due,
                             "contract_version", (int)e->terms->owner->version);
    if (meta && results)
        json_object_set(meta, "results", results);
    if ((rc = emit_ledger(m, "calibration.recorded", id, technician, details, meta, err)) ||
        (rc = maintenance_reconcile(m, e, now_ms, "calibration", false, &changed, err)) ||
        (!changed && (rc = store_put_equipment(m->store, e, err))))
        return rc;
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:i}", "equipment_id", id,
                            "calibration_date", date_text, "certificate_number", certificate,
                            "due_date", due, "status", cal_status_name(a.status), "ready",
                            a.ready, "days_remaining", a.days_remaining);
    return emit_output(m, "calibration.recorded", out, err);
}

static const char *const no_keys[] = {NULL};

int handle_calibration_sweep(maintenance *m, const json_t *data, int64_t now_ms,
                             smart_error *err)
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
    if ((rc = emit_ledger(m, "sweep.completed", m->host->node_id, "system", details,
                          json_pack("{s:I, s:I}", "checked", (json_int_t)checked, "transitions",
                                    (json_int_t)transitions),
                          err)))
        return rc;
    return emit_output(m, "sweep.completed",
                       json_pack("{s:s, s:I, s:I}", "as_of", as_of, "checked",
                                 (json_int_t)checked, "transitions", (json_int_t)transitions),
                       err);
}

static const char *const status_keys[] = {"equipment_id", NULL};

int handle_status_query(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *only;
    int rc;
    if ((rc = jf_object(data, "data", status_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", false, &only, err)))
        return rc;
    civil_day today = maintenance_today(m, now_ms);
    json_int_t counts[CAL_STATUS_COUNT] = {0}, ready = 0, total = 0;
    json_t *items = json_array();
    if (!items)
        return error_set(err, SMART_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->item_count; i++) {
        const equipment_state *e = &m->items[i];
        if (!e->terms || (only && strcmp(only, e->equipment_id) != 0))
            continue;
        cal_assessment a = maintenance_assess(m, e, today);
        json_t *item = emit_item_json(m, e->equipment_id, e, &a);
        if (!item || json_array_append_new(items, item)) {
            json_decref(items);
            return error_set(err, SMART_ENOMEM, "out of memory");
        }
        counts[a.status]++;
        ready += a.ready;
        total++;
    }
    if (only && total == 0) { /* an item no contract names: answer, and say so */
        cal_assessment a = maintenance_assess(m, NULL, today);
        json_array_append_new(items, emit_item_json(m, only, NULL, &a));
        counts[CAL_UNKNOWN]++;
        total++;
    }
    json_t *summary = json_object();
    for (int s = 0; s < CAL_STATUS_COUNT && summary; s++)
        json_object_set_new(summary, cal_status_name((cal_status)s), json_integer(counts[s]));
    json_object_set_new(summary, "ready", json_integer(ready));
    json_object_set_new(summary, "not_ready", json_integer(total - ready));
    json_object_set_new(summary, "total", json_integer(total));
    char as_of[DATE_TEXT_MAX];
    instant_format(now_ms, as_of, sizeof as_of);
    return emit_output(m, "status",
                       json_pack("{s:s, s:o, s:o}", "as_of", as_of, "equipment", items, "summary",
                                 summary),
                       err);
}
