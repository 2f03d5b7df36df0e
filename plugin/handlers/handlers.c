/* handlers.c — the gate and the questions: ClientPO links, test starts, status queries.
 *
 * Every handler (here, in handle_calibration.c and in handle_equipment.c) goes one way:
 * parse and validate → decide → persist → emit. It checks everything before it changes
 * anything, so a rejected event leaves no trace but the host's record of the rejection.
 *
 * The answers here carry one ITEM per piece of equipment and are the bulk of the module's
 * output, so they are written as text (jsonw.h) around each item's cached ITEM text
 * (maintenance_item_write), each into a buffer of the call that writes it. */
#include "core/text.h"
#include "error.h"
#include "maintenance.h"
#include "out/emit.h"
#include "json/json_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The equipment of a link or a test start: identifiers (see jf_id), borrowed. */
typedef struct id_list {
    const char *id[JF_ID_ARRAY_MAX];
    size_t count;
} id_list;

static void id_list_from_json(const json_t *ids, id_list *out)
{
    out->count = json_array_size(ids);
    for (size_t i = 0; i < out->count; i++)
        out->id[i] = json_string_value(json_array_get(ids, i));
}

static bool is_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* A link is stored as its ids, one per line: identifiers hold no newline, so splitting is
 * exact and nothing needs a JSON parser. */
#define STORED_LINK_MAX (JF_ID_ARRAY_MAX * 66)

static int id_list_join(const id_list *ids, char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; i < ids->count; i++) {
        size_t n = strlen(ids->id[i]);
        if (used + n + 2 > size)
            return -1;
        if (i)
            out[used++] = '\n';
        memcpy(out + used, ids->id[i], n);
        used += n;
    }
    out[used] = '\0';
    return 0;
}

/* Splits a stored link in place: the ids point into `text`. Returns 0, or -1 when it is not a
 * list of identifiers (the store was changed behind the module's back). */
static int id_list_split(char *text, id_list *out)
{
    out->count = 0;
    if (!*text)
        return 0;
    for (char *p = text;;) {
        char *id = p;
        while (is_id_char(*p))
            p++;
        if (p == id || p - id > 64 || (*p != '\n' && *p) || out->count == JF_ID_ARRAY_MAX)
            return -1;
        out->id[out->count++] = id;
        if (!*p)
            return 0;
        *p++ = '\0';
    }
}

static bool id_list_has(const id_list *ids, const char *id)
{
    for (size_t i = 0; i < ids->count; i++)
        if (strcmp(ids->id[i], id) == 0)
            return true;
    return false;
}

/* The equipment linked to a ClientPO: *ids point into *text (malloc'd, the caller frees it;
 * NULL with no ids when there is no link). */
static int load_link(maintenance *m, const char *clientpo_id, char **text, id_list *ids,
                     smart_error *err)
{
    ids->count = 0;
    int rc = store_get_link(m->store, clientpo_id, text, err);
    if (rc == 0 && *text && id_list_split(*text, ids) != 0) {
        free(*text);
        *text = NULL;
        ids->count = 0;
        rc = error_set(err, SMART_EIO, "store: the link of %s is not a list of ids", clientpo_id);
    }
    return rc;
}

/* Writes the ids as a JSON array. */
static void write_ids(jw *w, const id_list *ids)
{
    jw_raw(w, "[", 1);
    for (size_t i = 0; i < ids->count; i++) {
        jw_sep(w);
        jw_string_raw(w, ids->id[i]);
    }
    jw_raw(w, "]", 1);
}

/* The assessed list of a link or a test start, its texts owned by it (assessed_list_release):
 * the ITEM texts, comma-separated (items); the ids of the items not ready (blocking,
 * ["a",...]), and the same with their status and reason (not_ready, [{equipment_id, status,
 * reason}], for the ledger). */
typedef struct assessed_list {
    const equipment_state *found[JF_ID_ARRAY_MAX]; /* maintenance_find of each id */
    size_t ends[JF_ID_ARRAY_MAX];                  /* where each item's text ends in items */
    bool ready[JF_ID_ARRAY_MAX];
    size_t count, blocking_count;
    char summary[1024]; /* "LP01-THM-01 (calibration expired: ...); ..." */
    jw items, blocking, not_ready;
} assessed_list;

