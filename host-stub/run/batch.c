/* batch.c — one batch made durable before it is acknowledged, host-written ledger records and
 * rejections, and the fail-stop; see batch.h. */
#include "run/batch.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ledger/checkpoint.h"
#include "ledger/durable_file.h"
#include "output/diag.h"
#include "run/crash_guard.h"
#include "run/host.h"
#include "run/watchdog.h"
#include "util/json_text.h"
#include "util/sync_worker.h"

void host_batch_init(host_batch *b)
{
    memset(b, 0, sizeof *b);
    b->alerts_fd = -1;
}

void host_batch_free(host_batch *b)
{
    strbuf_free(&b->outputs);
    strbuf_free(&b->alert_lines);
    strbuf_free(&b->reject_meta);
    sync_worker_stop(b->alerts_syncer);
    b->alerts_syncer = NULL;
}

/* Ledger, alerts, module commits, and only then the outputs: nothing is acknowledged that a
 * crash could lose. */
/* The signed checkpoint, when one is due (ledger/checkpoint.h): recorded in the ledger and
 * handed out as an output event before the batch's flush. Fail-stops on error. */
static void sign_when_due(host_batch *b)
{
    if (b->checkpoints == NULL)
        return;
    const char *entry;
    size_t len;
    char msg[512];
    int rc = checkpointer_prepare(b->checkpoints, b->ledger, host_clock_now_ms(b->clock), &entry,
                                  &len, msg, sizeof msg);
    if (rc < 0) {
        host_batch_fail_stop(b, msg);
        return;
    }
    if (rc == 0)
        return;
    json_t *e = json_loadb(entry, len, 0, NULL);
    char details[160];
    snprintf(details, sizeof details, "Signed checkpoint of the ledger through seq %lld.",
             (long long)json_integer_value(json_object_get(e, "seq")));
    json_decref(e);
    if (host_batch_record(b, CHECKPOINT_ACTION, b->config->node_id, details, entry) < 0) {
        host_batch_fail_stop(b, "cannot record ledger.checkpoint");
        return;
    }
    if (host_batch_output(b, CHECKPOINT_ACTION, entry, len) < 0)
        host_batch_fail_stop(b, "out of memory");
}

/* Frees an emptied buffer's storage when it is larger than a bounded batch needs. */
static void release_large(strbuf *buf)
{
    if (buf->len == 0 && buf->cap > 2 * HOST_BATCH_BYTES_MAX)
        strbuf_free(buf);
}

