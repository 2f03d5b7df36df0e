/* host.c — the run loop: start-up, batches, dispatch, shutdown; see host.h. */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable_file.h"
#include "host_internal.h"
#include "json_text.h"

static void begin_shutdown(host_state *h);

/* ---- batches ---------------------------------------------------------------------------- */

/* Make the batch durable, let modules commit, then acknowledge it (FORMATS.md order). */
static void end_batch(host_state *h)
{
    if (h->failed || !h->batch_dirty)
        return;
    char msg[512];
    if (ledger_flush(h->ledger, msg, sizeof msg) < 0) {
        host_fail_stop(h, msg);
        return;
    }
    if (h->alert_lines.len > 0) {
        int rc = durable_write_all(h->alerts_fd, h->alert_lines.data, h->alert_lines.len);
        if (rc == 0 && fdatasync(h->alerts_fd) != 0)
            rc = -errno;
        if (rc < 0) {
            snprintf(msg, sizeof msg, "alerts %s: write or fdatasync failed: %s",
                     h->config->alerts_path, strerror(-rc));
            host_fail_stop(h, msg);
            return;
        }
        strbuf_truncate(&h->alert_lines, 0);
    }
    for (size_t i = 0; i < h->module_count; i++) {
        loaded_module *m = &h->modules[i];
        if (!m->initialised || m->shutdown_started)
            continue;
        smart_error err = {0, ""};
        int rc = m->plugin->commit(m->instance, &err);
        if (rc < 0) {
            err.text[sizeof err.text - 1] = '\0';
            snprintf(msg, sizeof msg, "module %s: commit failed: %s", m->name, err.text);
            host_fail_stop(h, msg);
            return;
        }
    }
    if (h->outputs.len > 0) {
        if (fwrite(h->outputs.data, 1, h->outputs.len, stdout) != h->outputs.len ||
            fflush(stdout) != 0) {
            host_fail_stop(h, "cannot write to standard output");
            return;
        }
        strbuf_truncate(&h->outputs, 0);
    }
    h->batch_dirty = false;
}

void host_end_batch(host_state *h)
{
    end_batch(h);
}

void host_fail_stop(host_state *h, const char *message)
{
    if (h->failed)
        return;
    h->failed = true;
    h->exit_code = HOST_EXIT_IO;
    fprintf(stderr, "smart-host: fatal: %s; acknowledging nothing more\n", message);
    if (h->ledger != NULL)
        ledger_abandon(h->ledger);
    strbuf_truncate(&h->outputs, 0);
    strbuf_truncate(&h->alert_lines, 0);
    host_posted_clear(h);
    begin_shutdown(h);
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* Deliver one event to `only` (a posted event) or to every running module in load order.
 * Returns true when some module handled it. Rejections are recorded here; when no module
 * handled the event the clock is first put back to `clock_before`, so a rejected event changes
 * nothing and the rejection's record never carries a time later than the records after it. */
static bool dispatch(host_state *h, loaded_module *only, const char *topic, const char *data,
                     size_t data_len, const char *source, uint64_t line_no, int64_t clock_before)
{
    smart_event event = {
        .struct_size = sizeof event,
        .topic = topic,
        .data_json = data,
        .data_len = data_len,
        .time_ms = host_clock_now_ms(&h->clock),
        .source = source,
    };
    bool handled = false;
    for (size_t i = 0; i < h->module_count && !h->failed; i++) {
        loaded_module *m = &h->modules[i];
        if ((only != NULL && m != only) || !m->initialised || m->shutdown_started)
            continue;
        smart_error err = {0, ""};
        h->batch_dirty = true;
        int rc = m->plugin->on_event(m->instance, &event, &err);
        err.text[sizeof err.text - 1] = '\0';
        if (rc == 0) {
            handled = true;
        } else if (rc == SMART_ENOTSUP) {
            continue;
        } else if (rc == SMART_EIO) {
            char msg[700];
            snprintf(msg, sizeof msg, "module %s: %s: %s", m->name, source,
                     err.text[0] ? err.text : "store failed");
            host_fail_stop(h, msg);
            return handled;
        } else {
            char fallback[64];
            snprintf(fallback, sizeof fallback, "rejected with code %d", rc);
            if (!handled)
                host_clock_restore(&h->clock, clock_before);
            host_reject(h, m, source, line_no, topic, err.text[0] ? err.text : fallback);
            return handled;
        }
    }
    if (!handled && !h->failed) {
        host_clock_restore(&h->clock, clock_before);
        char msg[600];
        snprintf(msg, sizeof msg, "topic: unknown topic '%.500s'", topic);
        host_reject(h, NULL, source, line_no, topic, msg);
    }
    return handled;
}

static bool is_blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return false;
    return true;
}

