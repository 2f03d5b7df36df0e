/* module.c — the ABI glue: the descriptor, the instance's life cycle (init, commit,
 * shutdown), the periodic sweep timer, and routing each event to its handler. */
#include "emit.h"
#include "error.h"
#include "json_fields.h"
#include "maintenance.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MODULE_NAME "smart-maintenance"
#define MODULE_VERSION "0.1.0"

typedef int (*topic_handler)(maintenance *m, const json_t *data, int64_t now_ms,
                             smart_error *err);

static const struct {
    const char *topic;
    topic_handler handle;
} topics[] = {
    {"clientpo.link", handle_clientpo_link},
    {"test.start", handle_test_start},
    {"calibration.record", handle_calibration_record},
    {"calibration.sweep", handle_calibration_sweep},
    {"status.query", handle_status_query},
    {"maintenance.check", handle_maintenance_check},
    {"equipment.out_of_service", handle_out_of_service},
    {"equipment.return_to_service", handle_return_to_service},
    {"calibration.schedule", handle_calibration_schedule},
};

/* ---- configuration ---------------------------------------------------------------------- */

static const char *const config_keys[] = {"contracts_dir", "data_dir", "sweep_interval_s",
                                          "alert_repeat_h", "utc_offset", NULL};

static void resolve_path(char *out, size_t size, const char *base, const char *path)
{
    if (path[0] == '/' || !base || !*base)
        snprintf(out, size, "%s", path);
    else
        snprintf(out, size, "%s/%s", base, path);
}

/* mkdir -p: the data directory may be new on a fresh station. */
static int make_directories(const char *path, smart_error *err)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST)
            return error_set(err, SMART_ECONFIG, "data_dir: cannot create %s: %s", copy,
                             strerror(errno));
        *p = '/';
    }
    if (mkdir(copy, 0755) != 0 && errno != EEXIST)
        return error_set(err, SMART_ECONFIG, "data_dir: cannot create %s: %s", copy,
                         strerror(errno));
    return 0;
}

static int parse_config(const smart_host *host, const char *text, size_t len,
                        maintenance_config *cfg, smart_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return error_set(err, SMART_ECONFIG, "config: not valid JSON: %s", jerr.text);
    const char *contracts, *data, *offset = NULL;
    json_int_t sweep_s = 3600, repeat_h = 24;
    int rc;
    if ((rc = jf_object(doc, "config", config_keys, err)) ||
        (rc = jf_string(doc, "config", "contracts_dir", true, &contracts, err)) ||
        (rc = jf_string(doc, "config", "data_dir", true, &data, err)) ||
        (rc = jf_int(doc, "config", "sweep_interval_s", false, 1, 7 * 86400, &sweep_s, err)) ||
        (rc = jf_int(doc, "config", "alert_repeat_h", false, 1, 24 * 365, &repeat_h, err)) ||
        (rc = jf_string(doc, "config", "utc_offset", false, &offset, err)))
        goto done;
    if (offset && utc_offset_parse(offset, &cfg->utc_offset_minutes) != 0) {
        rc = error_set(err, SMART_EINVAL, "config.utc_offset: '%.20s' is not +HH:MM, -HH:MM or Z",
                       offset);
        goto done;
    }
    resolve_path(cfg->contracts_dir, sizeof cfg->contracts_dir, host->config_dir, contracts);
    resolve_path(cfg->data_dir, sizeof cfg->data_dir, host->config_dir, data);
    cfg->sweep_interval_ms = sweep_s * 1000;
    cfg->alert_repeat_ms = repeat_h * 3600 * 1000;
done:
    json_decref(doc);
    if (rc && err)
        err->code = SMART_ECONFIG;
    return rc ? SMART_ECONFIG : 0;
}

/* ---- equipment table -------------------------------------------------------------------- */