static void assessed_list_release(assessed_list *list)
{
    jw_release(&list->items);
    jw_release(&list->blocking);
    jw_release(&list->not_ready);
}

/* An item not ready: its reason (maintenance_item_write's) goes into the summary, the record
 * and the alert. */
static void list_not_ready(assessed_list *out, const char *equipment_id, cal_status status,
                           const char *reason)
{
    char line[READINESS_TEXT_MAX + 80];
    size_t used = 0;
    text_put_str(line, sizeof line, &used, equipment_id);
    text_put(line, sizeof line, &used, " (", 2);
    text_put_str(line, sizeof line, &used, reason);
    text_put(line, sizeof line, &used, ")", 1);
    text_utf8_trim(line);
    text_append(out->summary, sizeof out->summary, "; ", line);
    out->blocking_count++;
    jw_sep(&out->blocking);
    jw_string_raw(&out->blocking, equipment_id);
    jw_sep(&out->not_ready);
    jw_raw(&out->not_ready, "{", 1);
    jw_member_raw(&out->not_ready, "equipment_id", equipment_id);
    jw_member_raw(&out->not_ready, "status", cal_status_name(status));
    jw_member_string(&out->not_ready, "reason", reason);
    jw_raw(&out->not_ready, "}", 1);
}

/* Assesses each listed item at now_ms (and through planned_end_ms when not 0) into *out (the
 * caller releases it, also on failure). Returns 0 or SMART_ENOMEM. */
static int assess_list(maintenance *m, const id_list *ids, int64_t now_ms, int64_t planned_end_ms,
                       assessed_list *out, smart_error *err)
{
    *out = (assessed_list){.blocking_count = 0};
    jw_raw(&out->blocking, "[", 1);
    jw_raw(&out->not_ready, "[", 1);
    for (size_t i = 0; i < ids->count; i++) {
        const char *equipment_id = ids->id[i];
        const equipment_state *e = out->found[i] = maintenance_find(m, equipment_id);
        bool ready;
        cal_status status;
        char reason[READINESS_TEXT_MAX];
        if (i)
            jw_raw(&out->items, ",", 1);
        if (maintenance_item_write(m, equipment_id, e, now_ms, planned_end_ms, &out->items, &ready,
                                   &status, reason))
            return error_set(err, SMART_ENOMEM, "out of memory");
        out->ends[i] = out->items.len;
        out->ready[i] = ready;
        out->count = i + 1;
        if (!ready)
            list_not_ready(out, equipment_id, status, reason);
    }
    jw_raw(&out->blocking, "]", 1);
    jw_raw(&out->not_ready, "]", 1);
    if (!jw_text(&out->items) || !jw_text(&out->blocking) || !jw_text(&out->not_ready))
        return error_set(err, SMART_ENOMEM, "out of memory");
    return 0;
}

/* An answer with one ITEM per piece of equipment outgrows the SMART_JSON_MAX bytes the host
 * takes for a job of a few hundred items with long texts (8 checks each, descriptions and
 * reasons full of escaped characters): the host refused the line and the operator never heard
 * why. Such an answer (and only such: every answer that fits is as it was) is bounded: its
 * `equipment` lists the items not ready, in job order, within EQUIPMENT_INLINE_BYTES, it says
 * `equipment_count` and `equipment_pages`, and every item follows in equipment.page output
 * events and ledger records of at most EQUIPMENT_PAGE_BYTES of items each. */
#define EQUIPMENT_INLINE_BYTES (512 * 1024)
#define EQUIPMENT_PAGE_BYTES   (768 * 1024)

/* Item i's text in list->items, from *start to *end. */
static void item_span(const assessed_list *list, size_t i, size_t *start, size_t *end)
{
    *start = i ? list->ends[i - 1] + 1 : 0; /* past the comma */
    *end = list->ends[i];
}

/* `"equipment":[...]` of a bounded answer: the items not ready while they fit. */
static void write_not_ready_items(jw *w, const assessed_list *list)
{
    size_t bytes = 0;
    jw_key(w, "equipment");
    jw_raw(w, "[", 1);
    for (size_t i = 0, first = 1; i < list->count; i++) {
        size_t start, end;
        item_span(list, i, &start, &end);
        if (list->ready[i] || bytes + end - start + 1 > EQUIPMENT_INLINE_BYTES)
            continue;
        if (!first)
            jw_raw(w, ",", 1);
        jw_raw(w, list->items.text + start, end - start);
        bytes += end - start + 1;
        first = 0;
    }
    jw_raw(w, "]", 1);
}

