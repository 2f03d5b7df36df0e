/* item_readiness.c — an item's readiness as the module holds it: the last check of each of its
 * procedures (a table sorted by item and procedure), its assessment now, and its ITEM text,
 * cached while nothing about the item or the day changes. */
#include "error.h"
#include "maintenance.h"
#include "out/emit.h"

#include <stdlib.h>
#include <string.h>

cal_assessment maintenance_assess(const maintenance *m, const equipment_state *e, civil_day today)
{
    (void)m;
    if (!e || !e->terms)
        return (cal_assessment){.status = CAL_UNKNOWN, .ready = false};
    if (e->terms->station_checklist) /* a station procedure: nothing to calibrate */
        return (cal_assessment){.status = CAL_CURRENT, .ready = !e->record.out_of_service};
    return cal_assess(&e->terms->terms, &e->record, today);
}

static int compare_checks(const void *a, const void *b)
{
    const check_state *x = a, *y = b;
    int c = strcmp(x->equipment_id, y->equipment_id);
    return c ? c : strcmp(x->procedure_id, y->procedure_id);
}

check_state *maintenance_find_check(maintenance *m, const char *equipment_id,
                                    const char *procedure_id)
{
    size_t low = 0, high = m->check_count; /* binary search in [low, high) */
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        const check_state *c = &m->checks[mid];
        int order = strcmp(equipment_id, c->equipment_id);
        if (order == 0)
            order = strcmp(procedure_id, c->procedure_id);
        if (order == 0)
            return &m->checks[mid];
        if (order < 0)
            high = mid;
        else
            low = mid + 1;
    }
    return NULL;
}

void maintenance_item_forget_text(maintenance *m, const equipment_state *e)
{
    if (!m->item_cache || !e)
        return;
    item_text_cache *c = &m->item_cache[e - m->items];
    free(c->text);
    memset(c, 0, sizeof *c);
}

int maintenance_put_check(maintenance *m, const check_state *check, smart_error *err)
{
    maintenance_item_forget_text(m, maintenance_find(m, check->equipment_id));
    check_state *found = maintenance_find_check(m, check->equipment_id, check->procedure_id);
    if (found) {
        *found = *check;
        return 0;
    }
    check_state *grown = realloc(m->checks, (m->check_count + 1) * sizeof *grown);
    if (!grown)
        return error_set(err, SMART_ENOMEM, "out of memory");
    m->checks = grown;
    size_t at = 0; /* keep the array sorted: checks are few and added rarely */
    while (at < m->check_count && compare_checks(&m->checks[at], check) < 0)
        at++;
    memmove(&m->checks[at + 1], &m->checks[at], (m->check_count - at) * sizeof *m->checks);
    m->checks[at] = *check;
    m->check_count++;
    return 0;
}

void maintenance_readiness(const maintenance *m, const equipment_state *e, int64_t now_ms,
                           int64_t planned_end_ms, readiness *out)
{
    const check_state *checks[ITEM_MAX_PROCEDURES] = {0};
    const contract_item *terms = e ? e->terms : NULL;
    for (size_t i = 0; terms && i < terms->procedure_count; i++)
        checks[i] = maintenance_find_check((maintenance *)m, e->equipment_id,
                                           terms->procedures[i]->procedure_id);
    readiness_input in = {
        .terms = terms,
        .record = e ? &e->record : NULL,
        .checks = checks,
        .now_ms = now_ms,
        .zone = m->config.zone,
        .planned_end_ms = planned_end_ms,
        .failure_note = e ? e->failure_note : NULL,
        .out_of_service_reason = e && e->record.out_of_service ? e->out_of_service_reason : NULL,
    };
    readiness_assess(&in, out);
}

/* When the ITEM text built at now_ms stops being true: at the next local midnight (the day
 * counts change), or when one of its checks lapses, whichever is first. */