/* Check the envelope {"topic", "time"?, "data"?}. Returns NULL when fine, else the message
 * (written to `msg`). */
static const char *check_envelope(json_t *root, char *msg, size_t msg_size)
{
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value) {
        if (strcmp(key, "topic") != 0 && strcmp(key, "time") != 0 && strcmp(key, "data") != 0) {
            snprintf(msg, msg_size, "%.200s: unknown key (an event has topic, time and data)", key);
            return msg;
        }
    }
    json_t *topic = json_object_get(root, "topic");
    if (topic == NULL)
        snprintf(msg, msg_size, "topic: missing required field");
    else if (!json_is_string(topic))
        snprintf(msg, msg_size, "topic: must be a string");
    else if (json_string_length(topic) == 0)
        snprintf(msg, msg_size, "topic: must not be empty");
    else if ((value = json_object_get(root, "time")) != NULL && !json_is_string(value))
        snprintf(msg, msg_size, "time: must be an RFC 3339 string");
    else if ((value = json_object_get(root, "data")) != NULL && !json_is_object(value))
        snprintf(msg, msg_size, "data: must be an object");
    else
        return NULL;
    return msg;
}

/* A `host.reload` event (data {"module"?: name}): check it, then ask for the reload. Returns
 * true when the input must pause after this line; false when the event was rejected. */
static bool reload_event(host_state *h, json_t *data, const char *source, uint64_t line_no,
                         int64_t clock_before)
{
    char msg[400];
    const char *key;
    json_t *value;
    size_t only = SIZE_MAX;
    json_object_foreach (data, key, value) {
        if (strcmp(key, "module") != 0) {
            snprintf(msg, sizeof msg, "data.%.200s: unknown key (host.reload takes module)", key);
            goto reject;
        }
    }
    value = json_object_get(data, "module");
    if (value != NULL) {
        if (!json_is_string(value)) {
            snprintf(msg, sizeof msg, "data.module: must be a string");
            goto reject;
        }
        const char *name = json_string_value(value);
        for (size_t i = 0; i < h->module_count && only == SIZE_MAX; i++)
            if (h->modules[i].initialised && strcmp(h->modules[i].name, name) == 0)
                only = i;
        if (only == SIZE_MAX) {
            snprintf(msg, sizeof msg, "data.module: no running module is named '%.200s'", name);
            goto reject;
        }
    }
    host_reload_request(h, only, source);
    return true;
reject:
    host_clock_restore(&h->clock, clock_before);
    host_reject(h, NULL, source, line_no, "host.reload", msg);
    return false;
}