/* The item after `from` that starts the next page (a page holds one item at least: an item is
 * some kilobytes). */
static size_t equipment_page_end(const assessed_list *list, size_t from)
{
    size_t start, end, to = from + 1;
    item_span(list, from, &start, &end);
    size_t bytes = end - start + 1;
    for (; to < list->count; to++) {
        item_span(list, to, &start, &end);
        if (bytes + end - start + 1 > EQUIPMENT_PAGE_BYTES)
            break;
        bytes += end - start + 1;
    }
    return to;
}

static size_t equipment_page_count(const assessed_list *list)
{
    size_t pages = 0;
    for (size_t at = 0; at < list->count; at = equipment_page_end(list, at))
        pages++;
    return pages;
}

/* `"equipment_count":N,"equipment_pages":{"topic":"equipment.page","pages":P}`. */
static void write_equipment_pages_member(jw *w, const assessed_list *list)
{
    jw_member_int(w, "equipment_count", (int64_t)list->count);
    jw_key(w, "equipment_pages");
    jw_raw(w, "{", 1);
    jw_member_raw(w, "topic", "equipment.page");
    jw_member_int(w, "pages", (int64_t)equipment_page_count(list));
    jw_raw(w, "}", 1);
}

/* The pages of a bounded answer `of` (clientpo.linked, or gate.decision with its decided_at):
 * every item in job order, each page an output event and a ledger record. 0 or the host's
 * error. */
static int emit_equipment_pages(maintenance *m, const assessed_list *list, const char *of,
                                const char *clientpo_id, const char *decided_at, smart_error *err)
{
    size_t pages = equipment_page_count(list), page = 0;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < list->count; page++) {
        size_t to = equipment_page_end(list, at), start, end, ignored;
        item_span(list, at, &start, &ignored);
        item_span(list, to - 1, &ignored, &end);
        jw data = {0};
        jw_raw(&data, "{", 1);
        jw_member_raw(&data, "of", of);
        jw_member_raw(&data, "clientpo_id", clientpo_id);
        if (decided_at)
            jw_member_raw(&data, "decided_at", decided_at);
        jw_member_int(&data, "page", (int64_t)page + 1);
        jw_member_int(&data, "pages", (int64_t)pages);
        jw_member_int(&data, "equipment_total", (int64_t)list->count);
        jw_key(&data, "equipment");
        jw_raw(&data, "[", 1);
        jw_raw(&data, list->items.text + start, end - start);
        jw_raw(&data, "]", 1);
        jw_raw(&data, "}", 1);
        char details[300];
        snprintf(details, sizeof details,
                 "Equipment of the %s for ClientPO %s, page %zu of %zu (%zu item(s) in all)", of,
                 clientpo_id, page + 1, pages, list->count);
        text_utf8_trim(details);
        rc = emit_ledger_jw(m, "equipment.page", clientpo_id, "system", details, &data, err);
        if (rc == 0)
            rc = emit_output_jw(m, "equipment.page", &data, err);
        jw_release(&data);
        at = to;
    }
    return rc;
}

/* Writes `"key":` and the text of `value` (a finished buffer). */
static void put_jw(jw *w, const char *key, const jw *value)
{
    jw_key(w, key);
    jw_append(w, value);
}

/* Writes `,"contracts":{"LP-CAL-001":2,...}`: the contracts (and versions) the decision was
 * made under, so an auditor can replay it against the contract file with that version. */
static void put_contracts_in_force(const assessed_list *list, size_t count, jw *w)
{
    const contract *seen[JF_ID_ARRAY_MAX];
    size_t n = 0;
    jw_key(w, "contracts");
    jw_raw(w, "{", 1);
    for (size_t i = 0; i < count; i++) {
        const equipment_state *e = list->found[i];
        if (!e || !e->terms)
            continue;
        const contract *c = e->terms->owner;
        bool listed = false;
        for (size_t k = 0; k < n && !listed; k++)
            listed = seen[k] == c;
        if (listed)
            continue;
        jw_member_int(w, c->contract_id, c->version);
        seen[n++] = c;
    }
    jw_raw(w, "}", 1);
}

