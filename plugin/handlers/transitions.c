/* transitions.c — noticing that an item's status has changed, and saying so once: in the
 * store, the ledger, an output event and, for the changes that call for one, an alert. */
#include "core/text.h"
#include "error.h"
#include "maintenance.h"
#include "out/emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The alert a status calls for, if any: type and severity. */
static bool alert_for(cal_status status, const char **type, const char **severity)
{
    switch (status) {
    case CAL_EXPIRED:
        *type = "calibration_expired";
        *severity = "high";
        return true;
    case CAL_EXPIRING_SOON:
        *type = "calibration_expiring";
        *severity = "medium";
        return true;
    case CAL_FAILED:
        *type = "calibration_failed";
        *severity = "high";
        return true;
    default: return false;
    }
}

static int raise_status_alert(maintenance *m, equipment_state *e, const cal_assessment *a,
                              const char *type, const char *severity, bool repeat, int64_t now_ms,
                              smart_error *err)
{
    char reason[256], message[512];
    cal_reason(a, reason, sizeof reason);
    if (a->status == CAL_FAILED && e->failure_note[0]) { /* name the figure, not just the fact */
        reason[0] = '\0';
        text_append(reason, sizeof reason, "", "calibration failed: ");
        text_append(reason, sizeof reason, "", e->failure_note);
    }
    snprintf(message, sizeof message, "%s (%s) on %s: %s", e->equipment_id, e->terms->description,
             m->host->node_id, reason);
    text_utf8_trim(message);
    jw members = {0}, *subject = &members;
    jw_member_raw(subject, "equipment_id", e->equipment_id);
    jw_member_raw(subject, "status", cal_status_name(a->status));
    if (a->has_due) {
        char due[16];
        civil_format(a->due, due, sizeof due);
        jw_member_raw(subject, "due_date", due);
        jw_member_int(subject, a->days_remaining >= 0 ? "days_remaining" : "days_overdue",
                      abs(a->days_remaining));
    }
    if (repeat)
        jw_member_bool(subject, "repeat", true);
    int rc = emit_alert(m, type, severity, e->equipment_id, subject, message, now_ms, err);
    jw_release(subject);
    const char *last = rc == 0 ? maintenance_text(m, type, ALERT_TYPE_MAX, err) : NULL;
    if (rc == 0 && !last)
        rc = SMART_ENOMEM;
    if (rc == 0) {
        e->last_alert = last;
        e->last_alert_ms = now_ms;
        if (now_ms + m->config.alert_repeat_ms < m->next_repeat_ms)
            m->next_repeat_ms = now_ms + m->config.alert_repeat_ms;
    }
    return rc;
}

int maintenance_reconcile(maintenance *m, equipment_state *e, int64_t now_ms, const char *cause,
                          bool may_repeat, bool *changed, smart_error *err)
{
    *changed = false;
    if (!e->terms)
        return 0; /* retired: no contract requires it, so nothing to watch */
    cal_assessment a = maintenance_assess(m, e, maintenance_today(m, now_ms));
    const char *type = NULL, *severity = NULL;
    bool wants_alert = alert_for(a.status, &type, &severity);
    int rc;
    if (!e->has_status || e->status != a.status) {
        const char *from = e->has_status ? cal_status_name(e->status) : NULL;
        const char *to = cal_status_name(a.status);
        char reason[256], details[512];
        cal_reason(&a, reason, sizeof reason);
        snprintf(details, sizeof details, "%s: %s -> %s (%s)", e->equipment_id, from ? from : "new",
                 to, reason);
        text_utf8_trim(details);
        jw text = {0}, *change = &text; /* the record's metadata and the event's data */
        jw_raw(change, "{", 1);
        jw_member_raw(change, "equipment_id", e->equipment_id);
        jw_key(change, "from");
        if (from)
            jw_string_raw(change, from);
        else
            jw_raw(change, "null", 4);
        jw_member_raw(change, "to", to);
        jw_member_string(change, "cause", cause);
        jw_member_bool(change, "ready", a.ready);
        if (a.has_due) {
            char due[16];
            civil_format(a.due, due, sizeof due);
            jw_member_raw(change, "due_date", due);
        }
        jw_raw(change, "}", 1);
        e->has_status = true;
        e->status = a.status;
        maintenance_item_forget_text(m, e);
        if (!wants_alert)
            e->last_alert = "";
        rc =
            emit_ledger_jw(m, "status.transition", e->equipment_id, "system", details, change, err);
        if (rc == 0)
            rc = emit_output_jw(m, "status.changed", change, err);
        jw_release(change);
        if (rc ||
            (wants_alert &&
             (rc = raise_status_alert(m, e, &a, type, severity, false, now_ms, err))) ||
            (rc = store_put_equipment(m->store, e, err)))
            return rc;
        *changed = true;
        return 0;
    }
    /* A condition that lasts is raised again, at most once per alert_repeat period. */
    if (may_repeat && wants_alert && now_ms - e->last_alert_ms >= m->config.alert_repeat_ms) {
        if ((rc = raise_status_alert(m, e, &a, type, severity, true, now_ms, err)) ||
            (rc = store_put_equipment(m->store, e, err)))
            return rc;
    }
    return 0;
}