/* Handle one input line. Returns true when the input must pause after it (a reload). */
static bool process_line(host_state *h, const input_line *line)
{
    char source[300];
    snprintf(source, sizeof source, "%s:%" PRIu64, h->input_label, line->line_no);
    char msg[700];
    if (line->too_long) {
        snprintf(msg, sizeof msg, "line: longer than %d bytes; skipped", EVENT_INPUT_LINE_MAX);
        host_reject(h, NULL, source, line->line_no, NULL, msg);
        return false;
    }
    if (is_blank(line->text, line->len))
        return false;
    json_error_t jerr;
    json_t *root = json_loadb(line->text, line->len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(msg, sizeof msg, "json: not valid JSON (column %d: %s)", jerr.column, jerr.text);
        host_reject(h, NULL, source, line->line_no, NULL, msg);
        return false;
    }
    if (!json_is_object(root)) {
        host_reject(h, NULL, source, line->line_no, NULL, "json: an event must be a JSON object");
        json_decref(root);
        return false;
    }
    json_t *topic_value = json_object_get(root, "topic");
    const char *topic = json_is_string(topic_value) ? json_string_value(topic_value) : NULL;
    if (check_envelope(root, msg, sizeof msg) != NULL) {
        host_reject(h, NULL, source, line->line_no, topic, msg);
        json_decref(root);
        return false;
    }
    /* Host topics are the host's own; only host.reload exists so far. */
    bool host_topic = strncmp(topic, "host.", 5) == 0;
    if (host_topic && strcmp(topic, "host.reload") != 0) {
        snprintf(msg, sizeof msg, "topic: unknown host topic '%.200s' (the host knows host.reload)",
                 topic);
        host_reject(h, NULL, source, line->line_no, topic, msg);
        json_decref(root);
        return false;
    }
    int64_t clock_before = host_clock_now_ms(&h->clock);
    json_t *time_value = json_object_get(root, "time");
    if (time_value != NULL) {
        int64_t time_ms;
        char why[300];
        const char *text = json_string_value(time_value);
        if (rfc3339_parse(text, &time_ms, why, sizeof why) < 0) {
            snprintf(msg, sizeof msg, "time: %s", why);
            host_reject(h, NULL, source, line->line_no, topic, msg);
            json_decref(root);
            return false;
        }
        if (host_clock_advance(&h->clock, time_ms) < 0) {
            char clock_text[RFC3339_MS_LEN + 1];
            rfc3339_format_ms(clock_before, clock_text);
            snprintf(msg, sizeof msg,
                     "time: %.100s is before the clock (%s); time never runs backwards", text,
                     clock_text);
            host_reject(h, NULL, source, line->line_no, topic, msg);
            json_decref(root);
            return false;
        }
    }
    json_t *data = json_object_get(root, "data");
    if (host_topic) {
        json_t *empty = data ? NULL : json_object();
        bool pause = reload_event(h, data ? data : empty, source, line->line_no, clock_before);
        json_decref(empty);
        json_decref(root);
        return pause;
    }
    strbuf_truncate(&h->event_data, 0);
    int rc =
        data ? json_text_dump_into(&h->event_data, data) : strbuf_append(&h->event_data, "{}", 2);
    if (rc < 0) {
        host_fail_stop(h, "out of memory");
    } else {
        dispatch(h, NULL, topic, h->event_data.data, h->event_data.len, source, line->line_no,
                 clock_before);
    }
    json_decref(root);
    return false;
}

/* ---- input ------------------------------------------------------------------------------ */

/* A reload request ends the batch early: the lines after it are left to the reader, which
 * holds them until the reload is over (on_idle resumes it), so they reach the new instance. */
static size_t on_input_lines(void *arg, const input_line *lines, size_t count)
{
    host_state *h = arg;
    if (h->phase != HOST_RUNNING || h->failed)
        return count;
    size_t taken = count;
    for (size_t i = 0; i < count && !h->failed; i++) {
        if (process_line(h, &lines[i])) {
            taken = i + 1;
            event_input_pause(h->input); /* even when the request was the last line */
            break;
        }
    }
    end_batch(h);
    if (h->failed && h->input != NULL)
        event_input_stop(h->input);
    return taken;
}

static void on_input_end(void *arg, int status, const char *message)
{
    host_state *h = arg;
    h->input_done = true;
    if (status < 0) {
        host_fail_stop(h, message);
        return;
    }
    host_wake(h); /* drain posted events, then shut down, on a later turn */
}

static void on_input_closed(void *arg)
{
    (void)arg;
}

/* ---- posted events and shutdown --------------------------------------------------------- */

