/*
 * host_reload.c — hot reload of modules; see host_reload.h.
 *
 * For each module, in load order:
 *   1. make the current batch durable and acknowledged (the old instance commits it);
 *   2. open a fresh image from a private copy of the module file and check its ABI; if that
 *      fails, the old instance was never touched and goes on running;
 *   3. shut the old instance down and wait for its done callback (every handle closed, state
 *      flushed). Its image stays mapped: it is the fallback;
 *   4. initialise the new image. On success the old image is dlclose'd. On failure the new
 *      image is closed and a fresh instance of the old image is initialised instead.
 * The new instance is only initialised after the old one is gone because both would open the
 * same store. The pause (3 and 4) is measured and recorded in module.reloaded.
 *
 * The input stays paused from the request to the end, so no event reaches a module that is
 * not running, and the events after the request are handled by the new instance.
 */
#include "run/host_reload.h"

#include <inttypes.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "output/diag.h"
#include "run/crash_guard.h"
#include "run/host.h"
#include "run/watchdog.h"

/* Write a JSON object (consumed) as a ledger record's metadata and an output event's data.
 * Returns 0 or negative; fail-stop is handled by host_record. */
static int record_and_output(host_reload *r, const char *action, const char *target,
                             const char *details, json_t *meta)
{
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    if (text == NULL) {
        host_batch_fail_stop(r->batch, "out of memory while recording a module reload");
        return -1;
    }
    int rc = host_batch_record(r->batch, action, target, details, text);
    if (rc == 0 && host_batch_output(r->batch, action, text, strlen(text)) < 0) {
        host_batch_fail_stop(r->batch, "out of memory while reporting a module reload");
        rc = -1;
    }
    free(text);
    return rc;
}

static double ms_since(uint64_t start_ns)
{
    return (double)(uv_hrtime() - start_ns) / 1e6;
}

/* The new image could not be opened or checked: the old instance was never touched. */
static void report_open_failure(host_reload *r, const loaded_module *m, const char *why)
{
    host_diag("%s; reload refused, the running version %s goes on", why, m->version);
    json_t *meta =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "module", m->name, "path", m->path, "version",
                  m->version, "reason", why, "running", 1, "trigger", r->trigger);
    char details[1200];
    snprintf(details, sizeof details, "Reload of module %s refused: %s. Version %s goes on.",
             m->name, why, m->version);
    record_and_output(r, "module.reload_failed", m->name, details, meta);
}

/* The new image's init failed after the old instance was shut down; `restarted` says whether a
 * fresh instance of the old image now runs. */
static void report_init_failure(host_reload *r, const loaded_module *m, const char *new_version,
                                const char *why, bool restarted, const char *restart_why,
                                double pause_ms)
{
    if (restarted)
        host_diag("module %s: reload failed: version %s: init failed: %s; version %s "
                  "was restarted and goes on",
                  m->path, new_version, why, m->version);
    else
        host_diag("module %s: reload failed: version %s: init failed: %s; restarting "
                  "version %s failed too: %s; the module is no longer running",
                  m->path, new_version, why, m->version, restart_why);
    json_t *meta =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:f, s:s}", "module", m->name, "path", m->path,
                  "version", m->version, "new_version", new_version, "reason", why, "running",
                  restarted, "pause_ms", pause_ms, "trigger", r->trigger);
    if (meta != NULL && !restarted)
        json_object_set_new(meta, "restart_error", json_string(restart_why));
    char details[1400];
    snprintf(details, sizeof details, "Reload of module %s to version %s failed: %s. %s", m->name,
             new_version, why,
             restarted ? "The previous version was restarted."
                       : "The previous version could not be restarted; the module is stopped.");
    record_and_output(r, "module.reload_failed", m->name, details, meta);
}

