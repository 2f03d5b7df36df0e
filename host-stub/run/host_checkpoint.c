/* host_checkpoint.c — the run's few calls into the checkpointer (ledger/checkpoint.h): open
 * it, the ledger.checkpoint input event, the request at shutdown; see host_checkpoint.h. */
#include "run/host_checkpoint.h"

#include <jansson.h>
#include <string.h>

#include "ledger/checkpoint.h"

int host_checkpoint_open(host_batch *b, char *msg, size_t msg_size)
{
    if (b->config->signing_key_path == NULL)
        return 0;
    return checkpointer_open(b->config->signing_key_path, b->config->node_id,
                             b->config->ledger_path, b->config->checkpoint_interval_ms,
                             host_clock_now_ms(b->clock), b->ledger, &b->checkpoints, msg,
                             msg_size);
}

bool host_checkpoint_event(host_batch *b, const parsed_line *p, uint64_t line_no,
                           int64_t clock_before)
{
    if (strcmp(p->topic, CHECKPOINT_ACTION) != 0)
        return false;
    const char *why = NULL;
    json_t *data = json_loadb(p->data, p->data_len, 0, NULL);
    if (b->checkpoints == NULL)
        why = "ledger.checkpoint: this node signs nothing (no signing_key in NODE.json)";
    else if (!json_is_object(data) || json_object_size(data) != 0)
        why = "data: ledger.checkpoint takes no data ({})";
    json_decref(data);
    if (why != NULL) {
        host_clock_restore(b->clock, clock_before);
        host_batch_reject(b, NULL, p->source, line_no, p->topic, why);
        return true;
    }
    checkpointer_request(b->checkpoints);
    b->dirty = true;
    return true;
}

void host_checkpoint_at_shutdown(host_batch *b)
{
    if (b->checkpoints != NULL)
        checkpointer_request(b->checkpoints);
}

void host_checkpoint_close(host_batch *b)
{
    checkpointer_close(b->checkpoints);
    b->checkpoints = NULL;
}