static const char *const link_keys[] = {"clientpo_id", "equipment", NULL};

int handle_clientpo_link(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *clientpo_id;
    json_t *given;
    int rc;
    if ((rc = jf_object(data, "data", link_keys, err)) ||
        (rc = jf_id(data, "data", "clientpo_id", true, &clientpo_id, err)) ||
        (rc = jf_id_array(data, "data", "equipment", true, true, &given, err)))
        return rc;

    id_list ids;
    id_list_from_json(given, &ids);
    char stored[STORED_LINK_MAX];
    if (id_list_join(&ids, stored, sizeof stored) != 0)
        return error_set(err, SMART_EINVAL, "data.equipment: too long to store");
    /* A re-link replaces the job's set: what it drops is said, with the set it replaces. */
    char *previous_text = NULL;
    id_list previous, dropped = {.count = 0};
    if ((rc = load_link(m, clientpo_id, &previous_text, &previous, err)))
        return rc;
    for (size_t i = 0; i < previous.count; i++)
        if (!id_list_has(&ids, previous.id[i]))
            dropped.id[dropped.count++] = previous.id[i];
    bool relink = previous_text != NULL;

    assessed_list list = {.blocking_count = 0};
    jw ids_text = {0}, meta = {0}, out = {0}; /* the link's own texts, freed at done */
    write_ids(&ids_text, &ids);
    if (!jw_text(&ids_text))
        rc = error_set(err, SMART_ENOMEM, "out of memory");
    if (rc || (rc = maintenance_catch_up(m, now_ms, err)) ||
        (rc = assess_list(m, &ids, now_ms, 0, &list, err)) ||
        (rc = store_put_link(m->store, clientpo_id, stored, now_ms, err)))
        goto done;
    char details[1600], dropped_text[1024] = "";
    for (size_t i = 0; i < dropped.count; i++)
        text_append(dropped_text, sizeof dropped_text, ", ", dropped.id[i]);
    /* "ClientPO %s [re-]linked to %zu item(s)[, was %zu[, dropped: %s]]; %zu not ready[: %s]" */
    size_t used = 0;
    text_put_str(details, sizeof details, &used, "ClientPO ");
    text_put_str(details, sizeof details, &used, clientpo_id);
    text_put_str(details, sizeof details, &used, relink ? " re-linked to " : " linked to ");
    text_put_int(details, sizeof details, &used, (long long)ids.count);
    text_put_str(details, sizeof details, &used, " item(s)");
    if (relink) {
        text_put_str(details, sizeof details, &used, ", was ");
        text_put_int(details, sizeof details, &used, (long long)previous.count);
        if (dropped.count) {
            text_put_str(details, sizeof details, &used, ", dropped: ");
            text_put_str(details, sizeof details, &used, dropped_text);
        }
    }
    text_put_str(details, sizeof details, &used, "; ");
    text_put_int(details, sizeof details, &used, (long long)list.blocking_count);
    text_put_str(details, sizeof details, &used, " not ready");
    if (list.blocking_count) {
        text_put_str(details, sizeof details, &used, ": ");
        text_put_str(details, sizeof details, &used, list.summary);
    }
    text_utf8_trim(details);
    jw_raw(&meta, "{", 1);
    put_jw(&meta, "equipment", &ids_text);
    put_jw(&meta, "not_ready", &list.not_ready);
    if (relink) {
        jw_key(&meta, "previous_equipment");
        write_ids(&meta, &previous);
        jw_key(&meta, "dropped");
        write_ids(&meta, &dropped);
    }
    jw_raw(&meta, "}", 1);
    if ((rc = emit_ledger_jw(m, "clientpo.linked", clientpo_id, "system", details, &meta, err)))
        goto done;
    bool bounded = false; /* the whole answer is too long for one line */
    for (;; bounded = true) {
        jw_reset(&out);
        jw_raw(&out, "{", 1);
        jw_member_raw(&out, "clientpo_id", clientpo_id);
        if (bounded) {
            write_not_ready_items(&out, &list);
        } else {
            jw_key(&out, "equipment");
            jw_raw(&out, "[", 1);
            jw_append(&out, &list.items);
            jw_raw(&out, "]", 1);
        }
        jw_member_bool(&out, "all_ready", list.blocking_count == 0);
        if (relink) {
            jw_key(&out, "previous_equipment");
            write_ids(&out, &previous);
            jw_key(&out, "dropped");
            write_ids(&out, &dropped);
        }
        if (bounded)
            write_equipment_pages_member(&out, &list);
        jw_raw(&out, "}", 1);
        if (bounded || out.len <= SMART_JSON_MAX)
            break;
    }
    rc = emit_output_jw(m, "clientpo.linked", &out, err);
    if (rc == 0 && bounded)
        rc = emit_equipment_pages(m, &list, "clientpo.linked", clientpo_id, NULL, err);
done:
    assessed_list_release(&list);
    jw_release(&ids_text);
    jw_release(&meta);
    jw_release(&out);
    free(previous_text);
    return rc;
}

