/* emit.c — what the module says to the host: ledger records, output events and alerts, and the
 * ITEM object of an output event; see emit.h. */
#include "out/emit.h"

#include "core/text.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (rc == 0)
        m->ledger_since_commit = true;
    return rc;
}

int emit_ledger_jw(maintenance *m, const char *action, const char *target, const char *user_id,
                   const char *details, const jw *metadata, smart_error *err)
{
    const char *meta = jw_text(metadata);
    if (!meta)
        return error_set(err, SMART_ENOMEM, "out of memory");
    return emit_ledger_text(m, action, target, user_id, details, meta, err);
}

int emit_output_jw(maintenance *m, const char *topic, const jw *data, smart_error *err)
{
    const char *text = jw_text(data);
    if (!text)
        return error_set(err, SMART_ENOMEM, "out of memory");
    int rc = m->host->emit_event(m->host, topic, text, data->len, err);
    if (rc == SMART_EIO)
        m->failed = true;
    return rc;
}

int emit_alert(maintenance *m, const char *alert_type, const char *severity, const char *target,
               const jw *subject, const char *message, int64_t now_ms, smart_error *err)
{
    char timestamp[DATE_TEXT_MAX];
    instant_format(now_ms, timestamp, sizeof timestamp);
    jw alert = {0}, *a = &alert; /* the alert as raised, and as recorded */
    jw_raw(a, "{", 1);
    jw_member_raw(a, "alert_type", alert_type);
    jw_member_raw(a, "severity", severity);
    jw_member_string(a, "node_id", m->host->node_id);
    jw_member_string(a, "station_type", m->host->station_type);
    jw_member_raw(a, "timestamp", timestamp);
    jw_member_bool(a, "requires_action", true);
    jw_member_string(a, "message", message);
    if (subject && (subject->len || subject->failed)) {
        jw_raw(a, ",", 1);
        jw_append(a, subject); /* a failed subject fails the alert */
    }
    jw_raw(a, "}", 1);
    const char *text = jw_text(a);
    int rc = text ? m->host->emit_alert(m->host, text, a->len, err)
                  : error_set(err, SMART_ENOMEM, "out of memory");
    if (rc == SMART_EIO)
        m->failed = true;
    if (rc == 0) /* the record holds the alert exactly as raised */
        rc = emit_ledger_text(m, "alert.raised", target ? target : m->host->node_id, "system",
                              message, text, err);
    jw_release(a);
    return rc;
}

void emit_item_write(jw *w, const char *id, const equipment_state *e, const readiness *r)
{
    char due[16], when[DATE_TEXT_MAX];
    const cal_assessment *a = &r->calibration;
    jw_raw(w, "{", 1);
    jw_member_raw(w, "equipment_id", id);
    jw_member_raw(w, "status", cal_status_name(a->status));
    jw_member_bool(w, "ready", r->ready);
    jw_member_string(w, "reason", r->reason);
    if (e && e->terms) {
        jw_member_string(w, "description", e->terms->description);
        jw_member_string(w, "contract_id", e->terms->owner->contract_id);
    }
    if (a->has_due) {
        civil_format(a->due, due, sizeof due);
        jw_member_raw(w, "due_date", due);
        jw_member_string(w, "last_calibration_date", e->calibration_date);
        jw_member_string(w, "certificate_number", e->certificate);
        if (a->days_remaining >= 0)
            jw_member_int(w, "days_remaining", a->days_remaining);
        else
            jw_member_int(w, "days_overdue", -(int64_t)a->days_remaining);
    }
    if (r->has_warning)
        jw_member_string(w, "warning", r->warning);
    if (e && e->record.out_of_service && e->out_of_service_reason[0])
        jw_member_string(w, "out_of_service_reason", e->out_of_service_reason);
    if (r->check_count) {
        jw_key(w, "checks");
        jw_raw(w, "[", 1);
        for (size_t i = 0; i < r->check_count; i++) {
            const check_view *v = &r->checks[i];
            jw_sep(w);
            jw_raw(w, "{", 1);
            jw_member_string(w, "procedure_id", v->procedure->procedure_id);
            jw_member_string(w, "frequency", v->procedure->frequency_text);
            jw_member_bool(w, "ok", v->ok);
            jw_member_string(w, "reason", v->reason);
            if (v->last) {
                instant_format(v->last->performed_ms, when, sizeof when);
                jw_member_raw(w, "last_performed", when);
                instant_format(v->valid_until_ms, when, sizeof when);
                jw_member_raw(w, "valid_until", when);
            }
            jw_raw(w, "}", 1);
        }
        jw_raw(w, "]", 1);
    }
    jw_raw(w, "}", 1);
}