void host_batch_end(host_batch *b, loaded_module *modules, size_t count)
{
    if (b->failed || !b->dirty)
        return;
    char msg[600];
    sign_when_due(b); /* a ledger.checkpoint record and output, in this batch */
    if (b->failed)
        return;
    /* The alert lines go to disk on the syncer's thread while this one flushes the ledger:
     * neither depends on the other, and both are waited for before any store commits. */
    bool alerts_begun = false;
    if (b->alert_lines.len > 0) {
        if (b->alerts_syncer == NULL && sync_worker_start(&b->alerts_syncer) < 0)
            b->alerts_syncer = NULL; /* then written here, after the ledger */
        if (b->alerts_syncer != NULL) {
            sync_worker_begin(b->alerts_syncer, b->alerts_fd, b->alert_lines.data,
                              b->alert_lines.len);
            alerts_begun = true;
        }
    }
    char ledger_msg[600];
    int ledger_rc = ledger_flush(b->ledger, ledger_msg, sizeof ledger_msg);
    /* The checkpoints file is written only once the ledger holding what it signs is durable. */
    char checkpoint_msg[600];
    int checkpoint_rc = 0;
    if (ledger_rc == 0 && b->checkpoints != NULL)
        checkpoint_rc = checkpointer_commit(b->checkpoints, checkpoint_msg, sizeof checkpoint_msg);
    int alerts_rc = 0;
    const char *alerts_call = NULL;
    if (alerts_begun) /* waited for even when the ledger failed: it borrows alert_lines */
        alerts_rc = sync_worker_wait(b->alerts_syncer, &alerts_call);
    else if (b->alert_lines.len > 0 && ledger_rc == 0 && checkpoint_rc == 0) {
        alerts_call = "write";
        alerts_rc = durable_write_all(b->alerts_fd, b->alert_lines.data, b->alert_lines.len);
        if (alerts_rc == 0 && fdatasync(b->alerts_fd) != 0) {
            alerts_rc = -errno;
            alerts_call = "fdatasync";
        }
    }
    if (ledger_rc < 0) {
        host_batch_fail_stop(b, ledger_msg);
        return;
    }
    if (checkpoint_rc < 0) {
        host_batch_fail_stop(b, checkpoint_msg);
        return;
    }
    if (alerts_rc < 0) {
        snprintf(msg, sizeof msg, "alerts %s: %s failed: %s", b->config->alerts_path,
                 alerts_call ? alerts_call : "write", strerror(-alerts_rc));
        host_batch_fail_stop(b, msg);
        return;
    }
    strbuf_truncate(&b->alert_lines, 0);
    for (size_t i = 0; i < count; i++) {
        loaded_module *m = &modules[i];
        if (!m->initialised || m->shutdown_started)
            continue;
        smart_error err = {0, ""};
        crash_guard_enter_call(b->guard, m->name, "commit");
        watchdog_enter(b->watchdog, m->name, "commit", NULL, NULL);
        int rc = m->plugin->commit(m->instance, &err);
        watchdog_leave(b->watchdog);
        crash_guard_leave(b->guard);
        if (rc != 0) { /* a positive code is outside the documented set: a failure too */
            err.text[sizeof err.text - 1] = '\0';
            if (rc > 0)
                snprintf(msg, sizeof msg,
                         "module %s: commit returned %d, not 0 or a negative SMART_E* code: %s",
                         m->name, rc, err.text);
            else
                snprintf(msg, sizeof msg, "module %s: commit failed: %s", m->name, err.text);
            host_batch_fail_stop(b, msg);
            return;
        }
    }
    if (b->on_durable != NULL) /* durable: the status board may show it */
        b->on_durable(b->on_durable_arg, b->outputs.data, b->outputs.len,
                      ledger_record_count(b->ledger), host_clock_now_ms(b->clock));
    int rc = output_writer_hand_over(b->writer, &b->outputs);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "cannot write to standard output: %s", strerror(-rc));
        host_batch_fail_stop(b, msg);
        return;
    }
    /* What one large event left (a first sweep's 100,000 status changes) is not kept for the
     * batches after it. */
    release_large(&b->outputs);
    release_large(&b->alert_lines);
    b->dirty = false;
}

bool host_batch_full(const host_batch *b)
{
    return b->outputs.len + b->alert_lines.len >= HOST_BATCH_BYTES_MAX;
}

void host_batch_fail_stop(host_batch *b, const char *message)
{
    host_batch_fail_stop_code(b, HOST_EXIT_IO, message);
}

void host_batch_fail_stop_code(host_batch *b, int exit_code, const char *message)
{
    if (b->failed)
        return;
    b->failed = true;
    /* What was acknowledged before is printed before the message that ends it. */
    if (b->writer != NULL)
        output_writer_drain(b->writer);
    host_diag("fatal: %s; acknowledging nothing more", message);
    if (b->ledger != NULL)
        ledger_abandon(b->ledger);
    strbuf_truncate(&b->outputs, 0);
    strbuf_truncate(&b->alert_lines, 0);
    if (b->on_fail != NULL)
        b->on_fail(b->on_fail_arg, exit_code);
}

int host_batch_append(host_batch *b, const char *module, const char *action, const char *target,
                      const char *details, const char *user_id, const char *metadata_json,
                      size_t metadata_len, char *msg, size_t msg_size)
{
    ledger_record record = {
        .time_ms = host_clock_now_ms(b->clock),
        .node_id = b->config->node_id,
        .module = module,
        .action = action,
        .target = target,
        .details = details,
        .user_id = user_id,
        .metadata_json = metadata_json,
        .metadata_len = metadata_len,
    };
    int rc = ledger_append(b->ledger, &record, msg, msg_size);
    if (rc == 0)
        b->dirty = true;
    return rc;
}