static void on_old_instance_done(void *arg)
{
    host_reload *r = arg;
    loaded_module *m = r->stopping;
    if (m == NULL) { /* done called twice: counted once */
        host_diag("a module being reloaded called its shutdown done again; ignored");
        return;
    }
    r->stopping = NULL;
    m->instance = NULL;
    m->initialised = false;
    m->shutdown_done = true; /* an abandoned reload's module: the run's shutdown counts it */
    if (r->abandoned)
        r->abandoned = false; /* the run unloads the image when it finishes */
    else
        r->step = RELOAD_OLD_DONE;
    r->wake(r->wake_arg); /* go on from the loop, not from inside the module's code */
}

/* init of `m`'s current image, watched and guarded as every call into a module. */
static int init_watched(host_reload *r, loaded_module *m, const smart_host *table,
                        const node_module_config *cfg, smart_error *err)
{
    crash_guard_enter_call(r->guard, m->name, "init");
    watchdog_enter(r->watchdog, m->name, "init", NULL, NULL);
    int rc = module_init(m, table, r->table, cfg->config_json, cfg->config_len, err);
    watchdog_leave(r->watchdog);
    crash_guard_leave(r->guard);
    return rc;
}

/* The old instance is gone: initialise the new image, or fall back to the old one. */
static void start_new_instance(host_reload *r, loaded_module *m)
{
    module_image old = {.dl_handle = m->dl_handle, .plugin = m->plugin};
    m->dl_handle = r->fresh.dl_handle;
    m->plugin = r->fresh.plugin;
    r->fresh = (module_image){0};
    m->shutdown_started = false;
    m->shutdown_done = false;

    smart_host table;
    host_table_prepare(r->table, &table);
    const node_module_config *cfg = &r->config->modules[m->index];
    smart_error err;
    int rc = init_watched(r, m, &table, cfg, &err);
    if (rc == 0) {
        double pause_ms = ms_since(r->started_ns);
        char *new_version = strdup(m->plugin->version);
        if (new_version == NULL) {
            host_batch_fail_stop(r->batch, "out of memory while reloading a module");
            module_image_close(&old);
            return;
        }
        char *old_version = m->version;
        m->version = new_version;
        /* The old instance's done callback has run: none of its code runs again, unless it
         * left a handle open; then the handle is closed and the old image kept mapped. */
        size_t left = module_close_left_handles(r->table->loop, old.plugin);
        if (left > 0)
            host_diag("module %s: %zu handle(s) of version %s still open after its shutdown; "
                      "closed by the host, that image kept mapped",
                      m->name, left, old_version);
        else
            module_image_close(&old);
        json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:f, s:s}", "module", m->name, "path",
                                 m->path, "old_version", old_version, "new_version", new_version,
                                 "pause_ms", pause_ms, "trigger", r->trigger);
        char details[600];
        snprintf(details, sizeof details, "Reloaded module %s (%s -> %s); paused %.3f ms.", m->name,
                 old_version, new_version, pause_ms);
        free(old_version);
        record_and_output(r, "module.reloaded", m->name, details, meta);
        return;
    }
    char why[sizeof err.text];
    memcpy(why, err.text, sizeof why);
    char new_version[64];
    snprintf(new_version, sizeof new_version, "%s", m->plugin->version);
    /* init failed, so the new image owns nothing: it can go at once. */
    module_image fresh = {.dl_handle = m->dl_handle, .plugin = m->plugin};
    m->dl_handle = old.dl_handle;
    m->plugin = old.plugin;
    module_image_close(&fresh);
    if (rc == SMART_EIO || rc == SMART_ELEDGER) {
        /* A failed write or sync is never worked around (a retry could write over what the
         * disk did keep), nor a ledger short of what the store committed through: stop, keep
         * the disk as is. */
        char msg[800];
        snprintf(msg, sizeof msg, "module %s: reload: init failed: %s", m->path, why);
        host_batch_fail_stop_code(
            r->batch, rc == SMART_ELEDGER ? HOST_EXIT_LEDGER_BROKEN : HOST_EXIT_IO, msg);
        return;
    }
    smart_error restart_err;
    int restart_rc = init_watched(r, m, &table, cfg, &restart_err);
    if (restart_rc == SMART_EIO || restart_rc == SMART_ELEDGER) {
        char msg[800];
        snprintf(msg, sizeof msg, "module %s: restart after a failed reload: init failed: %s",
                 m->path, restart_err.text);
        host_batch_fail_stop_code(
            r->batch, restart_rc == SMART_ELEDGER ? HOST_EXIT_LEDGER_BROKEN : HOST_EXIT_IO, msg);
        return;
    }
    report_init_failure(r, m, new_version, why, restart_rc == 0, restart_err.text,
                        ms_since(r->started_ns));
}

