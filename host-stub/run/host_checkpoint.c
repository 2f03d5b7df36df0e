/* host_checkpoint.c — the run loop's few calls into the checkpointer (ledger/checkpoint.h):
 * open it, sign at the end of a batch when due, write the checkpoints file once the ledger is
 * durable, and the ledger.checkpoint input event. Kept apart so host.c holds one line per
 * hook. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ledger/checkpoint.h"
#include "output/diag.h"
#include "run/host_internal.h"

int host_checkpoint_open(host_state *h, char *msg, size_t msg_size)
{
    if (h->config->signing_key_path == NULL)
        return 0;
    return checkpointer_open(h->config->signing_key_path, h->config->node_id,
                             h->config->ledger_path, h->config->checkpoint_interval_ms,
                             host_clock_now_ms(&h->clock), h->ledger, &h->checkpoints, msg,
                             msg_size);
}

void host_checkpoint_before_flush(host_state *h)
{
    if (h->checkpoints == NULL || h->failed)
        return;
    const char *entry;
    size_t len;
    char msg[512];
    int rc = checkpointer_prepare(h->checkpoints, h->ledger, host_clock_now_ms(&h->clock), &entry,
                                  &len, msg, sizeof msg);
    if (rc < 0) {
        host_fail_stop(h, msg);
        return;
    }
    if (rc == 0)
        return;
    json_t *e = json_loadb(entry, len, 0, NULL);
    char details[160];
    snprintf(details, sizeof details, "Signed checkpoint of the ledger through seq %lld.",
             (long long)json_integer_value(json_object_get(e, "seq")));
    json_decref(e);
    if (host_record(h, CHECKPOINT_ACTION, h->config->node_id, details, entry) < 0) {
        host_fail_stop(h, "cannot record ledger.checkpoint");
        return;
    }
    if (host_output(h, CHECKPOINT_ACTION, entry, len) < 0)
        host_fail_stop(h, "out of memory");
}

int host_checkpoint_after_flush(host_state *h)
{
    if (h->checkpoints == NULL)
        return 0;
    char msg[600];
    int rc = checkpointer_commit(h->checkpoints, msg, sizeof msg);
    if (rc < 0)
        host_fail_stop(h, msg);
    return rc;
}

bool host_checkpoint_event(host_state *h, const parsed_line *p, uint64_t line_no,
                           int64_t clock_before)
{
    if (strcmp(p->topic, CHECKPOINT_ACTION) != 0)
        return false;
    const char *why = NULL;
    json_t *data = json_loadb(p->data, p->data_len, 0, NULL);
    if (h->checkpoints == NULL)
        why = "ledger.checkpoint: this node signs nothing (no signing_key in NODE.json)";
    else if (!json_is_object(data) || json_object_size(data) != 0)
        why = "data: ledger.checkpoint takes no data ({})";
    json_decref(data);
    if (why != NULL) {
        host_clock_restore(&h->clock, clock_before);
        host_reject(h, NULL, p->source, line_no, p->topic, why);
        return true;
    }
    checkpointer_request(h->checkpoints);
    h->batch_dirty = true;
    return true;
}

void host_checkpoint_at_shutdown(host_state *h)
{
    if (h->checkpoints != NULL)
        checkpointer_request(h->checkpoints);
}

void host_checkpoint_close(host_state *h)
{
    checkpointer_close(h->checkpoints);
    h->checkpoints = NULL;
}
