/*
 * host_table.c — the smart_host callbacks modules call and the posted-event queue; see
 * host_table.h. Every callback runs on the loop thread; none blocks (durability is per batch).
 */
#include "run/host_table.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/diag.h"
#include "util/json_text.h"

static host_table *host_of(const smart_host *table)
{
    const loaded_module *m = table->host_data;
    return m->owner;
}

static void set_error(smart_error *err, int code, const char *fmt, const char *detail)
{
    if (err == NULL)
        return;
    err->code = code;
    snprintf(err->text, sizeof err->text, fmt, detail);
}

static int ledger_code(int rc)
{
    return rc == -EINVAL ? SMART_EINVAL : rc == -ENOMEM ? SMART_ENOMEM : SMART_EIO;
}

/* Check `text` (`len` bytes) in full as what a module hands the host as JSON (smart_plugin.h,
 * "JSON text": one object, UTF-8, no key twice, at most SMART_JSON_MAX bytes; json_check.h: what
 * `ledger verify`'s jansson takes) and give it back in *out, *out_len as one line: `text` itself
 * when it needs no change (nearly always: no copy), else in `into`, re-serialised by jansson when
 * it holds a line break, with U+2028/2029 escaped when it holds one. Returns 0, or SMART_EINVAL /
 * SMART_ENOMEM with `what` and the reason in err. */
static int take_object(strbuf *into, json_checker *checker, const char *what, const char *text,
                       size_t len, const char **out, size_t *out_len, smart_error *err)
{
    strbuf_truncate(into, 0);
    if (len > SMART_JSON_MAX) {
        if (err != NULL) {
            err->code = SMART_EINVAL;
            snprintf(err->text, sizeof err->text,
                     "%s: %zu bytes, more than the %d a module may "
                     "hand the host",
                     what, len, SMART_JSON_MAX);
        }
        return SMART_EINVAL;
    }
    char why[256] = "";
    int rc;
    bool as_is = false;
    if (memchr(text, '\n', len) != NULL || memchr(text, '\r', len) != NULL) {
        rc = json_text_append_object_text(into, text, len, why, sizeof why); /* re-serialises */
    } else {
        rc = json_check_object(checker, text, len, why, sizeof why);
        if (rc == 0 && json_text_has_separator(text, len))
            rc = json_text_append_escaped(into, text, len);
        else
            as_is = rc == 0;
    }
    if (rc == 0) {
        *out = as_is ? text : into->data;
        *out_len = as_is ? len : into->len;
        return 0;
    }
    strbuf_truncate(into, 0);
    int code = rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM;
    if (err != NULL) {
        err->code = code;
        snprintf(err->text, sizeof err->text, "%s: %s", what,
                 code == SMART_EINVAL ? why : "out of memory");
    }
    return code;
}

/* Refuse a string a module hands over that is longer than SMART_JSON_MAX bytes (smart_plugin.h,
 * "JSON text" and smart_ledger_entry), read no further than one byte past the limit, so a text
 * of any length costs the host at most that. NULL is left to the callers. Returns 0 or
 * SMART_EINVAL with `what` in err. */
static int check_length(const char *what, const char *text, smart_error *err)
{
    if (text == NULL || strnlen(text, SMART_JSON_MAX + 1) <= SMART_JSON_MAX)
        return 0;
    if (err != NULL) {
        err->code = SMART_EINVAL;
        snprintf(err->text, sizeof err->text,
                 "%s: more than the %d bytes a module may hand the host", what, SMART_JSON_MAX);
    }
    return SMART_EINVAL;
}

/* ---- the table's callbacks -------------------------------------------------------------- */

/* Whether the module calls from the loop thread. When not, the call must touch no host state
 * (the loop thread may be using it this very moment): the first such call is reported with
 * the module's name (fixed before init), and the call is refused (LOOP_ONLY). */
