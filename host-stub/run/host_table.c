/*
 * host_table.c — the smart_host callbacks modules call (clock, ledger, alerts, output events,
 * posted events, log), plus the host's own ledger records and rejections.
 * Every callback runs on the loop thread; none blocks (durability is done per batch).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/diag.h"
#include "run/host_internal.h"
#include "util/json_text.h"

static host_state *host_of(const smart_host *table)
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

/* Replace bytes that may not be UTF-8 (e.g. a message cut mid-character) so the ledger can
 * always record a rejection. Writes into `out` (caller-owned). */
static void ascii_copy(const char *in, char *out, size_t out_size)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < out_size; i++)
        out[i] = (unsigned char)in[i] < 0x80 ? in[i] : '?';
    out[i] = '\0';
}

/* ---- host-written records --------------------------------------------------------------- */

static int append_record(host_state *h, const char *module, const char *action, const char *target,
                         const char *details, const char *user_id, const char *metadata_json,
                         size_t metadata_len, char *msg, size_t msg_size)
{
    ledger_record record = {
        .time_ms = host_clock_now_ms(&h->clock),
        .node_id = h->config->node_id,
        .module = module,
        .action = action,
        .target = target,
        .details = details,
        .user_id = user_id,
        .metadata_json = metadata_json,
        .metadata_len = metadata_len,
    };
    int rc = ledger_append(h->ledger, &record, msg, msg_size);
    if (rc == 0)
        h->batch_dirty = true;
    return rc;
}

int host_record(host_state *h, const char *action, const char *target, const char *details,
                const char *metadata_json)
{
    if (h->failed)
        return -EIO;
    char msg[512];
    int rc = append_record(h, "smart-host", action, target, details, "system", metadata_json,
                           metadata_json ? strlen(metadata_json) : 0, msg, sizeof msg);
    if (rc == -EIO)
        host_fail_stop(h, msg);
    else if (rc < 0)
        host_diag("cannot record %s: %s", action, msg);
    return rc;
}

void host_reject(host_state *h, const loaded_module *by, const char *source, uint64_t line_no,
                 const char *topic, const char *message)
{
    host_diag("%s: %s", source, message);
    if (h->failed)
        return;
    strbuf *meta = &h->metadata;
    strbuf_truncate(meta, 0);
    int rc = strbuf_append_str(meta, "{\"source\":");
    if (rc == 0)
        rc = json_text_append_string(meta, source, strlen(source));
    if (rc == 0)
        rc = line_no > 0 ? strbuf_appendf(meta, ",\"line\":%llu", (unsigned long long)line_no)
                         : strbuf_append_str(meta, ",\"line\":null");
    if (rc == 0)
        rc = strbuf_append_str(meta, ",\"topic\":");
    if (rc == 0)
        rc = topic ? json_text_append_string(meta, topic, strlen(topic))
                   : strbuf_append_str(meta, "null");
    if (rc == 0)
        rc = strbuf_append_char(meta, '}');
    if (rc < 0) {
        host_fail_stop(h, "out of memory while recording a rejection");
        return;
    }
    const char *module = by ? by->name : "smart-host";
    const char *target = topic ? topic : "-";
    char msg[512];
    rc = append_record(h, module, "input.rejected", target, message, "system", meta->data,
                       meta->len, msg, sizeof msg);
    if (rc == -EINVAL) {
        char safe[512];
        ascii_copy(message, safe, sizeof safe);
        rc = append_record(h, module, "input.rejected", target, safe, "system", meta->data,
                           meta->len, msg, sizeof msg);
    }
    if (rc < 0)
        host_fail_stop(h, msg);
}

/* ---- the table's callbacks -------------------------------------------------------------- */

static int64_t cb_now_ms(const smart_host *table)
{
    return host_clock_now_ms(&host_of(table)->clock);
}