static const char *const start_keys[] = {"clientpo_id", "equipment", "planned_end", NULL};

/* A test.start as given: its ClientPO, the items it lists (NULL: none) and its planned end
 * (planned_end_text NULL: none). Borrowed from the event. */
typedef struct start_input {
    const char *clientpo_id, *planned_end_text;
    json_t *given;
    date_value planned_end;
} start_input;

static int parse_start(const json_t *data, int64_t now_ms, start_input *in, smart_error *err)
{
    int rc;
    if ((rc = jf_object(data, "data", start_keys, err)) ||
        (rc = jf_id(data, "data", "clientpo_id", true, &in->clientpo_id, err)) ||
        (rc = jf_id_array(data, "data", "equipment", false, true, &in->given, err)) ||
        (rc = jf_date(data, "data", "planned_end", false, &in->planned_end, &in->planned_end_text,
                      err)))
        return rc;
    if (in->planned_end_text && !in->planned_end.has_time)
        return error_set(err, SMART_EINVAL,
                         "data.planned_end: give a time with its offset "
                         "(RFC 3339), not a date alone");
    if (in->planned_end_text && in->planned_end.instant_ms <= now_ms)
        return error_set(err, SMART_EINVAL, "data.planned_end: %s is not after the start",
                         in->planned_end_text);
    return 0;
}

/* A contract's station checklist item (the hub's form; its last item, at most one), or NULL. */
static const contract_item *station_item(const contract *c)
{
    const contract_item *last = c->item_count ? &c->items[c->item_count - 1] : NULL;
    return last && last->station_checklist ? last : NULL;
}

static int compare_item_ids(const void *a, const void *b)
{
    return strcmp((*(const contract_item *const *)a)->equipment_id,
                  (*(const contract_item *const *)b)->equipment_id);
}

/* The job's equipment is its linked set: a start checks every linked item, plus any it lists
 * besides (in *listed); listing fewer never leaves a linked item out. The station's checklist
 * items follow; *nothing is set when none was given or linked before them. *ids points into
 * *link_text (the caller frees it, even on an error); its first *linked_count are linked. */
static int job_equipment(maintenance *m, const start_input *in, char **link_text, id_list *ids,
                         id_list *listed, size_t *linked_count, bool *nothing, smart_error *err)
{
    int rc = load_link(m, in->clientpo_id, link_text, ids, err);
    if (rc)
        return rc;
    *linked_count = ids->count;
    listed->count = 0;
    if (in->given)
        id_list_from_json(in->given, listed);
    for (size_t i = 0; i < listed->count; i++) {
        if (id_list_has(ids, listed->id[i]))
            continue;
        if (ids->count == JF_ID_ARRAY_MAX)
            return error_set(err, SMART_EINVAL,
                             "data.equipment: with the %zu item(s) linked to %s, the test would "
                             "use more than %d",
                             *linked_count, in->clientpo_id, JF_ID_ARRAY_MAX);
        ids->id[ids->count++] = listed->id[i];
    }
    /* Fail safe: a start that names no equipment at all is not a test we can vouch for. */
    *nothing = ids->count == 0;
    /* The station's checklists (the hub's form) are required before every test here, in id
     * order. A contract has at most one, its last item: found per contract, so a start's cost
     * follows its job and the contracts, not the station's items. */
    size_t stations = 0;
    for (size_t i = 0; i < m->contracts.contract_count; i++)
        stations += station_item(&m->contracts.contracts[i]) != NULL;
    if (stations == 0)
        return 0;
    const contract_item **station = malloc(stations * sizeof *station);
    if (!station)
        return error_set(err, SMART_ENOMEM, "out of memory");
    stations = 0;
    for (size_t i = 0; i < m->contracts.contract_count; i++)
        if (station_item(&m->contracts.contracts[i]))
            station[stations++] = station_item(&m->contracts.contracts[i]);
    qsort(station, stations, sizeof *station, compare_item_ids);
    for (size_t i = 0; i < stations && ids->count < JF_ID_ARRAY_MAX; i++)
        if (!id_list_has(ids, station[i]->equipment_id))
            ids->id[ids->count++] = station[i]->equipment_id;
    free(station);
    return 0;
}

