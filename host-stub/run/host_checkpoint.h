/*
 * host_checkpoint.h — the run's calls into the checkpointer (ledger/checkpoint.h): open it when
 * NODE.json names a signing_key, take the ledger.checkpoint input event, ask for a checkpoint
 * at shutdown, close it. Signing itself happens at the end of a batch (batch.c), around the
 * ledger's flush. Between host.c above and batch.c below; everything on the loop thread.
 */
#ifndef SMART_HOST_HOST_CHECKPOINT_H
#define SMART_HOST_HOST_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input/event_parse.h"
#include "run/batch.h"

/* [start, after the ledger is open in `b`] Open b->checkpoints when the config names a
 * signing_key (else leave it NULL). Returns 0 or a negative errno with `msg` (caller-owned). */
int host_checkpoint_open(host_batch *b, char *msg, size_t msg_size);

/* An input line: when it is a ledger.checkpoint event, handle it (ask for a checkpoint at the
 * end of the batch, or reject it, restoring the clock to `clock_before`) and return true;
 * otherwise return false and do nothing. */
bool host_checkpoint_event(host_batch *b, const parsed_line *p, uint64_t line_no,
                           int64_t clock_before);

/* Sign at the next end of batch (shutdown). Nothing without a checkpointer. */
void host_checkpoint_at_shutdown(host_batch *b);

/* Close and forget b->checkpoints (NULL is fine). */
void host_checkpoint_close(host_batch *b);

#endif /* SMART_HOST_HOST_CHECKPOINT_H */
