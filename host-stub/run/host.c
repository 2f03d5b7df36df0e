/* host.c — the run loop: start-up, batches, dispatch, shutdown; see host.h. */
#include "run/host.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board/board.h"
#include "fleet/ship_live.h"
#include "input/event_parse.h"
#include "ledger/durable_file.h"
#include "ledger/station_lock.h"
#include "output/diag.h"
#include "run/batch.h"
#include "run/clock.h"
#include "run/crash_guard.h"
#include "run/host_checkpoint.h"
#include "run/host_reload.h"
#include "run/host_table.h"
#include "run/watchdog.h"
#include "util/strbuf.h"

typedef enum host_phase {
    HOST_STARTING,      /* loading modules */
    HOST_RUNNING,       /* reading input */
    HOST_SHUTTING_DOWN, /* waiting for modules' shutdown done callbacks */
    HOST_FINISHED       /* host.stopped written, handles closing */
} host_phase;

/* The run's state: the loop, the input, the modules and the handles, with the parts it drives
 * (batch.h, host_table.h, host_reload.h) embedded; they borrow from it, never the other way.
 * Owned by the loop thread: every field is read and written there only, except `input_label`,
 * which is set before the input starts and then only read, also by the input lines' parse on
 * the libuv threadpool (prepare_lines, event_parse.h). */
typedef struct host_state {
    const host_options *options;
    uv_loop_t loop;
    node_config *config;
    host_clock clock;
    int ledger_lock_fd;      /* holds "<ledger>.lock" (station_lock.h) for the whole run, or -1 */
    bool ledger_was_missing; /* no ledger file before this start (ledger_open created it) */
    const char *input_label; /* "stdin" or the events path, for "<label>:<line>" */
    char *copy_dir;          /* the station's private module copies (module_loader.h), owned */
    crash_guard *guard;      /* names a module's crash, holds the quarantine (crash_guard.h) */
    board *board;            /* the status board (NODE.json "dashboard"), or NULL */
    ship_live *shipper;      /* ships the ledger (NODE.json "ship"), or NULL */

    loaded_module *modules; /* array of module_count, never moved (tables point into it) */
    size_t module_count;

    event_input *input;
    bool input_done;
    uv_idle_t idle;     /* runs posted events and the shutdown steps on a later loop turn */
    uv_check_t check;   /* ends a batch left open by module work outside one (its timers) */
    uv_signal_t sigint; /* SIGINT/SIGTERM end the input early, then shut down cleanly */
    uv_signal_t sigterm;
    uv_signal_t sighup;  /* SIGHUP reloads every module */
    uv_timer_t deadline; /* a shutdown that takes longer than options->shutdown_timeout_ms */
    uv_prepare_t beat;   /* the loop is back in the host before its poll (watchdog.h) */
    bool idle_ready;
    bool beat_ready;
    bool check_ready;
    bool signals_ready;
    bool deadline_ready;

    host_batch batch;        /* the ledger, alerts file and output writer are opened into it */
    host_table table;        /* the callbacks modules call, and their posted events */
    host_reload reload;      /* a hot reload in progress */
    host_watchdog *watchdog; /* reports a module call running too long (watchdog.h) */
    module_span *spans;      /* per module, where its image is mapped (module_count), or NULL */
    uint32_t *handle_kinds;  /* per module, what it has active on the loop (note_suspects) */
    bool suspects_after_poll;
    size_t posted_after_end; /* posted events delivered since the input ended */
    strbuf parse_scratch;    /* an input line parsed on the loop thread (no prepared parse) */

    host_phase phase;
    int exit_code;
} host_state;

static void begin_shutdown(host_state *h);
static void host_wake(host_state *h);

/* ---- who holds the loop outside any host call (watchdog.h) ------------------------------ */

#define KIND_TIMER_DUE (1u << 31) /* a timer due when the loop last looked: it runs next */
/* Due within this of now counts as due: the loop reads its clock again, a little later, before
 * its timers run. */
#define TIMER_SOON_MS 5

/* Where each module's image is now: after the modules are loaded and after each reload. */
static void note_images(host_state *h)
{
    for (size_t i = 0; h->spans != NULL && i < h->module_count; i++) {
        const loaded_module *m = &h->modules[i];
        h->spans[i] = m->plugin != NULL ? module_image_span(m->plugin) : (module_span){0, 0};
        crash_guard_image(h->guard, i, m->name, h->spans[i].lo, h->spans[i].hi);
    }
}

typedef struct kinds_walk {
    const host_state *h;
    uint32_t *kinds;
} kinds_walk;

static void note_handle(uv_handle_t *handle, void *arg)
{
    kinds_walk *k = arg;
    if (!uv_is_active(handle) || uv_is_closing(handle) || (unsigned)handle->type >= 31)
        return;
    uintptr_t cb = (uintptr_t)module_handle_callback(handle), at = (uintptr_t)handle;
    for (size_t i = 0; i < k->h->module_count; i++) {
        module_span span = k->h->spans[i];
        if (span.hi == 0 || !((cb >= span.lo && cb < span.hi) || (at >= span.lo && at < span.hi)))
            continue;
        k->kinds[i] |= 1u << handle->type;
        if (handle->type == UV_TIMER && uv_timer_get_due_in((uv_timer_t *)handle) <= TIMER_SOON_MS)
            k->kinds[i] |= KIND_TIMER_DUE;
        return;
    }
}

/* Tell the watchdog which modules would hold the loop if it were held next outside any host
 * call: `after_poll` (the timers run next), those with a timer due, else those with a handle
 * active; before the poll (its callbacks run next), those with a handle other than a timer,
 * else those with any. Walks the loop's handles (a few per module); the text is only made
 * again when what it says changed. */