/* The gate's decision record (meta, the caller's): the ids (ids_text) and the list assessed. */
static void write_gate_record(jw *meta, const start_input *in, bool allowed, const jw *ids_text,
                              const id_list *ids, size_t linked_count, const id_list *listed,
                              const assessed_list *list)
{
    jw_raw(meta, "{", 1);
    jw_member_bool(meta, "allowed", allowed);
    put_jw(meta, "equipment", ids_text);
    jw_key(meta, "linked"); /* the first linked_count ids are the job's linked set */
    id_list linked = *ids;
    linked.count = linked_count;
    write_ids(meta, &linked);
    if (in->given) {
        jw_key(meta, "listed");
        write_ids(meta, listed);
    }
    put_jw(meta, "not_ready", &list->not_ready);
    put_contracts_in_force(list, ids->count, meta);
    if (in->planned_end_text)
        jw_member_raw(meta, "planned_end", in->planned_end_text);
    jw_raw(meta, "}", 1);
}

/* The gate's answer (out, the caller's): every item assessed and those blocking; bounded, only
 * the items not ready, and where every item is (the pages). */
static void write_gate_answer(const maintenance *m, jw *out, const start_input *in,
                              const assessed_list *list, bool allowed, bool nothing,
                              const char *decided_at, bool bounded)
{
    jw_raw(out, "{", 1);
    jw_member_raw(out, "clientpo_id", in->clientpo_id);
    jw_member_bool(out, "allowed", allowed);
    jw_member_raw(out, "decided_at", decided_at);
    if (bounded) {
        write_not_ready_items(out, list);
    } else {
        jw_key(out, "equipment");
        jw_raw(out, "[", 1);
        jw_append(out, &list->items);
        jw_raw(out, "]", 1);
    }
    put_jw(out, "blocking", &list->blocking);
    if (bounded)
        write_equipment_pages_member(out, list);
    if (m->ungated_reason[0])
        jw_member_string(out, "reason", m->ungated_reason);
    else if (nothing)
        jw_member_raw(out, "reason", "no equipment given and none linked");
    if (in->planned_end_text)
        jw_member_raw(out, "planned_end", in->planned_end_text);
    jw_raw(out, "}", 1);
}