static int64_t item_text_expiry(const maintenance *m, const equipment_state *e, int64_t now_ms)
{
    int64_t expires = maintenance_next_day_start_ms(m, now_ms);
    for (size_t i = 0; e->terms && i < e->terms->procedure_count; i++) {
        const procedure *p = e->terms->procedures[i];
        const check_state *c =
            maintenance_find_check((maintenance *)m, e->equipment_id, p->procedure_id);
        int64_t until = c ? check_state_valid_until(p, c, m->config.zone) : 0;
        if (c && c->passed && until > now_ms && until < expires)
            expires = until;
    }
    return expires;
}

/* The item's cache slot: only an item a contract names, assessed for now alone (a planned end
 * makes a text of that job's). */
static item_text_cache *item_cache_slot(maintenance *m, const equipment_state *e,
                                        int64_t planned_end_ms)
{
    return e && e->terms && !planned_end_ms ? &m->item_cache[e - m->items] : NULL;
}

static bool item_cache_holds(const item_text_cache *c, int64_t now_ms)
{
    return c && c->text && now_ms >= c->valid_from_ms && now_ms < c->expires_ms;
}

/* Builds the ITEM text at the end of `into` (the caller's) and keeps a copy in `c` (when not
 * NULL). Returns 0 or SMART_ENOMEM (into failed, or the copy could not be made). */
static int build_item_text(maintenance *m, const char *id, const equipment_state *e, int64_t now_ms,
                           int64_t planned_end_ms, item_text_cache *c, jw *into, bool *ready,
                           cal_status *status, char *reason)
{
    readiness r;
    maintenance_readiness(m, e, now_ms, planned_end_ms, &r);
    size_t start = into->len;
    emit_item_write(into, id, e, &r);
    const char *built = jw_text(into);
    if (!built)
        return SMART_ENOMEM;
    *ready = r.ready;
    *status = r.calibration.status;
    if (reason && !r.ready)
        memcpy(reason, r.reason, sizeof r.reason);
    if (!c)
        return 0;
    size_t len = into->len - start;
    size_t reason_size = r.ready ? 0 : strlen(r.reason) + 1;
    char *text = malloc(len + 1 + reason_size);
    if (!text)
        return SMART_ENOMEM;
    memcpy(text, built + start, len + 1);
    if (reason_size)
        memcpy(text + len + 1, r.reason, reason_size);
    free(c->text);
    *c = (item_text_cache){.text = text,
                           .len = len,
                           .reason = reason_size ? text + len + 1 : NULL,
                           .ready = r.ready,
                           .status = *status,
                           .valid_from_ms = now_ms,
                           .expires_ms = item_text_expiry(m, e, now_ms)};
    return 0;
}

int maintenance_item_write(maintenance *m, const char *id, const equipment_state *e, int64_t now_ms,
                           int64_t planned_end_ms, jw *into, bool *ready, cal_status *status,
                           char *reason)
{
    item_text_cache *c = item_cache_slot(m, e, planned_end_ms);
    if (!item_cache_holds(c, now_ms))
        return build_item_text(m, id, e, now_ms, planned_end_ms, c, into, ready, status, reason);
    *ready = c->ready;
    *status = c->status;
    if (reason && !c->ready) /* from a readiness.reason: it fits */
        memcpy(reason, c->reason, strlen(c->reason) + 1);
    jw_raw(into, c->text, c->len);
    return jw_text(into) ? 0 : SMART_ENOMEM;
}

const char *maintenance_item_text(maintenance *m, const char *id, const equipment_state *e,
                                  int64_t now_ms, int64_t planned_end_ms, bool *ready,
                                  cal_status *status, size_t *len)
{
    item_text_cache *c = item_cache_slot(m, e, planned_end_ms);
    if (!item_cache_holds(c, now_ms)) {
        jw_reset(&m->item_text);
        if (build_item_text(m, id, e, now_ms, planned_end_ms, c, &m->item_text, ready, status,
                            NULL))
            return NULL;
        if (!c) {
            *len = m->item_text.len;
            return jw_text(&m->item_text);
        }
    }
    *ready = c->ready;
    *status = c->status;
    *len = c->len;
    return c->text;
}