static int cb_ledger_append(const smart_host *table, const smart_ledger_entry *entry,
                            smart_error *err)
{
    host_state *h = host_of(table);
    const loaded_module *m = table->host_data;
    if (entry == NULL ||
        entry->struct_size < offsetof(smart_ledger_entry, user_id) + sizeof entry->user_id) {
        set_error(err, SMART_EINVAL, "%s", "ledger entry: missing or struct_size too small");
        return SMART_EINVAL;
    }
    if (h->failed) {
        set_error(err, SMART_EIO, "%s", "the ledger has failed; stop changing state");
        return SMART_EIO;
    }
    const char *meta = NULL;
    size_t meta_len = 0;
    if (SMART_HAS(entry, metadata_json) && entry->metadata_json != NULL) {
        char why[256];
        strbuf_truncate(&h->metadata, 0);
        int rc = json_text_append_object_line(&h->metadata, entry->metadata_json,
                                              strlen(entry->metadata_json), why, sizeof why);
        if (rc < 0) {
            set_error(err, rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM, "metadata: %s", why);
            return rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM;
        }
        meta = h->metadata.data;
        meta_len = h->metadata.len;
    }
    char msg[512];
    int rc = append_record(h, m->name, entry->action, entry->target, entry->details, entry->user_id,
                           meta, meta_len, msg, sizeof msg);
    if (rc < 0) {
        set_error(err, ledger_code(rc), "%s", msg);
        if (rc == -EIO)
            host_fail_stop(h, msg);
        return ledger_code(rc);
    }
    return 0;
}

/* Append {"topic":T,"data":D}\n to the outputs; `data` is one-line JSON object text. */
static int append_output(host_state *h, const char *topic, const char *data, size_t len)
{
    strbuf *out = &h->outputs;
    size_t mark = out->len;
    int rc = strbuf_append_str(out, "{\"topic\":");
    if (rc == 0)
        rc = json_text_append_string(out, topic, strlen(topic));
    if (rc == 0)
        rc = strbuf_append_str(out, ",\"data\":");
    if (rc == 0) /* every output line passes here: U+2028/2029 escaped, whoever wrote it */
        rc = json_text_append_escaped(out, data, len);
    if (rc == 0)
        rc = strbuf_append(out, "}\n", 2);
    if (rc < 0)
        strbuf_truncate(out, mark);
    else
        h->batch_dirty = true;
    return rc;
}

int host_output(host_state *h, const char *topic, const char *data, size_t len)
{
    return append_output(h, topic, data, len);
}