static void note_suspects(host_state *h, bool after_poll)
{
    if (h->watchdog == NULL || h->spans == NULL || h->module_count == 0)
        return;
    if (after_poll)
        uv_update_time(&h->loop); /* due as the timers will see it (TIMER_SOON_MS) */
    uint32_t *kinds = h->handle_kinds + h->module_count; /* the second half: this turn's */
    memset(kinds, 0, h->module_count * sizeof *kinds);
    uv_walk(&h->loop, note_handle, &(kinds_walk){h, kinds});
    if (after_poll == h->suspects_after_poll &&
        memcmp(kinds, h->handle_kinds, h->module_count * sizeof *kinds) == 0)
        return;
    memcpy(h->handle_kinds, kinds, h->module_count * sizeof *kinds);
    h->suspects_after_poll = after_poll;
    uint32_t want = 0; /* which kinds name a module */
    for (size_t i = 0; i < h->module_count && want == 0; i++)
        if (after_poll && (kinds[i] & KIND_TIMER_DUE))
            want = KIND_TIMER_DUE;
    for (size_t i = 0; i < h->module_count && want == 0; i++)
        if (!after_poll && (kinds[i] & ~(KIND_TIMER_DUE | 1u << UV_TIMER)))
            want = ~(KIND_TIMER_DUE | 1u << UV_TIMER);
    if (want == 0)
        want = ~0u;
    char text[512];
    size_t at = 0;
    text[0] = '\0';
    for (size_t i = 0; i < h->module_count && at < sizeof text; i++) {
        if ((kinds[i] & want) == 0 || h->modules[i].name == NULL)
            continue;
        at += (size_t)snprintf(text + at, sizeof text - at, "%smodule %s (", at > 0 ? " or " : "",
                               h->modules[i].name);
        bool first = true;
        for (unsigned t = 0; t < 31 && at < sizeof text; t++)
            if (kinds[i] & (1u << t)) {
                at += (size_t)snprintf(text + at, sizeof text - at, "%s%s%s", first ? "" : ", ",
                                       t == UV_TIMER ? "a " : "",
                                       uv_handle_type_name((uv_handle_type)t));
                first = false;
            }
        if (at < sizeof text)
            at += (size_t)snprintf(text + at, sizeof text - at, ")");
    }
    watchdog_suspects(h->watchdog, text[0] != '\0' ? text : NULL);
}

static void end_batch(host_state *h)
{
    host_batch_end(&h->batch, h->modules, h->module_count);
}

/* ---- batches ---------------------------------------------------------------------------- */

/* The batch failed (batch.h): stop the input, drop the posted events, shut down. */
static void on_batch_failed(void *arg, int exit_code)
{
    host_state *h = arg;
    h->exit_code = exit_code;
    host_posted_clear(&h->table);
    begin_shutdown(h);
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* Deliver one event to `only` (a posted event) or to every running module in load order, with
 * each module's own decoding of it when `parsed` (an input line parsed ahead) has one.
 * Returns true when some module handled it. Rejections are recorded here; when no module
 * handled the event the clock is first put back to `clock_before`, so a rejected event changes
 * nothing and the rejection's record never carries a time later than the records after it. */
static bool dispatch(host_state *h, loaded_module *only, const char *topic, const char *data,
                     size_t data_len, const parsed_line *parsed, const char *source,
                     uint64_t line_no, int64_t clock_before)
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
    char why[600];
    if (only == NULL && crash_guard_quarantined(h->guard, topic, data, data_len, why, sizeof why)) {
        host_clock_restore(&h->clock, clock_before);
        host_batch_reject(&h->batch, NULL, source, line_no, topic, why);
        return false;
    }
    for (size_t i = 0; i < h->module_count && !h->batch.failed; i++) {
        loaded_module *m = &h->modules[i];
        if ((only != NULL && m != only) || !m->initialised || m->shutdown_started)
            continue;
        smart_error err = {0, ""};
        h->batch.dirty = true;
        event.decoded = parsed ? event_parse_decoded(parsed, m->index, m->plugin) : NULL;
        host_batch_mark mark = host_batch_mark_now(&h->batch);
        posted_event *posted_mark = h->table.posted_tail;
        crash_guard_enter(h->guard, m->name, source, line_no, topic, data, data_len);
        watchdog_enter(h->watchdog, m->name, "on_event", topic, source);
        int rc = m->plugin->on_event(m->instance, &event, &err);
        watchdog_leave(h->watchdog);
        crash_guard_leave(h->guard);
        err.text[sizeof err.text - 1] = '\0';
        if (rc != 0 && rc != SMART_ENOTSUP && !h->batch.failed) {
            /* A call that fails keeps none of its outputs, alerts or posted events. */
            host_batch_drop_since(&h->batch, mark);
            host_posted_drop_after(&h->table, posted_mark);
        }
        if (rc == 0) {
            handled = true;
        } else if (rc == SMART_ENOTSUP) {
            continue;
        } else if (rc == SMART_EIO) {
            char msg[700];
            snprintf(msg, sizeof msg, "module %s: %s: %s", m->name, source,
                     err.text[0] ? err.text : "store failed");
            host_batch_fail_stop(&h->batch, msg);
            return handled;
        } else {
            char fallback[96];
            if (rc > 0) /* outside the documented set: a failure, whatever the module meant */
                snprintf(fallback, sizeof fallback,
                         "on_event returned %d, not 0 or a negative SMART_E* code", rc);
            else
                snprintf(fallback, sizeof fallback, "rejected with code %d", rc);
            if (!handled)
                host_clock_restore(&h->clock, clock_before);
            host_batch_reject(&h->batch, m->name, source, line_no, topic,
                              err.text[0] ? err.text : fallback);
            return handled;
        }
    }
    if (!handled && !h->batch.failed) {
        host_clock_restore(&h->clock, clock_before);
        char msg[600];
        snprintf(msg, sizeof msg, "topic: unknown topic '%.500s'", topic);
        host_batch_reject(&h->batch, NULL, source, line_no, topic, msg);
    }
    return handled;
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
    host_reload_request(&h->reload, only, source);
    return true;
reject:
    host_clock_restore(&h->clock, clock_before);
    host_batch_reject(&h->batch, NULL, source, line_no, "host.reload", msg);
    return false;
}

/* Handle one input line, parsed on the threadpool (line->prepared) or, when that could not
 * run, here. Only what depends on the run's state is left to do: the clock, then host.reload
 * or dispatch. Returns true when the input must pause after it (a reload). */