static void process_posted(host_state *h)
{
    for (size_t n = 0; n < EVENT_INPUT_BATCH_MAX && !h->failed; n++) {
        posted_event *event = host_posted_pop(h);
        if (event == NULL)
            break;
        char source[300];
        snprintf(source, sizeof source, "post:%s", event->module->name);
        if (event->module->initialised && !event->module->shutdown_started)
            dispatch(h, event->module, event->topic, event->data_json, event->data_len, source, 0,
                     host_clock_now_ms(&h->clock));
        host_posted_free(event);
    }
    end_batch(h);
}

static void close_handles(host_state *h)
{
    if (h->input != NULL) {
        event_input_close(h->input, on_input_closed, h);
        h->input = NULL;
    }
    if (h->idle_ready && !uv_is_closing((uv_handle_t *)&h->idle))
        uv_close((uv_handle_t *)&h->idle, NULL);
    if (h->check_ready && !uv_is_closing((uv_handle_t *)&h->check))
        uv_close((uv_handle_t *)&h->check, NULL);
    if (h->signals_ready && !uv_is_closing((uv_handle_t *)&h->sigint)) {
        uv_close((uv_handle_t *)&h->sigint, NULL);
        uv_close((uv_handle_t *)&h->sigterm, NULL);
        uv_close((uv_handle_t *)&h->sighup, NULL);
    }
}

/* Every module has finished shutting down: record host.stopped, unload, close handles. */
static void finish(host_state *h)
{
    h->phase = HOST_FINISHED;
    if (!h->failed && h->ledger != NULL) {
        char meta[64];
        snprintf(meta, sizeof meta, "{\"exit_code\":%d}", h->exit_code);
        host_record(h, "host.stopped", h->config->node_id, "The node host stopped.", meta);
        end_batch(h);
    }
    for (size_t i = 0; i < h->module_count; i++)
        module_unload(&h->modules[i]);
    close_handles(h);
}

static void on_module_done(void *arg)
{
    loaded_module *m = arg;
    host_state *h = m->owner;
    m->shutdown_done = true;
    m->instance = NULL;
    h->shutdowns_pending--;
    /* Continue from the loop, not from inside the module's code that called us: the image
     * may be unloaded next. */
    host_wake(h);
}

static void begin_shutdown(host_state *h)
{
    if (h->phase == HOST_SHUTTING_DOWN || h->phase == HOST_FINISHED)
        return;
    h->phase = HOST_SHUTTING_DOWN;
    if (h->input != NULL)
        event_input_stop(h->input);
    host_reload_abandon(h);
    /* Count first: a module may call done before its shutdown returns. */
    for (size_t i = 0; i < h->module_count; i++) {
        loaded_module *m = &h->modules[i];
        if (m->initialised && !m->shutdown_started) {
            m->shutdown_started = true;
            h->shutdowns_pending++;
        }
    }
    for (size_t i = h->module_count; i-- > 0;) {
        loaded_module *m = &h->modules[i];
        if (m->initialised && m->shutdown_started && !m->shutdown_done && m->instance != NULL)
            m->plugin->shutdown(m->instance, on_module_done, m);
    }
    host_wake(h);
}

void host_begin_shutdown(host_state *h)
{
    begin_shutdown(h);
}

bool host_any_module_running(const host_state *h)
{
    for (size_t i = 0; i < h->module_count; i++)
        if (h->modules[i].initialised && !h->modules[i].shutdown_started)
            return true;
    return false;
}

static void on_idle(uv_idle_t *idle)
{
    host_state *h = idle->data;
    if (h->reload.active && h->phase == HOST_RUNNING) {
        if (host_reload_run(h)) {
            uv_idle_stop(idle); /* the old instance's done callback wakes us */
            return;
        }
        /* Outside any input callback, so the held lines may be handed over from here. */
        if (h->phase == HOST_RUNNING && !h->failed && h->input != NULL)
            event_input_resume(h->input);
        return; /* stay awake: posted events, another reload or the end of input may follow */
    }
    if (h->phase == HOST_RUNNING && !h->failed && h->posted_head != NULL) {
        process_posted(h);
        return; /* stay awake: more posted events or the end of input follow */
    }
    if (h->phase == HOST_RUNNING && h->input_done)
        begin_shutdown(h);
    if (h->phase == HOST_SHUTTING_DOWN && h->shutdowns_pending == 0) {
        end_batch(h); /* records and outputs the modules made while shutting down */
        finish(h);
        return;
    }
    uv_idle_stop(idle);
}

