/*
 * board_queue.h — what the status board pushes to its WebSocket clients: messages shared by
 * every client (one copy, counted references) and each client's bounded queue of them.
 *
 * A client whose queue, when the next batch comes, holds more than its bounds
 * (board_queue_behind), or that has taken nothing for too long (board.c), has fallen behind:
 * the caller drops it, and it resyncs with ?since=
 * (README "The status board"). A batch is queued whole to a client that keeps up, however many
 * events it has (a sweep over every item): the messages are shared, so a client costs a
 * pointer per message, at most its bounds plus one batch. Loop thread only; not thread-safe.
 */
#ifndef SMART_HOST_BOARD_QUEUE_H
#define SMART_HOST_BOARD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One message: `len` bytes of text at data + pre, with `pre` bytes of headroom before it (what
 * libwebsockets needs in front of a buffer it writes, LWS_PRE). */
typedef struct board_msg {
    size_t refs;
    size_t pre;
    size_t len;
    uint64_t seq;     /* the ledger seq the message carries (0 for a hello) */
    uint64_t made_ms; /* when it was made, on the loop's clock (uv_now) */
    bool binary;      /* a binary WebSocket message (a deflated batch), else text */
    unsigned char data[];
} board_msg;

/* A new message holding a copy of `text` (`len` bytes), one reference held by the caller.
 * Returns NULL when out of memory. */
board_msg *board_msg_new(size_t pre, uint64_t seq, uint64_t made_ms, const char *text, size_t len);

/* A new message with room for `cap` bytes after the headroom and len 0, for the caller to fill
 * (setting len <= cap); one reference held by the caller. Returns NULL when out of memory. */
board_msg *board_msg_alloc(size_t pre, uint64_t seq, uint64_t made_ms, size_t cap);

/* The text of a message (len bytes; not NUL-terminated). */
static inline const char *board_msg_text(const board_msg *m)
{
    return (const char *)m->data + m->pre;
}

/* Take or release a reference; the last release frees it. NULL is ignored. */
board_msg *board_msg_ref(board_msg *m);
void board_msg_unref(board_msg *m);

/* A client's queue: behind once more than `max_count` messages or `max_bytes` bytes of text
 * wait in it. */
typedef struct board_queue {
    board_msg **ring;
    size_t cap; /* grows by doubling */
    size_t max_count;
    size_t head;
    size_t count;
    size_t bytes;
    size_t max_bytes;
} board_queue;

/* An empty queue with those bounds (max_count >= 1). Returns 0 or -ENOMEM. */
int board_queue_init(board_queue *q, size_t max_count, size_t max_bytes);

/* Release every queued message and the ring. */
void board_queue_free(board_queue *q);

/* Whether more than the bounds wait: checked before a new batch is queued. */
bool board_queue_behind(const board_queue *q);

/* Queue a reference to `m` (taken here on success). Returns 0, or -ENOMEM (nothing queued). */
int board_queue_push(board_queue *q, board_msg *m);

/* The oldest message, still queued (NULL when empty); board_queue_pop removes it and hands
 * its reference to the caller. */
board_msg *board_queue_peek(const board_queue *q);
board_msg *board_queue_pop(board_queue *q);

/* Release every queued message, keeping the ring. */
void board_queue_clear(board_queue *q);

#endif /* SMART_HOST_BOARD_QUEUE_H */