int host_batch_record(host_batch *b, const char *action, const char *target, const char *details,
                      const char *metadata_json)
{
    if (b->failed)
        return -EIO;
    char msg[512];
    int rc = host_batch_append(b, "smart-host", action, target, details, "system", metadata_json,
                               metadata_json ? strlen(metadata_json) : 0, msg, sizeof msg);
    if (rc == -EIO)
        host_batch_fail_stop(b, msg);
    else if (rc < 0)
        host_diag("cannot record %s: %s", action, msg);
    return rc;
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

void host_batch_reject(host_batch *b, const char *by, const char *source, uint64_t line_no,
                       const char *topic, const char *message)
{
    host_diag("%s: %s", source, message);
    if (b->failed)
        return;
    strbuf *meta = &b->reject_meta;
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
        host_batch_fail_stop(b, "out of memory while recording a rejection");
        return;
    }
    const char *module = by ? by : "smart-host";
    const char *target = topic ? topic : "-";
    char msg[512];
    rc = host_batch_append(b, module, "input.rejected", target, message, "system", meta->data,
                           meta->len, msg, sizeof msg);
    if (rc == -EINVAL) {
        char safe[512];
        ascii_copy(message, safe, sizeof safe);
        rc = host_batch_append(b, module, "input.rejected", target, safe, "system", meta->data,
                               meta->len, msg, sizeof msg);
    }
    if (rc < 0)
        host_batch_fail_stop(b, msg);
}

static int append_output(host_batch *b, const char *topic, const char *data, size_t len,
                         bool escape)
{
    strbuf *out = &b->outputs;
    size_t mark = out->len;
    int rc = strbuf_append_str(out, "{\"topic\":");
    if (rc == 0)
        rc = json_text_append_string(out, topic, strlen(topic));
    if (rc == 0)
        rc = strbuf_append_str(out, ",\"data\":");
    if (rc == 0) /* every output line passes here: U+2028/2029 escaped, whoever wrote it */
        rc = escape ? json_text_append_escaped(out, data, len) : strbuf_append(out, data, len);
    if (rc == 0)
        rc = strbuf_append(out, "}\n", 2);
    if (rc < 0)
        strbuf_truncate(out, mark);
    else
        b->dirty = true;
    return rc;
}

int host_batch_output(host_batch *b, const char *topic, const char *data, size_t len)
{
    return append_output(b, topic, data, len, true);
}

int host_batch_output_now(host_batch *b, const char *topic, const char *data, size_t len)
{
    if (b->failed)
        return 0;
    bool was_dirty = b->dirty;
    int rc = append_output(b, topic, data, len, true);
    if (rc < 0 || was_dirty)
        return rc;    /* printed after the open batch's own lines, once they are durable */
    b->dirty = false; /* nothing of the ledger's or a store's to make durable for it */
    rc = output_writer_hand_over(b->writer, &b->outputs);
    if (rc < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "cannot write to standard output: %s", strerror(-rc));
        host_batch_fail_stop(b, msg);
    }
    return rc;
}

int host_batch_output_escaped(host_batch *b, const char *topic, const char *data, size_t len)
{
    return append_output(b, topic, data, len, false);
}

int host_batch_alert(host_batch *b, const char *alert, size_t len)
{
    size_t mark = b->alert_lines.len;
    int rc = strbuf_append(&b->alert_lines, alert, len);
    if (rc == 0)
        rc = strbuf_append_char(&b->alert_lines, '\n');
    if (rc == 0)
        rc = host_batch_output(b, "alert", alert, len);
    if (rc < 0) {
        strbuf_truncate(&b->alert_lines, mark);
        return -ENOMEM;
    }
    return 0;
}

host_batch_mark host_batch_mark_now(const host_batch *b)
{
    return (host_batch_mark){.outputs = b->outputs.len, .alert_lines = b->alert_lines.len};
}

void host_batch_drop_since(host_batch *b, host_batch_mark mark)
{
    if (mark.outputs <= b->outputs.len)
        strbuf_truncate(&b->outputs, mark.outputs);
    if (mark.alert_lines <= b->alert_lines.len)
        strbuf_truncate(&b->alert_lines, mark.alert_lines);
}
