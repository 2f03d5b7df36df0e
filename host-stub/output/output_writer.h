/*
 * output_writer.h — prints the host's output lines on a thread of its own.
 *
 * The loop thread hands a batch's output lines over once the batch is durable and goes on with
 * the next batch while they are written. At most one hand-over is being written at a time: the
 * next one waits for it, so output keeps its order, memory stays at two batches, and a slow
 * reader still slows the host down, as a plain write would.
 *
 * A stalled reader must not keep the host from obeying SIGINT/SIGTERM, though: with
 * output_writer_obey_signals, a wait for the thread that sees a stop signal gives the write
 * OUTPUT_WRITER_STOP_GRACE_MS more, then gives it up (the thread is cancelled inside write(2),
 * so a line may be cut short) and fails with -ECANCELED, so the host can shut down.
 *
 * All functions are called on the loop thread only.
 */
#ifndef SMART_HOST_OUTPUT_WRITER_H
#define SMART_HOST_OUTPUT_WRITER_H

#include "util/strbuf.h"

typedef struct output_writer output_writer;

/* Starts a writer on `fd` (borrowed; it must stay open until output_writer_stop). Returns 0 or
 * a negative errno (then *out is NULL). */
int output_writer_start(int fd, output_writer **out);

/* Hands over b's bytes, waiting first for the previous hand-over to be written; b comes back
 * empty (with storage for reuse). Returns 0, or the negative errno of an earlier write that
 * failed: then nothing more is written and b is left as it was. */
int output_writer_hand_over(output_writer *w, strbuf *b);

/* Waits until everything handed over is written. Returns 0 or the negative errno of a failed
 * write. */
int output_writer_drain(output_writer *w);

/* How long a write may go on stalled after SIGINT/SIGTERM before it is given up. */
#define OUTPUT_WRITER_STOP_GRACE_MS 2000

/* From now on, SIGINT and SIGTERM also bound every wait for the thread (see above): a handler of
 * this writer's is installed for both, calling the handlers that were there (libuv's signal
 * watchers: call it after uv_signal_start) after setting a flag. One writer per process;
 * output_writer_stop puts the previous handlers back. */
void output_writer_obey_signals(output_writer *w);

/* Drains, stops the thread and frees the writer (NULL is a no-op). Returns as drain. */
int output_writer_stop(output_writer *w);

#endif /* SMART_HOST_OUTPUT_WRITER_H */