/* Decide with the assessed list, persist an allowed test, then record, answer and alert. */
static int decide_start(maintenance *m, const start_input *in, const id_list *ids,
                        size_t linked_count, const id_list *listed, bool nothing,
                        const jw *ids_text, int64_t now_ms, smart_error *err)
{
    assessed_list list = {.blocking_count = 0};
    int rc;
    if ((rc = maintenance_catch_up(m, now_ms, err)) ||
        (rc = assess_list(m, ids, now_ms, in->planned_end_text ? in->planned_end.instant_ms : 0,
                          &list, err))) {
        assessed_list_release(&list);
        return rc;
    }
    bool ungated = m->ungated_reason[0] != '\0'; /* no contracts in force: nothing vouched for */
    bool allowed = !nothing && !ungated && list.blocking_count == 0;
    char details[1200];
    size_t used = 0; /* "Test for ClientPO %s allowed: %zu item(s) ready" or "... blocked: %s" */
    text_put_str(details, sizeof details, &used, "Test for ClientPO ");
    text_put_str(details, sizeof details, &used, in->clientpo_id);
    if (allowed && !ungated && !nothing) {
        text_put_str(details, sizeof details, &used, " allowed: ");
        text_put_int(details, sizeof details, &used, (long long)ids->count);
        text_put_str(details, sizeof details, &used, " item(s) ready");
    } else {
        text_put_str(details, sizeof details, &used, " blocked: ");
        text_put_str(details, sizeof details, &used,
                     ungated   ? m->ungated_reason
                     : nothing ? "no equipment given and none linked"
                               : list.summary);
    }
    text_utf8_trim(details);
    int64_t test_id;
    if (allowed && (rc = store_add_allowed_test(m->store, in->clientpo_id, now_ms,
                                                jw_text(ids_text), &test_id, err))) {
        assessed_list_release(&list);
        return rc;
    }
    jw meta = {0}, out = {0}, subject = {0};
    write_gate_record(&meta, in, allowed, ids_text, ids, linked_count, listed, &list);
    if (!(rc =
              emit_ledger_jw(m, "gate.decision", in->clientpo_id, "system", details, &meta, err))) {
        char decided_at[DATE_TEXT_MAX];
        instant_format(now_ms, decided_at, sizeof decided_at);
        write_gate_answer(m, &out, in, &list, allowed, nothing, decided_at, false);
        bool bounded = out.len > SMART_JSON_MAX; /* too long for one line: the verdict stands */
        if (bounded) {
            jw_reset(&out);
            write_gate_answer(m, &out, in, &list, allowed, nothing, decided_at, true);
        }
        rc = emit_output_jw(m, "gate.decision", &out, err);
        if (rc == 0 && bounded)
            rc = emit_equipment_pages(m, &list, "gate.decision", in->clientpo_id, decided_at, err);
    }
    if (rc == 0 && !allowed) {
        jw_member_raw(&subject, "clientpo_id", in->clientpo_id);
        put_jw(&subject, "equipment", &list.blocking);
        rc = emit_alert(m, "equipment_not_ready", "high", in->clientpo_id, &subject, details,
                        now_ms, err);
    }
    jw_release(&meta);
    jw_release(&out);
    jw_release(&subject);
    assessed_list_release(&list);
    return rc;
}

int handle_test_start(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    start_input in = {.planned_end = {0}};
    int rc;
    if ((rc = parse_start(data, now_ms, &in, err)))
        return rc;
    id_list ids, listed;
    size_t linked_count = 0;
    char *link_text = NULL; /* the stored link, which the ids point into */
    jw ids_text = {0};      /* the ids as stored with an allowed test and in the record */
    bool nothing = false;   /* no equipment given and none linked */
    if (!(rc = job_equipment(m, &in, &link_text, &ids, &listed, &linked_count, &nothing, err))) {
        write_ids(&ids_text, &ids);
        rc = jw_text(&ids_text) ? decide_start(m, &in, &ids, linked_count, &listed, nothing,
                                               &ids_text, now_ms, err)
                                : error_set(err, SMART_ENOMEM, "out of memory");
    }
    jw_release(&ids_text);
    free(link_text);
    return rc;
}

static const char *const status_keys[] = {"equipment_id", "not_ready_only", "limit", "after", NULL};

/* A status answer is one output line, and the host refuses a line over SMART_JSON_MAX (1 MiB):
 * at 100,000 items the whole list is some 33 MB. So the list comes in pages, in id order: at
 * most `limit` items (STATUS_PAGE_DEFAULT when not given), and never more ITEM text than
 * STATUS_PAGE_BYTES (a page's other members are a few hundred bytes), so that every page fits
 * whatever the items hold. A station of up to STATUS_PAGE_DEFAULT items gets its whole list in
 * one answer, as before paging. */
#define STATUS_PAGE_DEFAULT 1000
#define STATUS_PAGE_MAX     10000
#define STATUS_PAGE_BYTES   (768 * 1024)

/* The first item whose id sorts after `after` (m->items is sorted by strcmp of the ids). */
static size_t first_after(const maintenance *m, const char *after)
{
    size_t lo = 0, hi = m->item_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->items[mid].equipment_id, after) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The status answer being built: the page's list, written straight into the answer (no copy of
 * a list that holds the whole station), and where it ends. */
typedef struct status_page {
    jw *out;                /* the answer; the page's ITEM texts, comma-separated, from `start` */
    size_t start;           /* where the list begins in out */
    size_t listed;          /* items on the page */
    size_t limit;           /* items a page may hold */
    bool full;              /* the page is full: the next listed item goes on a later page */
    const char *next_after; /* with full and an item left to list: the last id on the page */
    bool more;              /* an item to list is left after the page */
} status_page;