static bool process_line(host_state *h, const input_line *line)
{
    parsed_line local;
    const parsed_line *p = line->prepared;
    if (p == NULL) {
        event_parse_one(h->input_label, line, &h->parse_scratch, &local);
        p = &local;
    }
    switch (p->kind) {
    case PARSED_BLANK: return false;
    case PARSED_NOMEM: host_batch_fail_stop(&h->batch, "out of memory"); return false;
    case PARSED_REJECT:
        host_batch_reject(&h->batch, NULL, p->source, line->line_no, p->topic, p->message);
        return false;
    case PARSED_EVENT: break;
    }
    int64_t clock_before = host_clock_now_ms(&h->clock);
    if (p->has_time && host_clock_advance(&h->clock, p->time_ms) < 0) {
        char msg[700];
        char clock_text[RFC3339_MS_LEN + 1];
        rfc3339_format_ms(clock_before, clock_text);
        snprintf(msg, sizeof msg,
                 "time: %.100s is before the clock (%s); time never runs backwards", p->time_text,
                 clock_text);
        host_batch_reject(&h->batch, NULL, p->source, line->line_no, p->topic, msg);
        return false;
    }
    if (host_checkpoint_event(&h->batch, p, line->line_no, clock_before))
        return false;
    if (p->host_topic) {
        json_error_t jerr;
        json_t *data = json_loadb(p->data, p->data_len, JSON_REJECT_DUPLICATES, &jerr);
        if (data == NULL) {
            char msg[300];
            host_clock_restore(&h->clock, clock_before);
            snprintf(msg, sizeof msg, "data: not valid JSON: %s", jerr.text);
            host_batch_reject(&h->batch, NULL, p->source, line->line_no, p->topic, msg);
            return false;
        }
        bool pause = reload_event(h, data, p->source, line->line_no, clock_before);
        json_decref(data);
        return pause;
    }
    dispatch(h, NULL, p->topic, p->data, p->data_len, p, p->source, line->line_no, clock_before);
    return false;
}

/* [loop] A batch to parse ahead, with the modules that decode events ahead as they are now
 * (each image pinned for as long as the batch lives). */
static void *begin_lines(void *arg)
{
    host_state *h = arg;
    event_decoder *decoders = calloc(h->module_count ? h->module_count : 1, sizeof *decoders);
    if (decoders == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < h->module_count; i++) {
        loaded_module *m = &h->modules[i];
        if (!m->initialised || m->shutdown_started || !module_decodes_ahead(m->plugin))
            continue;
        void *pin = module_pin_image(m->dl_handle);
        if (pin != NULL)
            decoders[n++] =
                (event_decoder){.module_index = m->index, .plugin = m->plugin, .pin = pin};
    }
    parsed_batch *batch = event_parse_batch_new(decoders, n, h->watchdog, h->guard);
    free(decoders);
    return batch;
}

/* [threadpool] Parse a batch before the loop thread takes it; reads only h->input_label,
 * which is fixed before the input starts, and the batch's own decoders. */
static void prepare_lines(void *arg, void *prepared, input_line *lines, size_t count)
{
    const host_state *h = arg;
    event_parse_batch_fill(prepared, h->input_label, lines, count);
}

static void release_lines(void *arg, void *prepared)
{
    (void)arg;
    event_parse_free(prepared);
}

/* ---- input ------------------------------------------------------------------------------ */

/* A reload request ends the batch early: the lines after it are left to the reader, which
 * holds them until the reload is over (on_idle resumes it), so they reach the new instance. */
static size_t on_input_lines_body(void *arg, const input_line *lines, size_t count)
{
    host_state *h = arg;
    if (h->phase != HOST_RUNNING || h->batch.failed)
        return count;
    size_t taken = count;
    for (size_t i = 0; i < count && !h->batch.failed; i++) {
        if (process_line(h, &lines[i])) {
            taken = i + 1;
            event_input_pause(h->input); /* even when the request was the last line */
            break;
        }
        if (host_batch_full(&h->batch)) /* bounded by the answers it holds too (batch.h) */
            end_batch(h);
    }
    end_batch(h);
    if (h->batch.failed && h->input != NULL)
        event_input_stop(h->input);
    return taken;
}

/* Each host callback is marked as the host's own code, so that the watchdog does not take it
 * for a module's callback (watchdog.h). */
static size_t on_input_lines(void *arg, const input_line *lines, size_t count)
{
    host_state *h = arg;
    watchdog_host_begin(h->watchdog);
    size_t r = on_input_lines_body(arg, lines, count);
    watchdog_host_end(h->watchdog);
    return r;
}

static void on_input_end_body(void *arg, int status, const char *message)
{
    host_state *h = arg;
    h->input_done = true;
    if (status < 0) {
        host_batch_fail_stop(&h->batch, message);
        return;
    }
    host_wake(h); /* drain posted events, then shut down, on a later turn */
}

static void on_input_end(void *arg, int status, const char *message)
{
    host_state *h = arg;
    watchdog_host_begin(h->watchdog);
    on_input_end_body(arg, status, message);
    watchdog_host_end(h->watchdog);
}

static void on_input_closed(void *arg)
{
    (void)arg;
}

/* ---- posted events and shutdown --------------------------------------------------------- */

/* Once the input has ended, modules get this many posted events delivered before the host
 * shuts down without the rest: a module that posts itself an event from each on_event would
 * otherwise keep the host from ever finishing. */
#define POSTED_AFTER_END_MAX 10000

/* The input has ended and the modules went on posting past POSTED_AFTER_END_MAX: drop what is
 * left, naming the module of the first, record it, and shut down (exit 7). */