static void on_check(uv_check_t *check)
{
    host_state *h = check->data;
    if (h->phase == HOST_RUNNING || h->phase == HOST_SHUTTING_DOWN)
        end_batch(h);
}

/* The first SIGINT/SIGTERM ends the input as if it had reached its end: the current batch is
 * finished and the modules are shut down. A second one gives up and dies by the signal. */
static void on_signal(uv_signal_t *handle, int signum)
{
    host_state *h = handle->data;
    if (h->phase != HOST_RUNNING || h->input_done) {
        signal(signum, SIG_DFL);
        raise(signum);
        return;
    }
    fprintf(stderr, "smart-host: %s received; finishing and shutting down\n", strsignal(signum));
    if (h->input != NULL)
        event_input_stop(h->input);
    h->input_done = true;
    host_wake(h);
}

/* SIGHUP reloads every module, between two batches: the current one is already acknowledged
 * (a batch never spans loop turns), and the input is paused until the reload is over. */
static void on_sighup(uv_signal_t *handle, int signum)
{
    (void)signum;
    host_state *h = handle->data;
    if (h->phase != HOST_RUNNING || h->failed)
        return;
    fprintf(stderr, "smart-host: SIGHUP received; reloading every module\n");
    if (h->input != NULL)
        event_input_pause(h->input);
    host_reload_request(h, SIZE_MAX, "SIGHUP");
}

static bool init_signals(host_state *h)
{
    if (uv_signal_init(&h->loop, &h->sigint) < 0)
        return false;
    if (uv_signal_init(&h->loop, &h->sigterm) < 0) {
        uv_close((uv_handle_t *)&h->sigint, NULL);
        return false;
    }
    if (uv_signal_init(&h->loop, &h->sighup) < 0) {
        uv_close((uv_handle_t *)&h->sigint, NULL);
        uv_close((uv_handle_t *)&h->sigterm, NULL);
        return false;
    }
    h->signals_ready = true;
    h->sigint.data = h;
    h->sigterm.data = h;
    h->sighup.data = h;
    if (uv_signal_start(&h->sigint, on_signal, SIGINT) < 0 ||
        uv_signal_start(&h->sigterm, on_signal, SIGTERM) < 0 ||
        uv_signal_start(&h->sighup, on_sighup, SIGHUP) < 0)
        return false;
    /* They must not keep the loop alive once everything else is done. */
    uv_unref((uv_handle_t *)&h->sigint);
    uv_unref((uv_handle_t *)&h->sigterm);
    uv_unref((uv_handle_t *)&h->sighup);
    return true;
}

void host_wake(host_state *h)
{
    if (h->idle_ready && !uv_is_closing((uv_handle_t *)&h->idle))
        uv_idle_start(&h->idle, on_idle);
}

/* ---- start-up --------------------------------------------------------------------------- */

/* A refused module is reported and left out; the node runs on with the others (a node hosts a
 * dozen modules, and one bad build must not take the maintenance gate down with it). */
static void refuse_module(host_state *h, const char *path, const char *message)
{
    fprintf(stderr, "smart-host: %s; running on without it\n", message);
    host_record(h, "module.refused", path, message, NULL);
}

