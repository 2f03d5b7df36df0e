#include "emit.h"

#include "error.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Serialises and releases `value`; NULL when out of memory. */
static char *dump_and_release(json_t *value, size_t *len)
{
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text && len)
        *len = strlen(text);
    return text;
}

int emit_ledger_text(maintenance *m, const char *action, const char *target, const char *user_id,
                     const char *details, const char *metadata_json, smart_error *err)
{
    smart_ledger_entry entry = {
        .struct_size = sizeof entry,
        .action = action,
        .target = target,
        .details = details,
        .user_id = user_id ? user_id : "system",
        .metadata_json = metadata_json,
    };
    int rc = m->host->ledger_append(m->host, &entry, err);
    if (rc == SMART_EIO)
        m->failed = true;
    return rc;
}

int emit_ledger(maintenance *m, const char *action, const char *target, const char *user_id,
                const char *details, json_t *metadata, smart_error *err)
{
    char *meta = dump_and_release(metadata ? metadata : json_object(), NULL);
    if (!meta)
        return error_set(err, SMART_ENOMEM, "out of memory");
    int rc = emit_ledger_text(m, action, target, user_id, details, meta, err);
    free(meta);
    return rc;
}

int emit_output(maintenance *m, const char *topic, json_t *data, smart_error *err)
{
    size_t len;
    char *text = dump_and_release(data, &len);
    if (!text)
        return error_set(err, SMART_ENOMEM, "out of memory");
    int rc = m->host->emit_event(m->host, topic, text, len, err);
    free(text);
    if (rc == SMART_EIO)
        m->failed = true;
    return rc;
}

int emit_alert(maintenance *m, const char *alert_type, const char *severity, json_t *subject,
               const char *message, int64_t now_ms, smart_error *err)
{
    char timestamp[DATE_TEXT_MAX];
    instant_format(now_ms, timestamp, sizeof timestamp);
    json_t *alert =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "alert_type", alert_type, "severity",
                  severity, "node_id", m->host->node_id, "station_type", m->host->station_type,
                  "timestamp", timestamp, "requires_action", 1, "message", message);
    if (!alert || json_object_update(alert, subject) != 0) {
        json_decref(alert);
        json_decref(subject);
        return error_set(err, SMART_ENOMEM, "out of memory");
    }
    json_decref(subject);
    /* Copied: the ledger call below releases `alert`, which owns these strings. */
    char target[EQUIPMENT_ID_MAX];
    const char *subject_id = json_string_value(json_object_get(alert, "equipment_id"));
    if (!subject_id)
        subject_id = json_string_value(json_object_get(alert, "clientpo_id"));
    snprintf(target, sizeof target, "%s", subject_id ? subject_id : m->host->node_id);
    size_t len;
    char *text = json_dumps(alert, JSON_COMPACT);
    if (!text) {
        json_decref(alert);
        return error_set(err, SMART_ENOMEM, "out of memory");
    }
    len = strlen(text);
    json_decref(alert);
    int rc = m->host->emit_alert(m->host, text, len, err);
    if (rc == SMART_EIO)
        m->failed = true;
    if (rc == 0) /* the record holds the alert exactly as raised */
        rc = emit_ledger_text(m, "alert.raised", target, "system", message, text, err);
    free(text);
    return rc;
}