int maintenance_record_unseen_failure(maintenance *m, const equipment_state *e, const jw *extra,
                                      const char *cause, smart_error *err)
{
    char details[700];
    snprintf(details, sizeof details,
             "%s: calibration now failed (%s); its status stays %s, and once that ends it is "
             "calibration_failed until a calibration in tolerance as left",
             e->equipment_id, e->failure_note, cal_status_name(e->status));
    text_utf8_trim(details);
    jw meta = {0};
    jw_raw(&meta, "{", 1);
    jw_member_string(&meta, "equipment_id", e->equipment_id);
    jw_member_raw(&meta, "status", cal_status_name(e->status));
    jw_member_bool(&meta, "calibration_failed", true);
    jw_member_string(&meta, "failure", e->failure_note);
    if (extra && extra->len) {
        jw_sep(&meta);
        jw_append(&meta, extra);
    }
    jw_member_string(&meta, "cause", cause);
    jw_raw(&meta, "}", 1);
    int rc =
        emit_ledger_jw(m, "calibration.rejudged", e->equipment_id, "system", details, &meta, err);
    jw_release(&meta);
    return rc;
}

int maintenance_item_commit(maintenance *m, equipment_state *e, const equipment_state *next,
                            int64_t now_ms, const char *cause, smart_error *err)
{
    bool changed;
    equipment_state before = *e;
    *e = *next;
    maintenance_item_forget_text(m, e);
    int rc = maintenance_reconcile(m, e, now_ms, cause, false, &changed, err);
    if (rc == 0 && !changed)
        rc = store_put_equipment(m->store, e, err);
    if (rc) { /* the store failed: the item stays as it was (and the module stops) */
        *e = before;
        maintenance_item_forget_text(m, e);
    }
    return rc;
}

int maintenance_catch_up(maintenance *m, int64_t now_ms, smart_error *err)
{
    size_t checked, transitions;
    return now_ms >= m->next_sweep_ms ? maintenance_sweep(m, now_ms, &checked, &transitions, err)
                                      : 0;
}

int maintenance_sweep(maintenance *m, int64_t now_ms, size_t *checked, size_t *transitions,
                      smart_error *err)
{
    *checked = *transitions = 0;
    civil_day today = maintenance_today(m, now_ms);
    m->next_sweep_ms = now_ms + m->config.sweep_interval_ms;
    if (m->swept && today == m->swept_day && now_ms < m->next_repeat_ms) {
        *checked = m->contracts.item_count;
        return 0;
    }
    m->next_repeat_ms = INT64_MAX;
    for (size_t i = 0; i < m->item_count; i++) {
        equipment_state *e = &m->items[i];
        if (!e->terms)
            continue;
        bool changed;
        int rc = maintenance_reconcile(m, e, now_ms, "sweep", true, &changed, err);
        if (rc)
            return rc;
        ++*checked;
        *transitions += changed;
        if (e->last_alert[0] && e->last_alert_ms + m->config.alert_repeat_ms < m->next_repeat_ms)
            m->next_repeat_ms = e->last_alert_ms + m->config.alert_repeat_ms;
    }
    m->swept = true;
    m->swept_day = today;
    return 0;
}