static void give_up_posted(host_state *h)
{
    size_t left = 0;
    for (const posted_event *e = h->table.posted_head; e != NULL; e = e->next)
        left++;
    const char *name = h->table.posted_head->module->name;
    char details[600];
    snprintf(details, sizeof details,
             "Module %.200s went on posting itself events after the input ended: %d were "
             "delivered since, the %zu left are dropped and the host stops.",
             name, POSTED_AFTER_END_MAX, left);
    host_diag("module %s: still posting itself events after the input ended (%d delivered "
              "since); %zu dropped, shutting down",
              name, POSTED_AFTER_END_MAX, left);
    host_batch_record(&h->batch, "module.posts_dropped", name, details, NULL);
    host_posted_clear(&h->table);
    if (h->exit_code == HOST_EXIT_OK)
        h->exit_code = HOST_EXIT_MODULE_BROKE;
    end_batch(h);
    begin_shutdown(h);
}

static void process_posted(host_state *h)
{
    for (size_t n = 0; n < EVENT_INPUT_BATCH_MAX && !h->batch.failed; n++) {
        if (h->input_done && h->posted_after_end >= POSTED_AFTER_END_MAX) {
            give_up_posted(h);
            return;
        }
        posted_event *event = host_posted_pop(&h->table);
        if (event == NULL)
            break;
        if (h->input_done)
            h->posted_after_end++;
        char source[300];
        snprintf(source, sizeof source, "post:%s", event->module->name);
        if (event->module->initialised && !event->module->shutdown_started)
            dispatch(h, event->module, event->topic, event->data_json, event->data_len, NULL,
                     source, 0, host_clock_now_ms(&h->clock));
        host_posted_free(event);
        if (host_batch_full(&h->batch))
            end_batch(h);
    }
    end_batch(h);
}

static void close_handles(host_state *h)
{
    board_close(h->board);       /* sends what is queued (bounded), then its thread ends */
    ship_live_close(h->shipper); /* ships what host.stopped made durable, when it can */
    if (h->input != NULL) {
        event_input_close(h->input, on_input_closed, h);
        h->input = NULL;
    }
    if (h->idle_ready && !uv_is_closing((uv_handle_t *)&h->idle))
        uv_close((uv_handle_t *)&h->idle, NULL);
    if (h->check_ready && !uv_is_closing((uv_handle_t *)&h->check))
        uv_close((uv_handle_t *)&h->check, NULL);
    if (h->deadline_ready && !uv_is_closing((uv_handle_t *)&h->deadline))
        uv_close((uv_handle_t *)&h->deadline, NULL);
    if (h->beat_ready && !uv_is_closing((uv_handle_t *)&h->beat))
        uv_close((uv_handle_t *)&h->beat, NULL);
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
    /* The last outputs are written before host.stopped says how the run ended. */
    int rc = h->batch.failed ? 0 : output_writer_drain(h->batch.writer);
    if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "cannot write to standard output: %s", strerror(-rc));
        host_batch_fail_stop(&h->batch, msg);
    }
    /* What a module left running after its done would run its code after dlclose: closed here,
     * and its image kept mapped (the handles' memory is the module's). */
    for (size_t i = 0; i < h->module_count; i++) {
        loaded_module *m = &h->modules[i];
        size_t left = m->plugin != NULL ? module_close_left_handles(&h->loop, m->plugin) : 0;
        if (left == 0)
            continue;
        module_keep_mapped(m);
        host_diag("module %s: %zu handle(s) still open after its shutdown; closed by the host, "
                  "its image kept mapped",
                  m->name, left);
        if (h->exit_code == HOST_EXIT_OK)
            h->exit_code = HOST_EXIT_MODULE_BROKE;
        char details[400];
        snprintf(details, sizeof details, "Module %s left %zu handle(s) open after its shutdown.",
                 m->name, left);
        host_batch_record(&h->batch, "module.handles_left", m->name, details, NULL);
    }
    if (!h->batch.failed && h->batch.ledger != NULL) {
        char meta[64];
        snprintf(meta, sizeof meta, "{\"exit_code\":%d}", h->exit_code);
        host_batch_record(&h->batch, "host.stopped", h->config->node_id, "The node host stopped.",
                          meta);
        host_checkpoint_at_shutdown(&h->batch);
        end_batch(h);
    }
    for (size_t i = 0; i < h->module_count; i++)
        module_unload(&h->modules[i]);
    note_images(h); /* none any more: a fault is no longer any module's */
    close_handles(h);
}

/* The run that holds `table` (module_init's owner is the run's own host_table). */
static host_state *run_of_table(host_table *table)
{
    return (host_state *)((char *)table - offsetof(host_state, table));
}

static void on_module_done(void *arg)
{
    loaded_module *m = arg;
    host_state *h = run_of_table(m->owner);
    if (m->shutdown_done) { /* done twice, or after the deadline: counted once */
        if (!m->done_again_seen)
            host_diag("module %s: shutdown done called again or after its deadline; ignored",
                      m->name);
        m->done_again_seen = true;
        return;
    }
    m->shutdown_done = true;
    m->instance = NULL;
    /* Continue from the loop, not from inside the module's code that called us: the image
     * may be unloaded next. */
    host_wake(h);
}

static size_t shutdowns_pending(const host_state *h);

/* A shutdown not done by the deadline: the host stops without it, records why, and keeps the
 * image mapped (its code may still run: a handle, a late done). */
static void on_deadline_body(uv_timer_t *timer)
{
    host_state *h = timer->data;
    for (size_t i = 0; i < h->module_count; i++) {
        loaded_module *m = &h->modules[i];
        if (!m->shutdown_started || m->shutdown_done)
            continue;
        host_diag("module %s: shutdown not done after %llu ms; stopping without it", m->name,
                  (unsigned long long)h->options->shutdown_timeout_ms);
        char details[400];
        snprintf(details, sizeof details, "Module %s did not finish its shutdown within %llu ms.",
                 m->name, (unsigned long long)h->options->shutdown_timeout_ms);
        host_batch_record(&h->batch, "module.shutdown_timeout", m->name, details, NULL);
        module_keep_mapped(m);
        m->shutdown_done = true;
        m->instance = NULL;
        h->exit_code = HOST_EXIT_MODULE_BROKE;
    }
    host_wake(h);
}

static void on_deadline(uv_timer_t *timer)
{
    host_state *h = timer->data;
    watchdog_host_begin(h->watchdog);
    on_deadline_body(timer);
    watchdog_host_end(h->watchdog);
}