static bool on_loop_thread(const smart_host *table, smart_error *err)
{
    const host_table *h = host_of(table);
    uv_thread_t self = uv_thread_self();
    if (uv_thread_equal(&self, &h->loop_thread))
        return true;
    loaded_module *m = table->host_data;
    if (!atomic_exchange(&m->wrong_thread_reported, true))
        host_diag("module %s: called the host from a thread other than the loop's; refused, "
                  "now and every time after (smart_plugin.h: [loop] functions)",
                  m->name);
    if (err != NULL) {
        err->code = SMART_EBUSY;
        snprintf(err->text, sizeof err->text, "called from a thread other than the host's loop");
    }
    return false;
}

/* The one guard at the top of every callback: off the loop thread, return `refused` (the
 * value smart_plugin.h names for that callback) having touched nothing. */
#define LOOP_ONLY(table, err, refused)                                                             \
    do {                                                                                           \
        if (!on_loop_thread((table), (err)))                                                       \
            return refused;                                                                        \
    } while (0)

static int64_t cb_now_ms(const smart_host *table)
{
    LOOP_ONLY(table, NULL, SMART_EBUSY);
    return host_clock_now_ms(host_of(table)->batch->clock);
}

static int cb_ledger_append(const smart_host *table, const smart_ledger_entry *entry,
                            smart_error *err)
{
    LOOP_ONLY(table, err, SMART_EBUSY);
    host_table *h = host_of(table);
    const loaded_module *m = table->host_data;
    if (entry == NULL ||
        entry->struct_size < offsetof(smart_ledger_entry, user_id) + sizeof entry->user_id) {
        set_error(err, SMART_EINVAL, "%s", "ledger entry: missing or struct_size too small");
        return SMART_EINVAL;
    }
    if (h->batch->failed) {
        set_error(err, SMART_EIO, "%s", "the ledger has failed; stop changing state");
        return SMART_EIO;
    }
    if (check_length("action", entry->action, err) < 0 ||
        check_length("target", entry->target, err) < 0 ||
        check_length("details", entry->details, err) < 0 ||
        check_length("user_id", entry->user_id, err) < 0)
        return SMART_EINVAL;
    const char *meta = NULL;
    size_t meta_len = 0;
    if (SMART_HAS(entry, metadata_json) && entry->metadata_json != NULL) {
        /* strnlen: a text past the limit is refused without being read to its end. */
        size_t len = strnlen(entry->metadata_json, SMART_JSON_MAX + 1);
        if (h->alert_taken.len > 0 && len == h->alert_taken.len &&
            memcmp(entry->metadata_json, h->alert_taken.data, len) == 0) {
            meta = entry->metadata_json; /* the bytes take_object just took as they were */
            meta_len = len;
        } else {
            int rc = take_object(&h->metadata, &h->checker, "metadata", entry->metadata_json, len,
                                 &meta, &meta_len, err);
            if (rc < 0)
                return rc;
        }
    }
    char msg[512];
    int rc = host_batch_append(h->batch, m->name, entry->action, entry->target, entry->details,
                               entry->user_id, meta, meta_len, msg, sizeof msg);
    if (rc < 0) {
        set_error(err, ledger_code(rc), "%s", msg);
        if (rc == -EIO)
            host_batch_fail_stop(h->batch, msg);
        return ledger_code(rc);
    }
    return 0;
}

static int cb_emit_alert(const smart_host *table, const char *alert_json, size_t len,
                         smart_error *err)
{
    LOOP_ONLY(table, err, SMART_EBUSY);
    host_table *h = host_of(table);
    if (h->batch->failed) {
        set_error(err, SMART_EIO, "%s", "the host has failed; nothing more is delivered");
        return SMART_EIO;
    }
    if (alert_json == NULL) {
        set_error(err, SMART_EINVAL, "%s", "alert: missing");
        return SMART_EINVAL;
    }
    const char *alert;
    size_t alert_len;
    strbuf_truncate(&h->alert_taken, 0);
    int rc =
        take_object(&h->scratch, &h->checker, "alert", alert_json, len, &alert, &alert_len, err);
    if (rc < 0)
        return rc;
    if (alert == alert_json) /* taken as it is (out of memory: the record is checked again) */
        (void)strbuf_append(&h->alert_taken, alert_json, len);
    rc = host_batch_alert(h->batch, alert, alert_len);
    if (rc < 0) {
        set_error(err, SMART_ENOMEM, "%s", "alert: out of memory");
        return SMART_ENOMEM;
    }
    return 0;
}