static int compare_items(const void *a, const void *b)
{
    return strcmp(((const equipment_state *)a)->equipment_id,
                  ((const equipment_state *)b)->equipment_id);
}

typedef struct item_list {
    equipment_state *items;
    size_t count, capacity;
    bool out_of_memory;
} item_list;

static equipment_state *item_list_add(item_list *list)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? list->capacity * 2 : 64;
        equipment_state *grown = realloc(list->items, cap * sizeof *grown);
        if (!grown) {
            list->out_of_memory = true;
            return NULL;
        }
        list->items = grown;
        list->capacity = cap;
    }
    equipment_state *e = &list->items[list->count++];
    memset(e, 0, sizeof *e);
    return e;
}

static void collect_stored(void *ctx, const equipment_state *state)
{
    equipment_state *e = item_list_add(ctx);
    if (e)
        *e = *state;
}

/* Builds the equipment table from the store and the contracts in force: every stored item
 * keeps its history; a contract item new to the station starts with no record (or with the
 * calibration the contract carries); items no contract names are kept, retired. */
static int build_items(maintenance *m, int64_t now_ms, smart_error *err)
{
    item_list list = {0};
    int rc = store_load_equipment(m->store, collect_stored, &list, err);
    if (rc == 0 && list.out_of_memory)
        rc = error_set(err, SMART_ENOMEM, "out of memory");
    size_t stored = list.count;
    for (size_t i = 0; rc == 0 && i < m->contracts.item_count; i++) {
        const contract_item *ci = m->contracts.index[i];
        equipment_state *e = NULL; /* the stored rows come sorted by id */
        for (size_t lo = 0, hi = stored; lo < hi && !e;) {
            size_t mid = lo + (hi - lo) / 2;
            int cmp = strcmp(list.items[mid].equipment_id, ci->equipment_id);
            if (cmp == 0)
                e = &list.items[mid];
            else if (cmp < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!e) {
            if (!(e = item_list_add(&list))) {
                rc = error_set(err, SMART_ENOMEM, "out of memory");
                break;
            }
            snprintf(e->equipment_id, sizeof e->equipment_id, "%s", ci->equipment_id);
        }
        e->terms = ci;
        /* The contract's calibration counts when the station has none as recent. */
        if (ci->has_baseline &&
            (!e->record.has_calibration || ci->baseline_date.day > e->record.calibrated_on)) {
            char source[PATH_MAX + 16];
            snprintf(source, sizeof source, "contract:%s", ci->owner->file);
            calibration_entry entry = {
                .equipment_id = ci->equipment_id,
                .calibration_date = ci->baseline_date_text,
                .day = ci->baseline_date.day,
                .certificate_number = ci->baseline_certificate,
                .provider = ci->baseline_provider,
                .source = source,
                .recorded_at_ms = now_ms,
            };
            if ((rc = store_add_calibration(m->store, &entry, err)))
                break;
            e->record.has_calibration = true;
            e->record.calibrated_on = ci->baseline_date.day;
            snprintf(e->calibration_date, sizeof e->calibration_date, "%s",
                     ci->baseline_date_text);
            snprintf(e->certificate, sizeof e->certificate, "%s", ci->baseline_certificate);
            if ((rc = store_put_equipment(m->store, e, err)))
                break;
        }
    }
    if (rc) {
        free(list.items);
        return rc;
    }
    if (list.count)
        qsort(list.items, list.count, sizeof *list.items, compare_items);
    m->items = list.items;
    m->item_count = list.count;
    return 0;
}

static int record_contracts_loaded(maintenance *m, smart_error *err)
{
    json_t *loaded = json_array(), *skipped = json_array();
    for (size_t i = 0; loaded && i < m->contracts.contract_count; i++) {
        const contract *c = &m->contracts.contracts[i];
        json_array_append_new(loaded, json_pack("{s:s, s:I, s:s, s:s, s:I}", "contract_id",
                                                c->contract_id, "version", c->version, "file",
                                                c->file, "sha256", c->sha256, "equipment",
                                                (json_int_t)c->item_count));
    }
    for (size_t i = 0; skipped && i < m->contracts.skipped_count; i++)
        json_array_append_new(skipped, json_string(m->contracts.skipped[i]));
    char details[256];
    snprintf(details, sizeof details,
             "%zu contract(s) in force for station type %s, %zu equipment item(s); %zu file(s) "
             "for other station types skipped",
             m->contracts.contract_count, m->host->station_type, m->contracts.item_count,
             m->contracts.skipped_count);
    return emit_ledger(m, "contracts.loaded", m->host->node_id, "system", details,
                       json_pack("{s:o, s:o, s:s}", "contracts", loaded, "skipped", skipped,
                                 "contracts_dir", m->config.contracts_dir),
                       err);
}

/* ---- the periodic sweep ----------------------------------------------------------------- */

/* The timer runs on real time, but the sweep follows the host's clock: the timer only asks
 * for a sweep (as a posted event, so it is batched and acknowledged like any other) once the
 * host's clock says one is due. Under a simulated clock the events themselves trigger it. */
static void on_sweep_timer(uv_timer_t *timer)
{
    maintenance *m = timer->data;
    if (m->failed || m->sweep_posted || m->host->now_ms(m->host) < m->next_sweep_ms)
        return;
    smart_error err = {0};
    if (m->host->post_event(m->host, "calibration.sweep", "{}", 2, &err) == 0)
        m->sweep_posted = true;
    else
        m->host->log(m->host, SMART_LOG_WARN, err.text);
}

static void free_timer(uv_handle_t *handle) { free(handle); }

/* ---- life cycle ------------------------------------------------------------------------- */

static void release(maintenance *m)
{
    store_close(m->store);
    contract_set_release(&m->contracts);
    for (size_t i = 0; m->item_cache && i < m->item_count; i++)
        free(m->item_cache[i].text);
    free(m->item_cache);
    free(m->items);
    free(m->checks);
    free(m->scratch_text);
    free(m);
}

typedef struct check_loader {
    maintenance *m;
    int rc;
    smart_error *err;
} check_loader;

static void collect_check(void *ctx, const check_state *check)
{
    check_loader *l = ctx;
    if (l->rc == 0)
        l->rc = maintenance_put_check(l->m, check, l->err);
}

/* The last check of every (item, procedure), and an empty text cache per item. */
static int load_checks(maintenance *m, smart_error *err)
{
    check_loader loader = {.m = m, .err = err};
    int rc = store_load_checks(m->store, collect_check, &loader, err);
    if (rc == 0)
        rc = loader.rc;
    if (rc == 0 && !(m->item_cache = calloc(m->item_count ? m->item_count : 1,
                                            sizeof *m->item_cache)))
        rc = error_set(err, SMART_ENOMEM, "out of memory");
    return rc;
}

static int maintenance_init(const smart_host *host, const char *config_json, size_t config_len,
                            void **self, smart_error *err)
{
    *self = NULL;
    if (!host || host->abi_major != SMART_ABI_MAJOR || !SMART_HAS(host, log))
        return error_set(err, SMART_EVERSION, "%s needs host ABI %d.x with a complete table",
                         MODULE_NAME, SMART_ABI_MAJOR);
    if (sodium_init() < 0)
        return error_set(err, SMART_EIO, "libsodium failed to initialise");
    maintenance *m = calloc(1, sizeof *m);
    if (!m)
        return error_set(err, SMART_ENOMEM, "out of memory");
    m->host = host;
    int64_t now = host->now_ms(host);
    int rc;
    if ((rc = parse_config(host, config_json, config_len, &m->config, err)) ||
        (rc = make_directories(m->config.data_dir, err)) ||
        (rc = contract_set_load(m->config.contracts_dir, host->station_type, &m->contracts, err)) ||
        (rc = store_open(m->config.data_dir, &m->store, err)) ||
        (rc = build_items(m, now, err)) || (rc = load_checks(m, err)) ||
        (rc = record_contracts_loaded(m, err)) ||
        (rc = store_commit(m->store, err))) {
        release(m);
        return rc;
    }
    if (!(m->sweep_timer = malloc(sizeof *m->sweep_timer))) {
        release(m);
        return error_set(err, SMART_ENOMEM, "out of memory");
    }
    uint64_t period = (uint64_t)(m->config.sweep_interval_ms < 60000 ? m->config.sweep_interval_ms
                                                                      : 60000);
    if ((rc = uv_timer_init(host->loop, m->sweep_timer)) != 0) {
        free(m->sweep_timer);
        release(m);
        return error_set(err, SMART_EIO, "sweep timer: %s", uv_strerror(rc));
    }
    m->sweep_timer->data = m;
    if ((rc = uv_timer_start(m->sweep_timer, on_sweep_timer, period, period)) != 0) {
        uv_close((uv_handle_t *)m->sweep_timer, free_timer);
        release(m);
        return error_set(err, SMART_EIO, "sweep timer: %s", uv_strerror(rc));
    }
    uv_unref((uv_handle_t *)m->sweep_timer); /* the host's input, not our timer, keeps it up */
    *self = m;
    return 0;
}

static int maintenance_on_event(void *self, const smart_event *event, smart_error *err)
{
    maintenance *m = self;
    topic_handler handle = NULL;
    for (size_t i = 0; i < sizeof topics / sizeof topics[0] && !handle; i++)
        if (strcmp(topics[i].topic, event->topic) == 0)
            handle = topics[i].handle;
    if (!handle)
        return SMART_ENOTSUP;
    if (m->failed)
        return error_set(err, SMART_EIO, "%s has failed and accepts no more work", MODULE_NAME);
    json_error_t jerr;
    json_t *data = json_loadb(event->data_json, event->data_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!data)
        return error_set(err, SMART_EINVAL, "data: not valid JSON: %s", jerr.text);
    int64_t now = event->time_ms;
    int rc = 0;
    bool explicit_sweep = handle == handle_calibration_sweep;
    if (explicit_sweep) {
        m->sweep_posted = false;
    } else if (now >= m->next_sweep_ms) {
        size_t checked, transitions;
        rc = maintenance_sweep(m, now, &checked, &transitions, err);
    }
    if (rc == 0)
        rc = handle(m, data, now, err);
    json_decref(data);
    if (rc == SMART_EIO || rc == SMART_ENOMEM)
        m->failed = true;
    return rc;
}

static int maintenance_commit(void *self, smart_error *err)
{
    maintenance *m = self;
    if (m->failed)
        return error_set(err, SMART_EIO, "%s has failed; nothing more is committed", MODULE_NAME);
    int rc = store_commit(m->store, err);
    if (rc)
        m->failed = true;
    return rc;
}

static void finish_shutdown(uv_handle_t *handle)
{
    maintenance *m = handle->data;
    smart_shutdown_done done = m->shutdown_done;
    void *arg = m->shutdown_arg;
    free(handle);
    release(m);
    done(arg);
}

static void maintenance_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    maintenance *m = self;
    /* Nothing is committed here: the host commits each batch before it acknowledges it, so
     * whatever is still open was never acknowledged and store_close rolls it back. */
    m->shutdown_done = done;
    m->shutdown_arg = arg;
    uv_timer_stop(m->sweep_timer);
    uv_close((uv_handle_t *)m->sweep_timer, finish_shutdown);
}

static const smart_plugin descriptor = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = MODULE_NAME,
    .version = MODULE_VERSION,
    .init = maintenance_init,
    .on_event = maintenance_on_event,
    .commit = maintenance_commit,
    .shutdown = maintenance_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void) { return &descriptor; }