/* The next module to reload at or after r->next, or NULL. */
static loaded_module *next_target(host_reload *r)
{
    for (; r->next < r->module_count; r->next++) {
        loaded_module *m = &r->modules[r->next];
        if ((r->only == SIZE_MAX || r->only == r->next) && m->initialised && !m->shutdown_started)
            return m;
    }
    return NULL;
}

static void begin(host_reload *r, size_t only, const char *trigger)
{
    r->active = true;
    r->only = only;
    r->next = 0;
    r->step = RELOAD_NEXT;
    snprintf(r->trigger, sizeof r->trigger, "%s", trigger);
}

void host_reload_request(host_reload *r, size_t only, const char *trigger)
{
    if (r->active) {
        r->again = true; /* a reload of everything once this one is over */
        return;
    }
    begin(r, only, trigger);
    r->wake(r->wake_arg);
}

bool host_reload_run(host_reload *r)
{
    while (r->active && !r->batch->failed) {
        if (r->step == RELOAD_WAITING_OLD)
            return true;
        if (r->step == RELOAD_OLD_DONE) {
            start_new_instance(r, &r->modules[r->next]);
            r->step = RELOAD_NEXT;
            r->next++;
            host_batch_end(
                r->batch, r->modules,
                r->module_count); /* the reload's record and output are acknowledged at once */
            continue;
        }
        /* Whatever the old instance did is committed and acknowledged before it goes. */
        host_batch_end(r->batch, r->modules, r->module_count);
        if (r->batch->failed)
            break;
        loaded_module *m = next_target(r);
        if (m == NULL) {
            if (!r->again) {
                r->active = false;
                /* What the old image and instance held is free now, most of it spread through
                 * the allocator's arenas between what stays: given back to the system, or 1,000
                 * reloads keep ~0.6 MB more resident that no one uses (README, "Measuring"). */
                malloc_trim(0);
                break;
            }
            r->again = false;
            begin(r, SIZE_MAX, "SIGHUP");
            continue;
        }
        char msg[1024];
        int rc;
        crash_guard_enter_call(r->guard, m->name, "load");
        watchdog_enter(r->watchdog, m->name, "load", NULL, NULL);
        rc = module_open_copy(m->path, m->name, m->copy_dir, &r->fresh, msg, sizeof msg);
        watchdog_leave(r->watchdog);
        crash_guard_leave(r->guard);
        if (rc < 0) {
            report_open_failure(r, m, msg);
            r->next++;
            continue;
        }
        r->step = RELOAD_WAITING_OLD;
        m->shutdown_started = true; /* no event, commit or posted event reaches it any more */
        r->started_ns = uv_hrtime();
        r->stopping = m;
        crash_guard_enter_call(r->guard, m->name, "shutdown");
        watchdog_enter(r->watchdog, m->name, "shutdown", NULL, NULL);
        m->plugin->shutdown(m->instance, on_old_instance_done, r);
        watchdog_leave(r->watchdog);
        crash_guard_leave(r->guard);
        /* A done called from inside shutdown has already moved the step on. */
    }
    return false;
}

void host_reload_abandon(host_reload *r)
{
    if (!r->active)
        return;
    r->active = false;
    r->again = false;
    if (r->step == RELOAD_WAITING_OLD)
        r->abandoned = true;
    module_image_close(&r->fresh);
}
