/* handlers.c — the gate and the questions: ClientPO links, test starts, status queries.
 *
 * Every handler (here, in handle_calibration.c and in handle_equipment.c) goes one way:
 * parse and validate → decide → persist → emit. It checks everything before it changes
 * anything, so a rejected event leaves no trace but the host's record of the rejection. */
#include "emit.h"
#include "error.h"
#include "json_fields.h"
#include "maintenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Assesses each listed item, appending its ITEM object to `items` and the ids of those not
 * ready to `blocking`. Returns 0 or SMART_ENOMEM. */
static int assess_list(maintenance *m, const json_t *ids, int64_t now_ms, int64_t planned_end_ms,
                       json_t *items, json_t *blocking, smart_error *err)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        const char *equipment_id = json_string_value(id);
        const equipment_state *e = maintenance_find(m, equipment_id);
        readiness r;
        maintenance_readiness(m, e, now_ms, planned_end_ms, &r);
        json_t *item = emit_item_json(equipment_id, e, &r);
        if (!item || json_array_append_new(items, item) ||
            (!r.ready && json_array_append(blocking, id)))
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
    if ((rc = assess_list(m, ids, now_ms, 0, items, blocking, err)) ||
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

static const char *const start_keys[] = {"clientpo_id", "equipment", "planned_end", NULL};

int handle_test_start(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *clientpo_id, *planned_end_text;
    json_t *given, *ids = NULL;
    date_value planned_end = {0};
    int rc;
    if ((rc = jf_object(data, "data", start_keys, err)) ||
        (rc = jf_id(data, "data", "clientpo_id", true, &clientpo_id, err)) ||
        (rc = jf_id_array(data, "data", "equipment", false, true, &given, err)) ||
        (rc = jf_date(data, "data", "planned_end", false, &planned_end, &planned_end_text, err)))
        return rc;
    if (planned_end_text && !planned_end.has_time)
        return error_set(err, SMART_EINVAL, "data.planned_end: give a time with its offset "
                         "(RFC 3339), not a date alone");
    if (planned_end_text && planned_end.instant_ms <= now_ms)
        return error_set(err, SMART_EINVAL, "data.planned_end: %s is not after the start",
                         planned_end_text);
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
    if ((rc = assess_list(m, ids, now_ms, planned_end_text ? planned_end.instant_ms : 0, items,
                          blocking, err)))
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
    const char *id_list[JF_ID_ARRAY_MAX];
    size_t id_count = json_array_size(ids); /* a stored link was validated like a given list */
    for (size_t k = 0; k < id_count; k++)
        id_list[k] = json_string_value(json_array_get(ids, k));
    if ((rc = store_add_gate_decision(m->store, clientpo_id, now_ms, allowed, items_text, id_list,
                                      id_count, err)) ||
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
    if (decision && planned_end_text)
        json_object_set_new(decision, "planned_end", json_string(planned_end_text));
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

static const char *const status_keys[] = {"equipment_id", NULL};

int handle_status_query(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *only;
    int rc;
    if ((rc = jf_object(data, "data", status_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", false, &only, err)))
        return rc;
    json_int_t counts[CAL_STATUS_COUNT] = {0}, ready = 0, total = 0;
    json_t *items = json_array();
    if (!items)
        return error_set(err, SMART_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->item_count; i++) {
        const equipment_state *e = &m->items[i];
        if (!e->terms || (only && strcmp(only, e->equipment_id) != 0))
            continue;
        readiness r;
        maintenance_readiness(m, e, now_ms, 0, &r);
        json_t *item = emit_item_json(e->equipment_id, e, &r);
        if (!item || json_array_append_new(items, item)) {
            json_decref(items);
            return error_set(err, SMART_ENOMEM, "out of memory");
        }
        counts[r.calibration.status]++;
        ready += r.ready;
        total++;
    }
    if (only && total == 0) { /* an item no contract names: answer, and say so */
        readiness r;
        maintenance_readiness(m, NULL, now_ms, 0, &r);
        json_array_append_new(items, emit_item_json(only, NULL, &r));
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
