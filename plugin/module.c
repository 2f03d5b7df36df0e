/* module.c — the ABI glue: the descriptor, the instance's life cycle (init, commit,
 * shutdown), its libuv handles (the periodic sweep timer, the watch on the contracts
 * directory), and routing each event to its handler. */
#include "core/text.h"
#include "error.h"
#include "maintenance.h"
#include "out/emit.h"
#include "zone/station_zone.h"
#include "json/json_fields.h"
#include "json/json_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MODULE_NAME    "smart-maintenance"
#define MODULE_VERSION SMART_PROJECT_VERSION /* meson.build project() version */

typedef int (*topic_handler)(maintenance *m, const json_t *data, int64_t now_ms, smart_error *err);

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
    {"contract.deployed", handle_contract_deployed},
};

/* ---- configuration ---------------------------------------------------------------------- */

static const char *const config_keys[] = {
    "contracts_dir", "data_dir",     "sweep_interval_s",         "alert_repeat_h",     "utc_offset",
    "time_zone",     "trusted_keys", "require_signed_contracts", "station_files_only", NULL};

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
    const char *contracts, *data, *offset = NULL, *zone = NULL;
    json_int_t sweep_s = 3600, repeat_h = 24;
    int rc;
    if ((rc = jf_object(doc, "config", config_keys, err)) ||
        (rc = jf_string(doc, "config", "contracts_dir", true, &contracts, err)) ||
        (rc = jf_string(doc, "config", "data_dir", true, &data, err)) ||
        (rc = jf_int(doc, "config", "sweep_interval_s", false, 1, 7 * 86400, &sweep_s, err)) ||
        (rc = jf_int(doc, "config", "alert_repeat_h", false, 1, 24 * 365, &repeat_h, err)) ||
        (rc = jf_string(doc, "config", "utc_offset", false, &offset, err)) ||
        (rc = jf_string(doc, "config", "time_zone", false, &zone, err)) ||
        (rc = jf_bool(doc, "config", "station_files_only", false, &cfg->station_files_only, err)) ||
        (rc = contract_trust_parse(doc, &cfg->trust, err)))
        goto done;
    int offset_minutes = 0;
    if (offset && zone) {
        rc = error_set(err, SMART_EINVAL,
                       "config.time_zone: give time_zone or utc_offset, not both (time_zone "
                       "follows daylight saving, utc_offset is fixed)");
        goto done;
    }
    if (offset && utc_offset_parse(offset, &offset_minutes) != 0) {
        rc = error_set(err, SMART_EINVAL, "config.utc_offset: '%.20s' is not +HH:MM, -HH:MM or Z",
                       offset);
        goto done;
    }
    /* The zone's rules are read from ICU here, once; the lookups after it are pure. */
    if ((rc = zone ? station_zone_open(zone, "config.time_zone", &cfg->zone, err)
                   : station_zone_fixed(offset_minutes, &cfg->zone, err)))
        goto done;
    resolve_path(cfg->contracts_dir, sizeof cfg->contracts_dir, host->config_dir, contracts);
    resolve_path(cfg->data_dir, sizeof cfg->data_dir, host->config_dir, data);
    cfg->sweep_interval_ms = sweep_s * 1000;
    cfg->alert_repeat_ms = repeat_h * 3600 * 1000;
done:
    json_decref(doc);
    if (rc == SMART_ENOMEM)
        return rc;
    if (rc && err)
        err->code = SMART_ECONFIG;
    return rc ? SMART_ECONFIG : 0;
}

static void release(maintenance *m);

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

/* The hub deploys by writing files into the contracts directory, often in several steps; the
 * rescan waits until the directory has been quiet for a moment, then asks for it as a posted
 * contract.deployed event, so it is batched and acknowledged like any other. */
#define RESCAN_QUIET_MS 250

static void on_quiet(uv_timer_t *timer)
{
    maintenance *m = timer->data;
    if (m->failed || m->rescan_posted)
        return;
    static const char data[] = "{\"reason\":\"contracts_dir changed\"}";
    smart_error err = {0};
    if (m->host->post_event(m->host, "contract.deployed", data, sizeof data - 1, &err) == 0)
        m->rescan_posted = true;
    else
        m->host->log(m->host, SMART_LOG_WARN, err.text);
}

static void on_contracts_dir(uv_fs_event_t *watch, const char *file, int events, int status)
{
    maintenance *m = watch->data;
    (void)file;
    (void)events;
    if (status < 0) {
        m->host->log(m->host, SMART_LOG_WARN, uv_strerror(status));
        return;
    }
    uv_timer_start(m->quiet_timer, on_quiet, RESCAN_QUIET_MS, 0);
}