static void begin_shutdown(host_state *h)
{
    if (h->phase == HOST_SHUTTING_DOWN || h->phase == HOST_FINISHED)
        return;
    h->phase = HOST_SHUTTING_DOWN;
    h->table.posts_open = false;
    if (h->input != NULL)
        event_input_stop(h->input);
    host_reload_abandon(&h->reload);
    /* Mark first: a module may call done before its shutdown returns. */
    for (size_t i = 0; i < h->module_count; i++) {
        loaded_module *m = &h->modules[i];
        if (m->initialised && !m->shutdown_started)
            m->shutdown_started = true;
    }
    for (size_t i = h->module_count; i-- > 0;) {
        loaded_module *m = &h->modules[i];
        if (m->initialised && m->shutdown_started && !m->shutdown_done && m->instance != NULL) {
            crash_guard_enter_call(h->guard, m->name, "shutdown");
            watchdog_enter(h->watchdog, m->name, "shutdown", NULL, NULL);
            m->plugin->shutdown(m->instance, on_module_done, m);
            watchdog_leave(h->watchdog);
            crash_guard_leave(h->guard);
        }
    }
    if (shutdowns_pending(h) > 0 && h->deadline_ready)
        uv_timer_start(&h->deadline, on_deadline, h->options->shutdown_timeout_ms, 0);
    host_wake(h);
}

/* How many shutdowns are still awaited: every module shut down here or by a reload given up
 * (host_reload.h) until its done callback has run. */
static size_t shutdowns_pending(const host_state *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->module_count; i++)
        if (h->modules[i].shutdown_started && !h->modules[i].shutdown_done)
            n++;
    return n;
}

static bool any_module_running(const host_state *h)
{
    for (size_t i = 0; i < h->module_count; i++)
        if (h->modules[i].initialised && !h->modules[i].shutdown_started)
            return true;
    return false;
}

static void on_idle_body(uv_idle_t *idle)
{
    host_state *h = idle->data;
    if (h->reload.active && h->phase == HOST_RUNNING) {
        bool waiting = host_reload_run(&h->reload);
        note_images(h); /* an image may have been replaced */
        if (waiting) {
            uv_idle_stop(idle); /* the old instance's done callback wakes us */
            return;
        }
        if (!h->reload.active && !h->batch.failed && !any_module_running(h)) {
            host_diag("no module is running any more; shutting down");
            h->exit_code = HOST_EXIT_MODULE;
            begin_shutdown(h);
        }
        /* Outside any input callback, so the held lines may be handed over from here. */
        if (h->phase == HOST_RUNNING && !h->batch.failed && h->input != NULL)
            event_input_resume(h->input);
        return; /* stay awake: posted events, another reload or the end of input may follow */
    }
    if (h->phase == HOST_RUNNING && !h->batch.failed && h->table.posted_head != NULL) {
        process_posted(h);
        return; /* stay awake: more posted events or the end of input follow */
    }
    if (h->phase == HOST_RUNNING && h->input_done)
        begin_shutdown(h);
    if (h->phase == HOST_SHUTTING_DOWN && shutdowns_pending(h) == 0) {
        if (h->deadline_ready)
            uv_timer_stop(&h->deadline);
        end_batch(h); /* records and outputs the modules made while shutting down */
        finish(h);
        return;
    }
    uv_idle_stop(idle);
}

static void on_idle(uv_idle_t *idle)
{
    host_state *h = idle->data;
    watchdog_host_begin(h->watchdog);
    on_idle_body(idle);
    watchdog_host_end(h->watchdog);
}

/* Right after the loop's poll: the timers are next, so the modules with a timer due are the
 * ones that would hold the loop. */
static void on_check(uv_check_t *check)
{
    host_state *h = check->data;
    watchdog_host_begin(h->watchdog);
    if (h->phase == HOST_RUNNING || h->phase == HOST_SHUTTING_DOWN)
        end_batch(h);
    note_suspects(h, true);
    watchdog_host_end(h->watchdog);
}

/* Right before the loop's poll: the callbacks of what it waits on (a module's watch) are next. */
static void on_prepare(uv_prepare_t *prepare)
{
    host_state *h = prepare->data;
    note_suspects(h, false);
    watchdog_beat(h->watchdog);
}

/* The first SIGINT/SIGTERM ends the input as if it had reached its end: the current batch is
 * finished and the modules are shut down. A second one gives up and dies by the signal. */
static void on_signal_body(uv_signal_t *handle, int signum)
{
    host_state *h = handle->data;
    if (h->phase != HOST_RUNNING || h->input_done) {
        signal(signum, SIG_DFL);
        sigset_t set; /* blocked on this thread (host_run): let it through to die by it */
        sigemptyset(&set);
        sigaddset(&set, signum);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(signum);
        return;
    }
    host_diag("%s received; finishing and shutting down", strsignal(signum));
    if (h->input != NULL)
        event_input_stop(h->input);
    h->input_done = true;
    host_wake(h);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    host_state *h = handle->data;
    watchdog_host_begin(h->watchdog);
    on_signal_body(handle, signum);
    watchdog_host_end(h->watchdog);
}

/* SIGHUP reloads every module, between two batches: the current one is already acknowledged
 * (a batch never spans loop turns), and the input is paused until the reload is over. */
static void on_sighup_body(uv_signal_t *handle, int signum)
{
    (void)signum;
    host_state *h = handle->data;
    if (h->phase != HOST_RUNNING || h->batch.failed)
        return;
    host_diag("SIGHUP received; reloading every module");
    if (h->input != NULL)
        event_input_pause(h->input);
    host_reload_request(&h->reload, SIZE_MAX, "SIGHUP");
}

static void on_sighup(uv_signal_t *handle, int signum)
{
    host_state *h = handle->data;
    watchdog_host_begin(h->watchdog);
    on_sighup_body(handle, signum);
    watchdog_host_end(h->watchdog);
}