json_t *emit_item_json(const char *id, const equipment_state *e, const readiness *r)
{
    char due[16], when[DATE_TEXT_MAX];
    const cal_assessment *a = &r->calibration;
    json_t *item = json_pack("{s:s, s:s, s:b, s:s}", "equipment_id", id, "status",
                             cal_status_name(a->status), "ready", r->ready, "reason", r->reason);
    if (!item)
        return NULL;
    int rc = 0;
    if (e && e->terms) {
        rc |= json_object_set_new(item, "description", json_string(e->terms->description));
        rc |= json_object_set_new(item, "contract_id", json_string(e->terms->owner->contract_id));
    }
    if (a->has_due) {
        civil_format(a->due, due, sizeof due);
        rc |= json_object_set_new(item, "due_date", json_string(due));
        rc |= json_object_set_new(item, "last_calibration_date", json_string(e->calibration_date));
        rc |= json_object_set_new(item, "certificate_number", json_string(e->certificate));
        if (a->days_remaining >= 0)
            rc |= json_object_set_new(item, "days_remaining", json_integer(a->days_remaining));
        else
            rc |= json_object_set_new(item, "days_overdue", json_integer(-a->days_remaining));
    }
    if (r->has_warning)
        rc |= json_object_set_new(item, "warning", json_string(r->warning));
    if (e && e->record.out_of_service && e->out_of_service_reason[0])
        rc |= json_object_set_new(item, "out_of_service_reason",
                                  json_string(e->out_of_service_reason));
    if (r->check_count) {
        json_t *checks = json_array();
        for (size_t i = 0; checks && i < r->check_count; i++) {
            const check_view *v = &r->checks[i];
            json_t *c = json_pack("{s:s, s:s, s:b, s:s}", "procedure_id",
                                  v->procedure->procedure_id, "frequency",
                                  v->procedure->frequency_text, "ok", v->ok, "reason", v->reason);
            if (c && v->last) {
                instant_format(v->last->performed_ms, when, sizeof when);
                json_object_set_new(c, "last_performed", json_string(when));
                instant_format(v->last->valid_until_ms, when, sizeof when);
                json_object_set_new(c, "valid_until", json_string(when));
            }
            rc |= json_array_append_new(checks, c);
        }
        rc |= json_object_set_new(item, "checks", checks);
    }
    if (rc) {
        json_decref(item);
        return NULL;
    }
    return item;
}

/* When the ITEM text built at now_ms stops being true: at the next local midnight (the day
 * counts change), or when one of its checks lapses, whichever is first. */
static int64_t item_text_expiry(const maintenance *m, const equipment_state *e, int64_t now_ms)
{
    int64_t offset_ms = (int64_t)m->config.utc_offset_minutes * 60000;
    int64_t expires = ((int64_t)maintenance_today(m, now_ms) + 1) * 86400000 - offset_ms;
    for (size_t i = 0; e->terms && i < e->terms->procedure_count; i++) {
        const check_state *c = maintenance_find_check((maintenance *)m, e->equipment_id,
                                                      e->terms->procedures[i]->procedure_id);
        if (c && c->passed && c->valid_until_ms > now_ms && c->valid_until_ms < expires)
            expires = c->valid_until_ms;
    }
    return expires;
}

const char *emit_item_text(maintenance *m, const char *id, int64_t now_ms, int64_t planned_end_ms,
                           bool *ready, cal_status *status, size_t *len)
{
    equipment_state *e = maintenance_find(m, id);
    item_text_cache *c = e && e->terms && !planned_end_ms ? &m->item_cache[e - m->items] : NULL;
    if (c && c->text && now_ms >= c->valid_from_ms && now_ms < c->expires_ms) {
        *ready = c->ready;
        *status = c->status;
        *len = c->len;
        return c->text;
    }
    readiness r;
    maintenance_readiness(m, e, now_ms, planned_end_ms, &r);
    json_t *item = emit_item_json(id, e, &r);
    char *text = item ? json_dumps(item, JSON_COMPACT) : NULL;
    json_decref(item);
    if (!text)
        return NULL;
    *ready = r.ready;
    *status = r.calibration.status;
    *len = strlen(text);
    if (c) {
        free(c->text);
        *c = (item_text_cache){.text = text,
                               .len = *len,
                               .ready = r.ready,
                               .status = *status,
                               .valid_from_ms = now_ms,
                               .expires_ms = item_text_expiry(m, e, now_ms)};
    } else {
        free(m->scratch_text);
        m->scratch_text = text;
    }
    return text;
}

int emit_output_text(maintenance *m, const char *topic, FILE *text, char **buffer, size_t *size,
                     smart_error *err)
{
    if (fclose(text) != 0 || !*buffer) {
        free(*buffer);
        return error_set(err, SMART_ENOMEM, "out of memory");
    }
    int rc = m->host->emit_event(m->host, topic, *buffer, *size, err);
    free(*buffer);
    if (rc == SMART_EIO)
        m->failed = true;
    return rc;
}