static int check_topic(const char *topic, smart_error *err)
{
    if (topic == NULL || topic[0] == '\0') {
        set_error(err, SMART_EINVAL, "%s", "topic: missing or empty");
        return SMART_EINVAL;
    }
    return check_length("topic", topic, err);
}

static int cb_emit_event(const smart_host *table, const char *topic, const char *data_json,
                         size_t len, smart_error *err)
{
    LOOP_ONLY(table, err, SMART_EBUSY);
    host_table *h = host_of(table);
    if (h->batch->failed) {
        set_error(err, SMART_EIO, "%s", "the host has failed; nothing more is delivered");
        return SMART_EIO;
    }
    if (check_topic(topic, err) < 0)
        return SMART_EINVAL;
    if (data_json == NULL) {
        data_json = "{}";
        len = 2;
    }
    const char *data;
    size_t data_len;
    int rc = take_object(&h->scratch, &h->checker, "data", data_json, len, &data, &data_len, err);
    if (rc < 0)
        return rc;
    rc = host_batch_output_escaped(h->batch, topic, data, data_len);
    if (rc < 0) {
        int code = rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM;
        set_error(err, code, "%s", rc == -EINVAL ? "topic: not valid UTF-8" : "out of memory");
        return code;
    }
    return 0;
}

static int cb_post_event(const smart_host *table, const char *topic, const char *data_json,
                         size_t len, smart_error *err)
{
    LOOP_ONLY(table, err, SMART_EBUSY);
    host_table *h = host_of(table);
    if (!h->posts_open) {
        set_error(err, SMART_EBUSY, "%s", "the host is shutting down; no more events");
        return SMART_EBUSY;
    }
    if (check_topic(topic, err) < 0)
        return SMART_EINVAL;
    if (data_json == NULL) {
        data_json = "{}";
        len = 2;
    }
    const char *data;
    size_t data_len;
    int rc = take_object(&h->scratch, &h->checker, "data", data_json, len, &data, &data_len, err);
    if (rc < 0)
        return rc;
    posted_event *event = calloc(1, sizeof *event);
    char *topic_copy = strdup(topic);
    char *data_copy = malloc(data_len + 1);
    if (event == NULL || topic_copy == NULL || data_copy == NULL) {
        free(event);
        free(topic_copy);
        free(data_copy);
        set_error(err, SMART_ENOMEM, "%s", "out of memory");
        return SMART_ENOMEM;
    }
    memcpy(data_copy, data, data_len);
    data_copy[data_len] = '\0';
    event->module = (loaded_module *)table->host_data;
    event->topic = topic_copy;
    event->data_json = data_copy;
    event->data_len = data_len;
    if (h->posted_tail != NULL)
        h->posted_tail->next = event;
    else
        h->posted_head = event;
    h->posted_tail = event;
    h->wake(h->wake_arg);
    return 0;
}

static void cb_log(const smart_host *table, smart_log_level level, const char *message)
{
    LOOP_ONLY(table, NULL, /* nothing */);
    host_table *h = host_of(table);
    const loaded_module *m = table->host_data;
    if ((int)level > (int)h->log_level)
        return;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const char *name = (unsigned)level < 4 ? names[level] : "log";
    host_diag("%s: %s: %s", m->name, name, message ? message : "");
}

static uint64_t cb_ledger_seq(const smart_host *table)
{
    LOOP_ONLY(table, NULL, UINT64_MAX);
    const host_table *h = host_of(table);
    return h->batch->ledger != NULL ? ledger_record_count(h->batch->ledger) : 0;
}