static int cb_emit_alert(const smart_host *table, const char *alert_json, size_t len,
                         smart_error *err)
{
    host_state *h = host_of(table);
    if (h->failed) {
        set_error(err, SMART_EIO, "%s", "the host has failed; nothing more is delivered");
        return SMART_EIO;
    }
    if (alert_json == NULL) {
        set_error(err, SMART_EINVAL, "%s", "alert: missing");
        return SMART_EINVAL;
    }
    char why[256];
    strbuf_truncate(&h->scratch, 0);
    int rc = json_text_append_object_line(&h->scratch, alert_json, len, why, sizeof why);
    if (rc < 0) {
        set_error(err, rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM, "alert: %s", why);
        return rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM;
    }
    size_t mark = h->alert_lines.len;
    rc = strbuf_append(&h->alert_lines, h->scratch.data, h->scratch.len);
    if (rc == 0)
        rc = strbuf_append_char(&h->alert_lines, '\n');
    if (rc == 0)
        rc = append_output(h, "alert", h->scratch.data, h->scratch.len);
    if (rc < 0) {
        strbuf_truncate(&h->alert_lines, mark);
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
    return 0;
}

static int cb_emit_event(const smart_host *table, const char *topic, const char *data_json,
                         size_t len, smart_error *err)
{
    host_state *h = host_of(table);
    if (h->failed) {
        set_error(err, SMART_EIO, "%s", "the host has failed; nothing more is delivered");
        return SMART_EIO;
    }
    if (check_topic(topic, err) < 0)
        return SMART_EINVAL;
    if (data_json == NULL) {
        data_json = "{}";
        len = 2;
    }
    char why[256] = "";
    strbuf_truncate(&h->scratch, 0);
    int rc = json_text_append_object_line(&h->scratch, data_json, len, why, sizeof why);
    if (rc < 0) {
        int code = rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM;
        set_error(err, code, "data: %s", rc == -EINVAL ? why : "out of memory");
        return code;
    }
    rc = append_output(h, topic, h->scratch.data, h->scratch.len);
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
    host_state *h = host_of(table);
    if (h->phase != HOST_RUNNING && h->phase != HOST_STARTING) {
        set_error(err, SMART_EBUSY, "%s", "the host is shutting down; no more events");
        return SMART_EBUSY;
    }
    if (check_topic(topic, err) < 0)
        return SMART_EINVAL;
    if (data_json == NULL) {
        data_json = "{}";
        len = 2;
    }
    char why[256];
    strbuf_truncate(&h->scratch, 0);
    int rc = json_text_append_object_text(&h->scratch, data_json, len, why, sizeof why);
    if (rc < 0) {
        set_error(err, rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM, "data: %s", why);
        return rc == -EINVAL ? SMART_EINVAL : SMART_ENOMEM;
    }
    posted_event *event = calloc(1, sizeof *event);
    char *topic_copy = strdup(topic);
    char *data_copy = malloc(h->scratch.len + 1);
    if (event == NULL || topic_copy == NULL || data_copy == NULL) {
        free(event);
        free(topic_copy);
        free(data_copy);
        set_error(err, SMART_ENOMEM, "%s", "out of memory");
        return SMART_ENOMEM;
    }
    memcpy(data_copy, h->scratch.data, h->scratch.len + 1);
    event->module = (loaded_module *)table->host_data;
    event->topic = topic_copy;
    event->data_json = data_copy;
    event->data_len = h->scratch.len;
    if (h->posted_tail != NULL)
        h->posted_tail->next = event;
    else
        h->posted_head = event;
    h->posted_tail = event;
    host_wake(h);
    return 0;
}

static void cb_log(const smart_host *table, smart_log_level level, const char *message)
{
    host_state *h = host_of(table);
    const loaded_module *m = table->host_data;
    if ((int)level > (int)h->options->log_level)
        return;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const char *name = (unsigned)level < 4 ? names[level] : "log";
    host_diag("%s: %s: %s", m->name, name, message ? message : "");
}

static uint64_t cb_ledger_seq(const smart_host *table)
{
    const host_state *h = host_of(table);
    return h->ledger != NULL ? ledger_record_count(h->ledger) : 0;
}

static uint64_t cb_ledger_head(const smart_host *table, char hash[SMART_LEDGER_HASH_LEN + 1])
{
    host_state *h = host_of(table);
    if (h->ledger == NULL) {
        memset(hash, '0', SMART_LEDGER_HASH_LEN);
        hash[SMART_LEDGER_HASH_LEN] = '\0';
        return 0;
    }
    memcpy(hash, ledger_head_hash(h->ledger), SMART_LEDGER_HASH_LEN + 1);
    return ledger_record_count(h->ledger);
}

static int cb_ledger_hash_at(const smart_host *table, uint64_t seq,
                             char hash[SMART_LEDGER_HASH_LEN + 1], uint64_t *last_seq,
                             smart_error *err)
{
    host_state *h = host_of(table);
    char msg[sizeof err->text];
    int rc =
        h->ledger != NULL ? ledger_hash_at(h->ledger, seq, hash, last_seq, msg, sizeof msg) : -EIO;
    if (h->ledger == NULL)
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

void host_table_prepare(host_state *h, smart_host *table)
{
    memset(table, 0, sizeof *table);
    table->struct_size = sizeof *table;
    table->abi_major = SMART_ABI_MAJOR;
    table->abi_minor = SMART_ABI_MINOR;
    table->loop = &h->loop;
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

void host_posted_free(posted_event *event)
{
    if (event == NULL)
        return;
    free(event->topic);
    free(event->data_json);
    free(event);
}

posted_event *host_posted_pop(host_state *h)
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

void host_posted_clear(host_state *h)
{
    posted_event *event;
    while ((event = host_posted_pop(h)) != NULL)
        host_posted_free(event);
}