/* Puts one item's text on the page, or notes that the page is full. */
static void page_add(status_page *pg, const char *id, const char *text, size_t len)
{
    if (pg->full) {
        pg->more = true;
        return;
    }
    size_t list_len = pg->out->len - pg->start;
    if (pg->listed > 0 && (pg->listed == pg->limit || list_len + 1 + len > STATUS_PAGE_BYTES)) {
        pg->full = true;
        pg->more = true;
        return;
    }
    if (pg->listed++)
        jw_raw(pg->out, ",", 1);
    jw_raw(pg->out, text, len);
    pg->next_after = id;
}

int handle_status_query(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err)
{
    const char *only, *after;
    bool not_ready_only = false; /* a dashboard's view: list what needs attention, count all */
    json_int_t limit = STATUS_PAGE_DEFAULT;
    bool limit_given = json_object_get(data, "limit") != NULL;
    int rc;
    if ((rc = jf_object(data, "data", status_keys, err)) ||
        (rc = jf_id(data, "data", "equipment_id", false, &only, err)) ||
        (rc = jf_bool(data, "data", "not_ready_only", false, &not_ready_only, err)) ||
        (rc = jf_int(data, "data", "limit", false, 1, STATUS_PAGE_MAX, &limit, err)) ||
        (rc = jf_id(data, "data", "after", false, &after, err)))
        return rc;
    if (only && (after || limit_given))
        return error_set(err, SMART_EINVAL,
                         "data.%s: pages are for the whole list, not with "
                         "equipment_id",
                         after ? "after" : "limit");
    if ((rc = maintenance_catch_up(m, now_ms, err)))
        return rc;
    bool paged = after || limit_given; /* a pager is always told whether a page follows */
    char as_of[DATE_TEXT_MAX];
    instant_format(now_ms, as_of, sizeof as_of);
    /* m->out, kept from one answer to the next: a full list (346 KB at 1,000 items) no longer
     * grows a new buffer from 4 KiB each time (2026-12-03: its copies were 1 % of the adverse
     * station's instructions). A page is at most STATUS_PAGE_BYTES of items, so it stays small. */
    jw *out = &m->out;
    jw_reset(out);
    jw_raw(out, "{", 1);
    jw_member_raw(out, "as_of", as_of);
    jw_key(out, "equipment");
    jw_raw(out, "[", 1);
    status_page pg = {.out = out, .start = out->len, .limit = (size_t)limit};
    int64_t counts[CAL_STATUS_COUNT] = {0}, ready_count = 0, total = 0;
    size_t first = 0, last = m->item_count, from = after ? first_after(m, after) : 0;
    const equipment_state *match = only ? maintenance_find(m, only) : NULL;
    if (only) { /* one item; when no contract names it, answer anyway and say so */
        first = match && match->terms ? (size_t)(match - m->items) : 0;
        last = match && match->terms ? first + 1 : 0;
    }
    /* Every item is counted (the summary is the station's, whatever the page); the ones after
     * the cursor are listed until the page is full. */
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
        const char *text = maintenance_item_text(m, id, i < last ? &m->items[i] : match, now_ms, 0,
                                                 &ready, &status, &len);
        if (!text) {
            jw_release(out);
            return error_set(err, SMART_ENOMEM, "out of memory");
        }
        if (!(not_ready_only && ready) && (only || i >= from))
            page_add(&pg, id, text, len);
        counts[status]++;
        ready_count += ready;
        total++;
    }
    jw_raw(out, "]", 1);
    jw_key(out, "summary");
    jw_raw(out, "{", 1);
    for (int s = 0; s < CAL_STATUS_COUNT; s++)
        jw_member_int(out, cal_status_name((cal_status)s), counts[s]);
    jw_member_int(out, "ready", ready_count);
    jw_member_int(out, "not_ready", total - ready_count);
    jw_member_int(out, "total", total);
    jw_raw(out, "}", 1);
    /* The cursor for the next page (the last id on this one), or null on the last page; absent
     * from an unpaged answer that holds the whole list, which is then as it was before pages. */
    if (pg.more || paged)
        jw_member_string_or_null(out, "next_after", pg.more ? pg.next_after : NULL);
    jw_raw(out, "}", 1);
    rc = jw_text(out) ? emit_output_jw(m, "status", out, err)
                      : error_set(err, SMART_ENOMEM, "out of memory");
    if (out->failed)
        jw_release(out);
    return rc;
}