static uint64_t cb_ledger_head(const smart_host *table, char hash[SMART_LEDGER_HASH_LEN + 1])
{
    /* Zeros until known: also what a refused call leaves (the header's "no record"). */
    memset(hash, '0', SMART_LEDGER_HASH_LEN);
    hash[SMART_LEDGER_HASH_LEN] = '\0';
    LOOP_ONLY(table, NULL, UINT64_MAX);
    host_table *h = host_of(table);
    if (h->batch->ledger == NULL)
        return 0;
    memcpy(hash, ledger_head_hash(h->batch->ledger), SMART_LEDGER_HASH_LEN + 1);
    return ledger_record_count(h->batch->ledger);
}

static int cb_ledger_hash_at(const smart_host *table, uint64_t seq,
                             char hash[SMART_LEDGER_HASH_LEN + 1], uint64_t *last_seq,
                             smart_error *err)
{
    LOOP_ONLY(table, err, SMART_EBUSY);
    host_table *h = host_of(table);
    char msg[sizeof err->text];
    int rc = h->batch->ledger != NULL
                 ? ledger_hash_at(h->batch->ledger, seq, hash, last_seq, msg, sizeof msg)
                 : -EIO;
    if (h->batch->ledger == NULL)
        snprintf(msg, sizeof msg, "the ledger is not open");
    if (rc == 0)
        return 0;
    rc = rc == -ERANGE ? SMART_ELEDGER : rc == -EINVAL ? SMART_EINVAL : SMART_EIO;
    if (err != NULL) {
        err->code = rc;
        snprintf(err->text, sizeof err->text, "%s", msg);
    }
    return rc;
}

void host_table_prepare(host_table *h, smart_host *table)
{
    memset(table, 0, sizeof *table);
    table->struct_size = sizeof *table;
    table->abi_major = SMART_ABI_MAJOR;
    table->abi_minor = SMART_ABI_MINOR;
    table->loop = h->loop;
    table->node_id = h->config->node_id;
    table->station_type = h->config->station_type;
    table->config_dir = h->config->config_dir;
    table->now_ms = cb_now_ms;
    table->ledger_append = cb_ledger_append;
    table->emit_alert = cb_emit_alert;
    table->emit_event = cb_emit_event;
    table->post_event = cb_post_event;
    table->log = cb_log;
    table->ledger_seq = cb_ledger_seq;
    table->ledger_head = cb_ledger_head;
    table->ledger_hash_at = cb_ledger_hash_at;
}

/* ---- posted-event queue ----------------------------------------------------------------- */

void host_table_init(host_table *t)
{
    memset(t, 0, sizeof *t);
    t->loop_thread = uv_thread_self();
    t->posts_open = true;
}

void host_table_free(host_table *t)
{
    host_posted_clear(t);
    strbuf_free(&t->scratch);
    strbuf_free(&t->metadata);
    strbuf_free(&t->alert_taken);
    json_checker_free(&t->checker);
}

void host_posted_free(posted_event *event)
{
    if (event == NULL)
        return;
    free(event->topic);
    free(event->data_json);
    free(event);
}

posted_event *host_posted_pop(host_table *h)
{
    posted_event *event = h->posted_head;
    if (event != NULL) {
        h->posted_head = event->next;
        if (h->posted_head == NULL)
            h->posted_tail = NULL;
        event->next = NULL;
    }
    return event;
}

void host_posted_clear(host_table *h)
{
    posted_event *event;
    while ((event = host_posted_pop(h)) != NULL)
        host_posted_free(event);
}

void host_posted_drop_after(host_table *h, posted_event *mark)
{
    posted_event *event = mark != NULL ? mark->next : h->posted_head;
    while (event != NULL) {
        posted_event *next = event->next;
        host_posted_free(event);
        event = next;
    }
    if (mark != NULL)
        mark->next = NULL;
    else
        h->posted_head = NULL;
    h->posted_tail = mark;
}