/* Load and initialise every module in order, refusing the bad ones. Returns how many run. */
static size_t load_modules(host_state *h)
{
    smart_host template;
    host_table_prepare(h, &template);
    char msg[1024];
    size_t running = 0;
    for (size_t i = 0; i < h->module_count && !h->failed; i++) {
        loaded_module *m = &h->modules[i];
        m->index = i;
        m->owner = h;
        const char *configured = h->config->modules[i].path;
        char *path = NULL;
        if (module_resolve_path(configured, h->options->module_search_path,
                                h->options->fallback_module_dir, &path, msg, sizeof msg) < 0) {
            refuse_module(h, configured, msg);
            continue;
        }
        int rc = module_load(m, path, msg, sizeof msg);
        free(path);
        if (rc < 0) {
            refuse_module(h, configured, msg);
            continue;
        }
        const loaded_module *twin = NULL;
        for (size_t j = 0; j < i && twin == NULL; j++)
            if (h->modules[j].initialised && strcmp(h->modules[j].name, m->name) == 0)
                twin = &h->modules[j];
        if (twin != NULL) {
            snprintf(msg, sizeof msg, "module %s: name '%s' is already taken by %s", m->path,
                     m->name, twin->path);
            refuse_module(h, configured, msg);
            module_unload(m);
            continue;
        }
        smart_error err;
        rc = module_init(m, &template, h, h->config->modules[i].config_json,
                         h->config->modules[i].config_len, &err);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "module %s: init failed: %s", m->path, err.text);
            if (rc == SMART_EIO) /* its store failed: a disk error is fatal, never skipped */
                host_fail_stop(h, msg);
            else
                refuse_module(h, configured, msg);
            module_unload(m); /* a failed init leaves nothing behind */
            continue;
        }
        running++;
        json_t *meta =
            json_pack("{s:s, s:s, s:s}", "name", m->name, "version", m->version, "path", m->path);
        char *meta_text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        json_decref(meta);
        snprintf(msg, sizeof msg, "Loaded module %s %s.", m->name, m->version);
        host_record(h, "module.loaded", m->name, msg, meta_text);
        free(meta_text);
    }
    return running;
}

static void record_started(host_state *h)
{
    json_t *modules = json_array();
    json_t *refused = json_array();
    for (size_t i = 0; modules != NULL && refused != NULL && i < h->module_count; i++) {
        loaded_module *m = &h->modules[i];
        if (m->initialised)
            json_array_append_new(modules, json_pack("{s:s, s:s, s:s}", "name", m->name, "version",
                                                     m->version, "path", m->path));
        else
            json_array_append_new(refused, json_string(h->config->modules[i].path));
    }
    json_t *meta = json_pack("{s:o*, s:o*, s:s, s:i, s:i}", "modules", modules, "refused", refused,
                             "clock", h->clock.simulated ? "simulated" : "real", "abi_major",
                             SMART_ABI_MAJOR, "abi_minor", SMART_ABI_MINOR);
    char *meta_text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    host_record(h, "host.started", h->config->node_id, "The node host started.", meta_text);
    free(meta_text);
}

static void record_torn_tail(host_state *h, const ledger_torn_tail *torn)
{
    fprintf(stderr,
            "smart-host: warning: ledger %s: torn last record (seq %" PRIu64 ", line %" PRIu64
            ", %" PRIu64 " bytes: %s) moved aside to %s\n",
            h->config->ledger_path, torn->seq, torn->line, torn->bytes, torn->why, torn->moved_to);
    json_t *meta = json_pack("{s:I, s:I, s:I, s:s, s:s}", "seq", (json_int_t)torn->seq, "line",
                             (json_int_t)torn->line, "bytes", (json_int_t)torn->bytes, "why",
                             torn->why, "moved_to", torn->moved_to);
    char *meta_text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    char details[512];
    snprintf(details, sizeof details,
             "The ledger's last record (seq %" PRIu64 ") was incomplete and was moved aside.",
             torn->seq);
    host_record(h, "ledger.torn_tail", h->config->ledger_path, details, meta_text);
    free(meta_text);
}