/* The module's libuv handles, each heap-allocated so that it outlives nothing but itself:
 * freed in its close callback, which counts down to the end of shutdown. */
static void handle_closed(uv_handle_t *handle)
{
    maintenance *m = handle->data;
    free(handle);
    if (--m->open_handles == 0 && m->shutdown_done) {
        smart_shutdown_done done = m->shutdown_done;
        void *arg = m->shutdown_arg;
        release(m);
        done(arg);
    }
}

static void close_handle(maintenance *m, uv_handle_t *handle)
{
    if (handle) {
        handle->data = m;
        uv_close(handle, handle_closed);
    }
}

static int start_watching(maintenance *m, smart_error *err)
{
    m->sweep_timer = malloc(sizeof *m->sweep_timer);
    m->quiet_timer = malloc(sizeof *m->quiet_timer);
    m->contracts_watch = malloc(sizeof *m->contracts_watch);
    if (!m->sweep_timer || !m->quiet_timer || !m->contracts_watch) {
        free(m->sweep_timer), free(m->quiet_timer), free(m->contracts_watch);
        m->sweep_timer = NULL, m->quiet_timer = NULL, m->contracts_watch = NULL;
        return error_set(err, SMART_ENOMEM, "out of memory");
    }
    uv_timer_init(m->host->loop, m->sweep_timer);
    uv_timer_init(m->host->loop, m->quiet_timer);
    uv_fs_event_init(m->host->loop, m->contracts_watch);
    m->sweep_timer->data = m->quiet_timer->data = m->contracts_watch->data = m;
    m->open_handles = 3;
    uint64_t period =
        (uint64_t)(m->config.sweep_interval_ms < MS_PER_MINUTE ? m->config.sweep_interval_ms
                                                               : MS_PER_MINUTE);
    uv_timer_start(m->sweep_timer, on_sweep_timer, period, period);
    /* Past this point nothing may fail: the handles are on the loop and only shutdown can
     * close them. Without a watch, deployments still arrive as contract.deployed events. */
    int rc = uv_fs_event_start(m->contracts_watch, on_contracts_dir, m->config.contracts_dir, 0);
    if (rc != 0) {
        char message[PATH_MAX + 128];
        snprintf(message, sizeof message, "not watching %s (%s): deploy with contract.deployed",
                 m->config.contracts_dir, uv_strerror(rc));
        m->host->log(m->host, SMART_LOG_WARN, message);
    }
    /* The host's input, not our watchers, decides how long the loop runs. */
    uv_unref((uv_handle_t *)m->sweep_timer);
    uv_unref((uv_handle_t *)m->quiet_timer);
    uv_unref((uv_handle_t *)m->contracts_watch);
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------------- */

static void release(maintenance *m)
{
    store_close(m->store);
    contract_set_release(&m->contracts);
    station_zone_free(m->config.zone);
    contract_trust_release(&m->config.trust);
    for (size_t i = 0; m->item_cache && i < m->item_count; i++)
        free(m->item_cache[i].text);
    free(m->item_cache);
    free(m->item_index);
    free(m->items);
    free(m->checks);
    text_pool_free(&m->texts);
    jw_release(&m->item_text);
    jw_release(&m->out);
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

/* The last check of every (item, procedure). */
static int load_checks(maintenance *m, smart_error *err)
{
    check_loader loader = {.m = m, .err = err};
    int rc = store_load_checks(m->store, collect_check, &loader, err);
    if (rc == 0)
        rc = loader.rc;
    return rc;
}

/* Says in the ledger up to which record the store's state is committed. The host writes a
 * batch's records before the module commits it, so after a crash between the two the ledger
 * holds this module's records of a batch the store never got (and whose events were never
 * answered): they are the ones after that record and before this one. */
static int record_store_opened(maintenance *m, smart_error *err)
{
    int64_t seq = 0;
    int rc = store_get_meta(m->store, STORE_META_LEDGER_SEQ, &seq, err);
    if (rc < 0)
        return rc;
    char details[PATH_MAX + 256];
    jw record = {0}, *meta = &record;
    jw_raw(meta, "{", 1);
    jw_member_string(meta, "data_dir", m->config.data_dir);
    /* The station's civil time, so that a report read from the ledger alone counts the
     * station's days as the module does: the IANA name with the tz data it was read from, or
     * the fixed offset. */
    const char *zone = station_zone_name(m->config.zone);
    if (zone[0] == '+' || zone[0] == '-') {
        jw_member_string(meta, "utc_offset", zone);
    } else {
        jw_member_string(meta, "time_zone", zone);
        jw_member_string(meta, "tzdata", station_zone_tzdata_version());
    }
    jw_key(meta, "committed_through_seq");
    if (rc == 1) {
        jw_raw(meta, "null", 4);
        snprintf(details, sizeof details,
                 "Store in %s opened; it holds no ledger position yet (new, or written before "
                 "it kept one).",
                 m->config.data_dir);
    } else {
        jw_int(meta, seq);
        snprintf(details, sizeof details,
                 "Store in %s opened: committed through ledger record %lld; records of this "
                 "module after it, before this one, describe work never committed nor answered.",
                 m->config.data_dir, (long long)seq);
    }
    jw_raw(meta, "}", 1);
    text_utf8_trim(details);
    rc = emit_ledger_jw(m, "store.opened", MODULE_NAME, "system", details, meta, err);
    jw_release(meta);
    return rc;
}

/* The ledger's end is witnessed: the store keeps the ledger record it committed through, and
 * its hash (maintenance_commit). A ledger that ends before that record (records removed, the
 * file deleted) or holds another one there (edited) has lost evidence the store relies on:
 * refused before anything is written, with SMART_ELEDGER, so the host does not start. An ABI
 * 1.1 host cannot be asked; a store from before the hash was kept is checked on the seq only. */
static int check_ledger_witness(maintenance *m, smart_error *err)
{
    const smart_host *host = m->host;
    if (!SMART_HAS(host, ledger_hash_at) || !host->ledger_hash_at)
        return 0;
    int64_t seq = 0;
    int rc = store_get_meta(m->store, STORE_META_LEDGER_SEQ, &seq, err);
    if (rc != 0 || seq <= 0)
        return rc < 0 ? rc : 0; /* no position kept yet: nothing to witness */
    char want[SMART_LEDGER_HASH_LEN + 1] = "";
    if ((rc = store_get_text_meta(m->store, STORE_META_LEDGER_HASH, want, sizeof want, err)) < 0)
        return rc;
    char have[SMART_LEDGER_HASH_LEN + 1] = "";
    uint64_t last = 0;
    smart_error host_err = {0, ""};
    rc = host->ledger_hash_at(host, (uint64_t)seq, have, &last, &host_err);
    host_err.text[sizeof host_err.text - 1] = '\0';
    if (rc == SMART_ELEDGER)
        return error_set(err, SMART_ELEDGER,
                         "the store in %s is committed through ledger record %lld, but %s: "
                         "records were removed or the ledger replaced",
                         m->config.data_dir, (long long)seq, host_err.text);
    if (rc < 0)
        return error_set(err, SMART_EIO, "%s", host_err.text);
    if (want[0] != '\0' && strcmp(want, have) != 0)
        return error_set(err, SMART_ELEDGER,
                         "the store in %s is committed through ledger record %lld with hash %s, "
                         "but that record's hash is %s: the ledger was changed",
                         m->config.data_dir, (long long)seq, want, have);
    return 0;
}

static int maintenance_init(const smart_host *host, const char *config_json, size_t config_len,
                            void **self, smart_error *err)
{
    *self = NULL;
    if (!host || host->abi_major != SMART_ABI_MAJOR || !SMART_HAS(host, log))
        return error_set(err, SMART_EVERSION, "%s needs host ABI %d.x with a complete table",
                         MODULE_NAME, SMART_ABI_MAJOR);
    maintenance *m = calloc(1, sizeof *m);
    if (!m)
        return error_set(err, SMART_ENOMEM, "out of memory");
    m->host = host;
    int64_t now = host->now_ms(host);
    int rc;
    contract_set set;
    if ((rc = parse_config(host, config_json, config_len, &m->config, err)) ||
        (rc = make_directories(m->config.data_dir, err)) ||
        (rc = store_open(m->config.data_dir, &m->store, err)) ||
        (rc = check_ledger_witness(m, err))) {
        release(m);
        return rc;
    }
    /* Loaded and checked before anything is written, so that store.opened comes before every
     * other record of this start. A refused set does not stop the module (a host would then run
     * the station with no gate): it runs on the set adopted before, or none and blocks every
     * test (maintenance_start_refused). Only the store, the ledger or memory failing stop it. */
    contract_refusal *why = calloc(1, sizeof *why);
    if (!why) {
        rc = error_set(err, SMART_ENOMEM, "out of memory");
        goto failed;
    }
    int refused = maintenance_load_contracts(m, now, &set, why);
    if (refused && refused != SMART_ECONTRACT && refused != SMART_ECONFIG) {
        *err = why->error;
        rc = refused;
        free(why);
        goto failed;
    }
    if ((rc = record_store_opened(m, err))) {
        if (!refused)
            contract_set_release(&set);
        free(why);
        goto failed;
    }
    rc = refused ? maintenance_start_refused(m, why, now, err)
                 : maintenance_adopt_contracts(m, &set, now, "start-up", err);
    free(why);
    if (rc || (rc = load_checks(m, err)) || (rc = store_commit(m->store, err)) ||
        (rc = start_watching(m, err)))
        goto failed;
    m->texts_live = text_pool_bytes(&m->texts); /* the items' texts at start: all in use */
    *self = m;
    return 0;
failed:
    release(m);
    return rc;
}

static topic_handler find_handler(const char *topic)
{
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        if (strcmp(topics[i].topic, topic) == 0)
            return topics[i].handle;
    return NULL;
}

/* The event's data as a JSON tree: a new reference. jr_read takes and refuses exactly what
 * json_loadb(..., JSON_REJECT_DUPLICATES) does, in its words, at a fraction of its cost. */
static int event_data(const smart_event *event, json_t **data, smart_error *err)
{
    json_error_t jerr;
    *data = jr_read(event->data_json, event->data_len, &jerr);
    if (!*data)
        return error_set(err, SMART_EINVAL, "data: not valid JSON: %s", jerr.text);
    return 0;
}

/* [any thread] The parse of an event's data, done ahead: state-free, like event_data. */
static int maintenance_decode_event(const smart_event *event, void **decoded, smart_error *err)
{
    json_t *data = NULL;
    int rc = find_handler(event->topic) ? event_data(event, &data, err) : 0;
    *decoded = data;
    return rc;
}

static void maintenance_release_decoded(void *decoded)
{
    json_decref(decoded);
}

static int maintenance_on_event(void *self, const smart_event *event, smart_error *err)
{
    maintenance *m = self;
    topic_handler handle = find_handler(event->topic);
    if (!handle)
        return SMART_ENOTSUP;
    if (m->failed)
        return error_set(err, SMART_EIO, "%s has failed and accepts no more work", MODULE_NAME);
    json_t *data = SMART_HAS(event, decoded) ? json_incref(event->decoded) : NULL;
    int rc = data ? 0 : event_data(event, &data, err);
    if (rc)
        return rc;
    /* The periodic sweep due at the event's time is run by the handler itself, once it has
     * validated the event in full (maintenance_catch_up): a refused line must leave nothing at
     * its time. */
    if (handle == handle_calibration_sweep)
        m->sweep_posted = false;
    rc = handle(m, data, event->time_ms, err);
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
    int rc = 0;
    /* With the batch's changes, where the ledger stood and that record's hash: see
     * record_store_opened and check_ledger_witness. The host has synced the batch's records,
     * so they are in the ledger before the store says it is committed through them. */
    const smart_host *host = m->host;
    if (m->ledger_since_commit && SMART_HAS(host, ledger_head) && host->ledger_head) {
        char hash[SMART_LEDGER_HASH_LEN + 1];
        uint64_t seq = host->ledger_head(host, hash);
        rc = store_put_meta(m->store, STORE_META_LEDGER_SEQ, (int64_t)seq, err);
        if (rc == 0)
            rc = store_put_text_meta(m->store, STORE_META_LEDGER_HASH, hash, err);
    } else if (m->ledger_since_commit && SMART_HAS(host, ledger_seq) && host->ledger_seq) {
        rc = store_put_meta(m->store, STORE_META_LEDGER_SEQ, (int64_t)host->ledger_seq(host), err);
        if (rc == 0) /* a hash kept under a newer host is not this record's */
            rc = store_put_text_meta(m->store, STORE_META_LEDGER_HASH, "", err);
    }
    if (rc == 0)
        rc = store_commit(m->store, err);
    if (rc)
        m->failed = true;
    else
        m->ledger_since_commit = false;
    maintenance_compact_texts(m); /* between batches: no copy of an item is held */
    return rc;
}

static void maintenance_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    maintenance *m = self;
    /* Nothing is committed here: the host commits each batch before it acknowledges it, so
     * whatever is still open was never acknowledged and store_close rolls it back. */
    m->shutdown_done = done;
    m->shutdown_arg = arg;
    close_handle(m, (uv_handle_t *)m->sweep_timer);
    close_handle(m, (uv_handle_t *)m->quiet_timer);
    close_handle(m, (uv_handle_t *)m->contracts_watch);
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
    .decode_event = maintenance_decode_event,
    .release_decoded = maintenance_release_decoded,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &descriptor;
}
