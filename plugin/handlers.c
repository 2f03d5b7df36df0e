/* handlers.c — the gate and the questions: ClientPO links, test starts, status queries.
 *
 * Every handler (here, in handle_calibration.c and in handle_equipment.c) goes one way:
 * parse and validate → decide → persist → emit. It checks everything before it changes
 * anything, so a rejected event leaves no trace but the host's record of the rejection.
 *
 * The answers here carry one ITEM per piece of equipment and are the bulk of the module's
 * output, so they are written as text around each item's cached ITEM text (emit_item_text).
 * Only identifiers (checked to be [A-Za-z0-9._-]), timestamps and numbers are written
 * directly; everything else goes through jansson. */
#include "emit.h"
#include "error.h"
#include "json_fields.h"
#include "maintenance.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The assessed list of a link or a test start. */
typedef struct assessed_list {
    FILE *items; /* the ITEM texts, comma-separated */
    char *items_text;
    size_t items_len;
    json_t *blocking;   /* ids of the items not ready */
    json_t *not_ready;  /* [{equipment_id, status, reason}] of the same, for the ledger */
    char summary[1024]; /* "LP01-THM-01 (calibration expired: ...); ..." */
} assessed_list;

static void assessed_list_free(assessed_list *l)
{
    if (l->items)
        fclose(l->items);
    free(l->items_text);
    json_decref(l->blocking);
    json_decref(l->not_ready);
}

/* Assesses each listed item at now_ms (and through planned_end_ms when not 0). Returns 0 or
 * SMART_ENOMEM. */
static int assess_list(maintenance *m, const json_t *ids, int64_t now_ms, int64_t planned_end_ms,
                       assessed_list *out, smart_error *err)
{
    memset(out, 0, sizeof *out);
    out->items = open_memstream(&out->items_text, &out->items_len);
    out->blocking = json_array();
    out->not_ready = json_array();
    if (!out->items || !out->blocking || !out->not_ready)
        return error_set(err, SMART_ENOMEM, "out of memory");
    size_t i;
    json_t *id;
    json_array_foreach (ids, i, id) {
        const char *equipment_id = json_string_value(id);
        bool ready;
        cal_status status;
        size_t len;
        const char *text =
            emit_item_text(m, equipment_id, now_ms, planned_end_ms, &ready, &status, &len);
        if (!text || (i && fputc(',', out->items) == EOF) ||
            fwrite(text, 1, len, out->items) != len)
            return error_set(err, SMART_ENOMEM, "out of memory");
        if (ready)
            continue;
        /* Not ready: the reason goes into the record and the alert (few items, so rebuilt). */
        readiness r;
        maintenance_readiness(m, maintenance_find(m, equipment_id), now_ms, planned_end_ms, &r);
        char line[READINESS_TEXT_MAX + 80];
        snprintf(line, sizeof line, "%s (%s)", equipment_id, r.reason);
        text_append(out->summary, sizeof out->summary, "; ", line);
        if (json_array_append(out->blocking, id) ||
            json_array_append_new(out->not_ready,
                                  json_pack("{s:O, s:s, s:s}", "equipment_id", id, "status",
                                            cal_status_name(r.calibration.status), "reason",
                                            r.reason)))
            return error_set(err, SMART_ENOMEM, "out of memory");
    }
    if (fflush(out->items) != 0)
        return error_set(err, SMART_ENOMEM, "out of memory");
    return 0;
}