/* Everything before the loop starts. Returns an exit status, HOST_EXIT_OK to run. */
static int start(host_state *h)
{
    char msg[1024];
    int rc = node_config_load(h->options->config_path, &h->config, msg, sizeof msg);
    if (rc < 0) {
        fprintf(stderr, "smart-host: %s\n", msg);
        return HOST_EXIT_USAGE;
    }
    if (h->options->simulated_clock)
        host_clock_init_simulated(&h->clock, h->options->clock_start_ms);
    else
        host_clock_init_real(&h->clock);
    const char *events = h->options->events_path;
    h->input_label = events == NULL || strcmp(events, "-") == 0 ? "stdin" : events;
    rc = event_input_open(&h->input, &h->loop, events, on_input_lines, on_input_end, h, msg,
                          sizeof msg);
    if (rc < 0) {
        fprintf(stderr, "smart-host: %s\n", msg);
        return HOST_EXIT_USAGE;
    }
    ledger_torn_tail torn;
    rc = ledger_open(h->config->ledger_path, &h->ledger, &torn, msg, sizeof msg);
    if (rc < 0) {
        fprintf(stderr, "smart-host: %s%s\n", msg,
                rc == LEDGER_EBROKEN ? "; refusing to start (the ledger is never repaired "
                                       "silently)"
                                     : "");
        return rc == LEDGER_EBROKEN ? HOST_EXIT_LEDGER_BROKEN : HOST_EXIT_IO;
    }
    h->alerts_fd = durable_open_append(h->config->alerts_path, O_WRONLY, NULL, msg, sizeof msg);
    if (h->alerts_fd < 0) {
        fprintf(stderr, "smart-host: %s\n", msg);
        return HOST_EXIT_IO;
    }
    if (torn.found)
        record_torn_tail(h, &torn);
    h->module_count = h->config->module_count;
    h->modules = calloc(h->module_count ? h->module_count : 1, sizeof *h->modules);
    if (h->modules == NULL) {
        fprintf(stderr, "smart-host: out of memory\n");
        return HOST_EXIT_IO;
    }
    return HOST_EXIT_OK;
}

int host_run(const host_options *options)
{
    host_state *h = calloc(1, sizeof *h);
    if (h == NULL) {
        fprintf(stderr, "smart-host: out of memory\n");
        return HOST_EXIT_IO;
    }
    h->options = options;
    h->alerts_fd = -1;
    h->phase = HOST_STARTING;
    int rc = uv_loop_init(&h->loop);
    if (rc < 0) {
        fprintf(stderr, "smart-host: cannot start the event loop: %s\n", uv_strerror(rc));
        free(h);
        return HOST_EXIT_IO;
    }
    if (uv_idle_init(&h->loop, &h->idle) == 0) {
        h->idle_ready = true;
        h->idle.data = h;
    }
    if (uv_check_init(&h->loop, &h->check) == 0) {
        h->check_ready = true;
        h->check.data = h;
        uv_check_start(&h->check, on_check);
        uv_unref((uv_handle_t *)&h->check); /* it must not keep the loop alive */
    }
    bool handles_ready = h->idle_ready && h->check_ready && init_signals(h);
    h->exit_code = handles_ready ? start(h) : HOST_EXIT_IO;
    if (h->exit_code == HOST_EXIT_OK) {
        bool loaded = load_modules(h) > 0;
        if (!loaded && !h->failed) {
            fprintf(stderr, "smart-host: no module could be loaded; stopping\n");
            h->exit_code = HOST_EXIT_MODULE;
        }
        if (loaded && !h->failed) {
            record_started(h);
            end_batch(h);
        }
        if (!loaded || h->failed) {
            begin_shutdown(h); /* modules already initialised are shut down properly */
        } else {
            char msg[512];
            h->phase = HOST_RUNNING;
            if (event_input_start(h->input, msg, sizeof msg) < 0) {
                fprintf(stderr, "smart-host: %s\n", msg);
                h->exit_code = HOST_EXIT_USAGE;
                begin_shutdown(h);
            }
        }
    } else {
        close_handles(h);
    }
    uv_run(&h->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&h->loop);
    if (rc < 0)
        fprintf(stderr, "smart-host: internal error: handles still open at exit: %s\n",
                uv_strerror(rc));
    int exit_code = h->exit_code;
    host_posted_clear(h);
    ledger_close(h->ledger);
    if (h->alerts_fd >= 0)
        close(h->alerts_fd);
    free(h->modules);
    node_config_free(h->config);
    strbuf_free(&h->outputs);
    strbuf_free(&h->alert_lines);
    strbuf_free(&h->event_data);
    strbuf_free(&h->scratch);
    strbuf_free(&h->metadata);
    free(h);
    return exit_code;
}