static void wake(void *arg)
{
    host_wake(arg);
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

static void host_wake(host_state *h)
{
    if (h->idle_ready && !uv_is_closing((uv_handle_t *)&h->idle))
        uv_idle_start(&h->idle, on_idle);
}

/* ---- start-up --------------------------------------------------------------------------- */

/* A refused module is reported and left out; the node runs on with the others (a node hosts a
 * dozen modules, and one bad build must not take the maintenance gate down with it). */
static void refuse_module(host_state *h, const char *path, const char *message)
{
    host_diag("%s; running on without it", message);
    host_batch_record(&h->batch, "module.refused", path, message, NULL);
}

/* Load and initialise every module in order, refusing the bad ones. Returns how many run. */
static size_t load_modules(host_state *h)
{
    smart_host template;
    host_table_prepare(&h->table, &template);
    char msg[1024];
    size_t running = 0;
    for (size_t i = 0; i < h->module_count && !h->batch.failed; i++) {
        loaded_module *m = &h->modules[i];
        m->index = i;
        m->copy_dir = h->copy_dir;
        const char *configured = h->config->modules[i].path;
        char *path = NULL;
        if (module_resolve_path(configured, h->options->module_search_path,
                                h->options->fallback_module_dir, &path, msg, sizeof msg) < 0) {
            refuse_module(h, configured, msg);
            continue;
        }
        /* Loading runs the module's own code too: its constructors and its entry point. */
        crash_guard_enter_call(h->guard, configured, "load");
        watchdog_enter(h->watchdog, configured, "load", NULL, NULL);
        int rc = module_load(m, path, msg, sizeof msg);
        watchdog_leave(h->watchdog);
        crash_guard_leave(h->guard);
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
        crash_guard_enter_call(h->guard, m->name, "init");
        watchdog_enter(h->watchdog, m->name, "init", NULL, NULL);
        rc = module_init(m, &template, &h->table, h->config->modules[i].config_json,
                         h->config->modules[i].config_len, &err);
        watchdog_leave(h->watchdog);
        crash_guard_leave(h->guard);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "module %s: init failed: %s", m->path, err.text);
            if (rc == SMART_EIO) { /* its store failed: a disk error is fatal, never skipped */
                host_batch_fail_stop(&h->batch, msg);
            } else if (rc == SMART_ELEDGER) {
                /* Evidence is missing from the ledger: the station does not start, as for a
                 * broken chain, and nothing is written (the records so far are dropped). */
                snprintf(msg, sizeof msg,
                         "ledger %s does not hold what module %s's store committed through: %s; "
                         "refusing to start (the ledger is never repaired silently)",
                         h->config->ledger_path, m->path, err.text);
                host_batch_fail_stop_code(&h->batch, HOST_EXIT_LEDGER_BROKEN, msg);
            } else
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
        host_batch_record(&h->batch, "module.loaded", m->name, msg, meta_text);
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
    host_batch_record(&h->batch, "host.started", h->config->node_id, "The node host started.",
                      meta_text);
    free(meta_text);
}

static void record_torn_tail(host_state *h, const ledger_torn_tail *torn)
{
    host_diag("warning: ledger %s: torn last record (seq %" PRIu64 ", line %" PRIu64 ", %" PRIu64
              " bytes: %s) moved aside to %s",
              h->config->ledger_path, torn->seq, torn->line, torn->bytes, torn->why,
              torn->moved_to);
    json_t *meta = json_pack("{s:I, s:I, s:I, s:s, s:s}", "seq", (json_int_t)torn->seq, "line",
                             (json_int_t)torn->line, "bytes", (json_int_t)torn->bytes, "why",
                             torn->why, "moved_to", torn->moved_to);
    char *meta_text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    char details[512];
    snprintf(details, sizeof details,
             "The ledger's last record (seq %" PRIu64 ") was incomplete and was moved aside.",
             torn->seq);
    host_batch_record(&h->batch, "ledger.torn_tail", h->config->ledger_path, details, meta_text);
    free(meta_text);
}

/* The crash guard's sink (crash_guard.h): the start's batch, behind a callback, so that the
 * guard need not know the batch. */
static int record_into_batch(void *arg, const char *action, const char *target, const char *details,
                             const char *metadata_json)
{
    return host_batch_record(arg, action, target, details, metadata_json);
}

static int alert_into_batch(void *arg, const char *alert, size_t len)
{
    return host_batch_alert(arg, alert, len);
}

/* Everything before the loop starts. Returns an exit status, HOST_EXIT_OK to run. */
/* A batch is durable: the board may show it, the shipper may send its records. */
static void on_durable(void *arg, const char *lines, size_t len, uint64_t seq, int64_t now_ms)
{
    host_state *h = arg;
    if (h->board != NULL)
        board_durable(h->board, lines, len, seq, now_ms);
    ship_live_durable(h->shipper, seq);
}

/* A shipping transaction stored records (ship_live.h): say so on standard output. */
static void on_shipped(void *arg, const char *data, size_t len)
{
    host_state *h = arg;
    if (host_batch_output_now(&h->batch, "ledger.shipped", data, len) == -ENOMEM)
        host_diag("out of memory reporting ledger.shipped");
}

static int start(host_state *h)
{
    char msg[1024];
    int rc = node_config_load(h->options->config_path, &h->config, msg, sizeof msg);
    if (rc < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_USAGE;
    }
    h->batch.config = h->config;
    h->table.config = h->config;
    h->reload.config = h->config;
    if (h->options->simulated_clock)
        host_clock_init_simulated(&h->clock, h->options->clock_start_ms);
    else
        host_clock_init_real(&h->clock);
    const char *events = h->options->events_path;
    h->input_label = events == NULL || strcmp(events, "-") == 0 ? "stdin" : events;
    rc = event_input_open(&h->input, &h->loop, events, on_input_lines, on_input_end, h, msg,
                          sizeof msg);
    if (rc < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_USAGE;
    }
    event_input_set_prepare(h->input, begin_lines, prepare_lines, release_lines);
    /* One writer per station: locked before the ledger is read, so a second host never even
     * recovers a tail the first one is writing. */
    char real[PATH_MAX], lock_path[PATH_MAX + 8], what[PATH_MAX + 16];
    (void)station_ledger_real_path(h->config->ledger_path, real, sizeof real);
    snprintf(lock_path, sizeof lock_path, "%s.lock", real); /* one lock whatever the name */
    snprintf(what, sizeof what, "ledger %s", h->config->ledger_path);
    h->ledger_lock_fd = station_lock_take(lock_path, what, msg, sizeof msg);
    if (h->ledger_lock_fd < 0) {
        bool busy = h->ledger_lock_fd == STATION_LOCK_EBUSY;
        host_diag("%s%s", msg, busy ? "; refusing to start a second host on this station" : "");
        return busy ? HOST_EXIT_BUSY : HOST_EXIT_IO;
    }
    /* A listen address that cannot be served is a configuration error: refused before the
     * ledger is opened, as NODE.json's others are (after the lock, so a second host is told
     * the station is busy). It takes in batches only once on_durable is set, below. */
    if (h->config->dashboard_host != NULL &&
        board_start(h->config, &h->board, msg, sizeof msg) < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_USAGE;
    }
    int removed = 0;
    if (module_copy_dir_prepare(h->config->ledger_path, &h->copy_dir, &removed, msg, sizeof msg) <
        0) {
        host_diag("%s", msg);
        return HOST_EXIT_IO;
    }
    if (removed > 0)
        host_diag("removed %d module copies a crashed run left behind", removed);
    ledger_torn_tail torn;
    struct stat st;
    h->ledger_was_missing = stat(h->config->ledger_path, &st) != 0 && errno == ENOENT;
    rc = ledger_open(h->config->ledger_path, &h->batch.ledger, &torn, msg, sizeof msg);
    if (rc < 0) {
        host_diag("%s%s", msg,
                  rc == LEDGER_EBROKEN ? "; refusing to start (the ledger is never repaired "
                                         "silently)"
                                       : "");
        return rc == LEDGER_EBROKEN ? HOST_EXIT_LEDGER_BROKEN : HOST_EXIT_IO;
    }
    h->batch.alerts_fd =
        durable_open_append(h->config->alerts_path, O_WRONLY, NULL, msg, sizeof msg);
    if (h->batch.alerts_fd < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_IO;
    }
    if (host_checkpoint_open(&h->batch, msg, sizeof msg) < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_USAGE;
    }
    if (torn.found)
        record_torn_tail(h, &torn);
    crash_guard_sink sink = {.record = record_into_batch,
                             .alert = alert_into_batch,
                             .arg = &h->batch,
                             .node_id = h->config->node_id,
                             .station_type = h->config->station_type,
                             .now_ms = host_clock_now_ms(h->batch.clock)};
    if (crash_guard_start(h->config->ledger_path, &sink, h->config->module_count, &h->guard, msg,
                          sizeof msg) < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_IO;
    }
    h->batch.guard = h->guard;
    h->reload.guard = h->guard;
    h->module_count = h->config->module_count;
    h->modules = calloc(h->module_count ? h->module_count : 1, sizeof *h->modules);
    if (h->modules == NULL) {
        host_diag("out of memory");
        return HOST_EXIT_IO;
    }
    h->reload.modules = h->modules;
    h->reload.module_count = h->module_count;
    /* Not having them only costs naming a module's own callbacks (note_suspects). */
    h->spans = calloc(h->module_count ? h->module_count : 1, sizeof *h->spans);
    h->handle_kinds = calloc(h->module_count ? 2 * h->module_count : 1, sizeof *h->handle_kinds);
    if (h->spans == NULL || h->handle_kinds == NULL) {
        free(h->spans);
        h->spans = NULL;
    }
    if (h->config->ship_to != NULL &&
        ship_live_start(&h->loop, h->config->ledger_path, h->config->ship_to, h->config->node_id,
                        on_shipped, h, &h->shipper, msg, sizeof msg) < 0) {
        host_diag("%s", msg);
        return HOST_EXIT_IO;
    }
    if (h->board != NULL || h->shipper != NULL) {
        h->batch.on_durable = on_durable;
        h->batch.on_durable_arg = h;
    }
    return HOST_EXIT_OK;
}

/* How long after SIGINT/SIGTERM the host may take to end: the batch under way (a module call
 * given WATCHDOG_STOP_GRACE_MS), its output (given as long, output_writer.h), the shutdown's own
 * deadline, and as much again for the syncs and the last output. */
static uint64_t stop_limit_ms(const host_options *options)
{
    return options->shutdown_timeout_ms + 4 * (uint64_t)WATCHDOG_STOP_GRACE_MS + 2000;
}

/* A new host state for `options`, its parts wired to each other; NULL when out of memory. */
static host_state *new_state(const host_options *options)
{
    host_state *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->options = options;
    h->ledger_lock_fd = -1;
    host_batch_init(&h->batch);
    h->batch.clock = &h->clock;
    h->batch.on_fail = on_batch_failed;
    h->batch.on_fail_arg = h;
    host_table_init(&h->table);
    h->table.batch = &h->batch;
    h->table.loop = &h->loop;
    h->table.log_level = options->log_level;
    h->table.wake = wake;
    h->table.wake_arg = h;
    h->reload.batch = &h->batch;
    h->reload.table = &h->table;
    h->reload.wake = wake;
    h->reload.wake_arg = h;
    return h;
}

/* The loop's own handles; each one started is noted ready (a missing one stops the start). */
static void init_loop_handles(host_state *h)
{
    if (uv_prepare_init(&h->loop, &h->beat) == 0) {
        h->beat_ready = true;
        h->beat.data = h;
        uv_prepare_start(&h->beat, on_prepare);
        uv_unref((uv_handle_t *)&h->beat); /* it must not keep the loop alive */
    }
    if (uv_idle_init(&h->loop, &h->idle) == 0) {
        h->idle_ready = true;
        h->idle.data = h;
    }
    if (uv_timer_init(&h->loop, &h->deadline) == 0) {
        h->deadline_ready = true;
        h->deadline.data = h;
    }
    if (uv_check_init(&h->loop, &h->check) == 0) {
        h->check_ready = true;
        h->check.data = h;
        uv_check_start(&h->check, on_check);
        uv_unref((uv_handle_t *)&h->check); /* it must not keep the loop alive */
    }
}

/* Closes what the run left open and frees the state; exit_code is the run's. */
static void release_state(host_state *h, int exit_code)
{
    host_checkpoint_close(&h->batch);
    ledger_close(h->batch.ledger);
    /* A start refused because the ledger is missing while a store is not leaves it missing, as
     * it found it, not replaced by an empty file a later look could take for the ledger. */
    struct stat st;
    if (exit_code == HOST_EXIT_LEDGER_BROKEN && h->ledger_was_missing && h->config != NULL &&
        stat(h->config->ledger_path, &st) == 0 && st.st_size == 0 &&
        unlink(h->config->ledger_path) == 0)
        durable_sync_parent_dir(h->config->ledger_path);
    if (h->batch.alerts_fd >= 0)
        close(h->batch.alerts_fd);
    crash_guard_stop(h->guard);
    module_copy_dir_remove(h->copy_dir); /* every image is unloaded by now */
    if (h->ledger_lock_fd >= 0)
        close(h->ledger_lock_fd); /* last: the ledger is closed, another host may start */
    free(h->modules);
    free(h->spans);
    free(h->handle_kinds);
    node_config_free(h->config);
    host_batch_free(&h->batch);
    host_table_free(&h->table);
    strbuf_free(&h->parse_scratch);
    free(h);
}

int host_run(const host_options *options)
{
    host_state *h = new_state(options);
    if (h == NULL) {
        host_diag("out of memory");
        return HOST_EXIT_IO;
    }
    /* jansson seeds its hash function on first use; do it here, before input lines are parsed
     * on threadpool threads (event_parse.h). */
    json_object_seed(0);
    h->phase = HOST_STARTING;
    int rc = uv_loop_init(&h->loop);
    if (rc < 0) {
        host_diag("cannot start the event loop: %s", uv_strerror(rc));
        free(h);
        return HOST_EXIT_IO;
    }
    /* Its idle time tells the watchdog the loop waits in its poll (watchdog.h). */
    bool idle_time = uv_loop_configure(&h->loop, UV_METRICS_IDLE_TIME) == 0;
    init_loop_handles(h);
    rc = output_writer_start(STDOUT_FILENO, &h->batch.writer);
    if (rc < 0)
        host_diag("cannot start the output thread: %s", uv_strerror(rc));
    if (rc == 0 && (rc = watchdog_start(options->watchdog_warn_ms, options->watchdog_limit_ms,
                                        stop_limit_ms(options), &h->watchdog)) < 0)
        host_diag("cannot start the watchdog thread: %s", uv_strerror(rc));
    h->batch.watchdog = h->watchdog;
    h->reload.watchdog = h->watchdog;
    bool handles_ready = h->idle_ready && h->check_ready && h->deadline_ready && h->beat_ready &&
                         h->batch.writer && h->watchdog && init_signals(h);
    if (handles_ready) { /* a stalled standard output must not hold SIGINT/SIGTERM off */
        output_writer_obey_signals(h->batch.writer);
        /* Nor a module holding the loop thread: the watchdog's thread takes them (watchdog.h),
         * the only one left that does not block them, as every thread started from here on
         * inherits the loop thread's mask. */
        watchdog_obey_signals(h->watchdog);
        sigset_t stops;
        sigemptyset(&stops);
        sigaddset(&stops, SIGINT);
        sigaddset(&stops, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stops, NULL);
    }
    h->exit_code = handles_ready ? start(h) : HOST_EXIT_IO;
    if (h->exit_code == HOST_EXIT_OK) {
        bool loaded = load_modules(h) > 0;
        note_images(h);
        if (!loaded && !h->batch.failed) {
            host_diag("no module could be loaded; stopping");
            h->exit_code = HOST_EXIT_MODULE;
        }
        if (loaded && !h->batch.failed) {
            record_started(h);
            /* The board knows only what the modules say: a status answer for every item at
             * start, so /api/status is whole from the first request (README "The status
             * board"). */
            if (h->board != NULL)
                dispatch(h, NULL, "status.query", "{}", 2, NULL, "board", 0,
                         host_clock_now_ms(&h->clock));
            end_batch(h);
        }
        if (!loaded || h->batch.failed) {
            begin_shutdown(h); /* modules already initialised are shut down properly */
        } else {
            char msg[512];
            h->phase = HOST_RUNNING;
            if (event_input_start(h->input, msg, sizeof msg) < 0) {
                host_diag("%s", msg);
                h->exit_code = HOST_EXIT_USAGE;
                begin_shutdown(h);
            }
        }
    } else {
        close_handles(h);
    }
    note_suspects(h, true); /* a module's timer may be due on the loop's first turn */
    if (idle_time && h->spans != NULL)
        watchdog_watch_loop(h->watchdog, &h->loop);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    watchdog_unwatch_loop(h->watchdog);
    /* The output writer's handler stays, for a stalled standard output at its stop. */
    watchdog_release_signals(h->watchdog);
    board_free(h->board);
    h->board = NULL;
    ship_live_free(h->shipper);
    h->shipper = NULL;
    rc = uv_loop_close(&h->loop);
    if (rc < 0) {
        /* The modules that left them were named when their shutdown ended (finish, the
         * deadline); the exit status says a module broke the contract. */
        host_diag("handles still open at exit: %s", uv_strerror(rc));
        if (h->exit_code == HOST_EXIT_OK)
            h->exit_code = HOST_EXIT_MODULE_BROKE;
    }
    rc = output_writer_stop(h->batch.writer);
    if (rc < 0 && !h->batch.failed) {
        host_diag("fatal: cannot write to standard output: %s", strerror(-rc));
        h->exit_code = HOST_EXIT_IO;
    }
    watchdog_stop(h->watchdog);
    int exit_code = h->exit_code;
    release_state(h, exit_code);
    return exit_code;
}