/* Writes `"key":` and the compact JSON of value (borrowed). */
static void put_json(FILE *f, const char *key, const json_t *value)
{
    fprintf(f, ",\"%s\":", key);
    json_dumpf(value, f, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Writes `,"contracts":{"LP-CAL-001":2,...}`: the contracts (and versions) the decision was
 * made under, so an auditor can replay it against the contract file with that version. */
static void put_contracts_in_force(maintenance *m, const json_t *ids, FILE *f)
{
    const contract *seen[JF_ID_ARRAY_MAX];
    size_t n = 0, i;
    json_t *id;
    fputs(",\"contracts\":{", f);
    json_array_foreach (ids, i, id) {
        const equipment_state *e = maintenance_find(m, json_string_value(id));
        if (!e || !e->terms)
            continue;
        const contract *c = e->terms->owner;
        bool listed = false;
        for (size_t k = 0; k < n && !listed; k++)
            listed = seen[k] == c;
        if (listed)
            continue;
        fprintf(f, "%s\"%s\":%" JSON_INTEGER_FORMAT, n ? "," : "", c->contract_id, c->version);
        seen[n++] = c;
    }
    fputc('}', f);
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

    assessed_list list;
    char *ids_text = json_dumps(ids, JSON_COMPACT);
    if (!ids_text)
        rc = error_set(err, SMART_ENOMEM, "out of memory");
    if (rc || (rc = assess_list(m, ids, now_ms, 0, &list, err)) ||
        (rc = store_put_link(m->store, clientpo_id, ids_text, now_ms, err)))
        goto done;
    char details[1200];
    size_t n_blocking = json_array_size(list.blocking);
    snprintf(details, sizeof details, "ClientPO %s linked to %zu item(s); %zu not ready%s%s",
             clientpo_id, json_array_size(ids), n_blocking, n_blocking ? ": " : "", list.summary);
    if ((rc = emit_ledger(m, "clientpo.linked", clientpo_id, "system", details,
                          json_pack("{s:O, s:O}", "equipment", ids, "not_ready", list.not_ready),
                          err)))
        goto done;
    char *out;
    size_t out_len;
    FILE *f = open_memstream(&out, &out_len);
    if (!f) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    fprintf(f, "{\"clientpo_id\":\"%s\",\"equipment\":[", clientpo_id);
    fwrite(list.items_text, 1, list.items_len, f);
    fprintf(f, "],\"all_ready\":%s}", n_blocking ? "false" : "true");
    rc = emit_output_text(m, "clientpo.linked", f, &out, &out_len, err);
done:
    free(ids_text);
    assessed_list_free(&list);
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
        return error_set(err, SMART_EINVAL,
                         "data.planned_end: give a time with its offset "
                         "(RFC 3339), not a date alone");
    if (planned_end_text && planned_end.instant_ms <= now_ms)
        return error_set(err, SMART_EINVAL, "data.planned_end: %s is not after the start",
                         planned_end_text);
    char *ids_text = NULL;
    if (given) {
        ids = json_incref(given);
    } else {
        if ((rc = store_get_link(m->store, clientpo_id, &ids_text, err)))
            return rc;
        ids = ids_text ? json_loads(ids_text, 0, NULL) : json_array();
    }
    assessed_list list = {0};
    if (!ids) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    if (!ids_text && !(ids_text = json_dumps(ids, JSON_COMPACT))) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = assess_list(m, ids, now_ms, planned_end_text ? planned_end.instant_ms : 0, &list,
                          err)))
        goto done;
    /* Fail safe: a start that names no equipment at all is not a test we can vouch for. */
    size_t count = json_array_size(ids);
    bool nothing = count == 0;
    bool allowed = !nothing && json_array_size(list.blocking) == 0;
    char details[1200], decided_at[DATE_TEXT_MAX];
    instant_format(now_ms, decided_at, sizeof decided_at);
    if (nothing)
        snprintf(details, sizeof details,
                 "Test for ClientPO %s blocked: no equipment given and none linked", clientpo_id);
    else if (allowed)
        snprintf(details, sizeof details, "Test for ClientPO %s allowed: %zu item(s) ready",
                 clientpo_id, count);
    else
        snprintf(details, sizeof details, "Test for ClientPO %s blocked: %s", clientpo_id,
                 list.summary);
    const char *id_list[JF_ID_ARRAY_MAX];
    for (size_t k = 0; k < count; k++) /* a stored link was validated like a given list */
        id_list[k] = json_string_value(json_array_get(ids, k));
    if ((rc = store_add_gate_decision(m->store, clientpo_id, now_ms, allowed, ids_text, id_list,
                                      count, err)))
        goto done;
    char *out;
    size_t out_len;
    FILE *f = open_memstream(&out, &out_len);
    if (!f) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    fprintf(f, "{\"allowed\":%s,\"equipment\":%s", allowed ? "true" : "false", ids_text);
    put_json(f, "not_ready", list.not_ready);
    put_contracts_in_force(m, ids, f);
    if (planned_end_text)
        fprintf(f, ",\"planned_end\":\"%s\"", planned_end_text);
    fputc('}', f);
    if (fclose(f) != 0 || !out) {
        free(out);
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    rc = emit_ledger_text(m, "gate.decision", clientpo_id, "system", details, out, err);
    free(out);
    if (rc)
        goto done;
    f = open_memstream(&out, &out_len);
    if (!f) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto done;
    }
    fprintf(f, "{\"clientpo_id\":\"%s\",\"allowed\":%s,\"decided_at\":\"%s\",\"equipment\":[",
            clientpo_id, allowed ? "true" : "false", decided_at);
    fwrite(list.items_text, 1, list.items_len, f);
    fputc(']', f);
    put_json(f, "blocking", list.blocking);
    if (nothing)
        fputs(",\"reason\":\"no equipment given and none linked\"", f);
    if (planned_end_text)
        fprintf(f, ",\"planned_end\":\"%s\"", planned_end_text);
    fputc('}', f);
    if ((rc = emit_output_text(m, "gate.decision", f, &out, &out_len, err)))
        goto done;
    if (!allowed)
        rc = emit_alert(
            m, "equipment_not_ready", "high",
            json_pack("{s:s, s:O}", "clientpo_id", clientpo_id, "equipment", list.blocking),
            details, now_ms, err);
done:
    free(ids_text);
    json_decref(ids);
    assessed_list_free(&list);
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
    json_int_t counts[CAL_STATUS_COUNT] = {0}, ready_count = 0, total = 0;
    char *out;
    size_t out_len;
    FILE *f = open_memstream(&out, &out_len);
    if (!f)
        return error_set(err, SMART_ENOMEM, "out of memory");
    char as_of[DATE_TEXT_MAX];
    instant_format(now_ms, as_of, sizeof as_of);
    fprintf(f, "{\"as_of\":\"%s\",\"equipment\":[", as_of);
    size_t first = 0, last = m->item_count;
    const equipment_state *match = only ? maintenance_find(m, only) : NULL;
    if (only) { /* one item; when no contract names it, answer anyway and say so */
        first = match && match->terms ? (size_t)(match - m->items) : 0;
        last = match && match->terms ? first + 1 : 0;
    }
    for (size_t i = first; i <= last; i++) {
        const char *id;
        if (i < last)
            id = m->items[i].equipment_id;
        else if (only && total == 0)
            id = only;
        else
            break;
        if (i < last && !m->items[i].terms)
            continue; /* retired: no contract requires it */
        bool ready;
        cal_status status;
        size_t len;
        const char *text = emit_item_text(m, id, now_ms, 0, &ready, &status, &len);
        if (!text) {
            fclose(f);
            free(out);
            return error_set(err, SMART_ENOMEM, "out of memory");
        }
        if (total)
            fputc(',', f);
        fwrite(text, 1, len, f);
        counts[status]++;
        ready_count += ready;
        total++;
    }
    fputs("],\"summary\":{", f);
    for (int s = 0; s < CAL_STATUS_COUNT; s++)
        fprintf(f, "\"%s\":%" JSON_INTEGER_FORMAT ",", cal_status_name((cal_status)s), counts[s]);
    fprintf(f,
            "\"ready\":%" JSON_INTEGER_FORMAT ",\"not_ready\":%" JSON_INTEGER_FORMAT
            ",\"total\":%" JSON_INTEGER_FORMAT "}}",
            ready_count, total - ready_count, total);
    return emit_output_text(m, "status", f, &out, &out_len, err);
}
