/* board_queue.c — shared messages and bounded per-client queues; see board_queue.h. */
#include "board/board_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

board_msg *board_msg_alloc(size_t pre, uint64_t seq, uint64_t made_ms, size_t cap)
{
    board_msg *m = malloc(sizeof *m + pre + cap + 1);
    if (m == NULL)
        return NULL;
    m->refs = 1;
    m->pre = pre;
    m->len = 0;
    m->seq = seq;
    m->made_ms = made_ms;
    m->binary = false;
    memset(m->data, 0, pre);
    m->data[pre] = '\0';
    return m;
}

board_msg *board_msg_new(size_t pre, uint64_t seq, uint64_t made_ms, const char *text, size_t len)
{
    board_msg *m = board_msg_alloc(pre, seq, made_ms, len);
    if (m == NULL)
        return NULL;
    m->len = len;
    memcpy(m->data + pre, text, len);
    m->data[pre + len] = '\0';
    return m;
}

board_msg *board_msg_ref(board_msg *m)
{
    if (m != NULL)
        m->refs++;
    return m;
}

void board_msg_unref(board_msg *m)
{
    if (m != NULL && --m->refs == 0)
        free(m);
}

int board_queue_init(board_queue *q, size_t max_count, size_t max_bytes)
{
    memset(q, 0, sizeof *q);
    q->cap = 64;
    q->ring = calloc(q->cap, sizeof *q->ring);
    if (q->ring == NULL)
        return -ENOMEM;
    q->max_count = max_count;
    q->max_bytes = max_bytes;
    return 0;
}

void board_queue_clear(board_queue *q)
{
    while (q->count > 0)
        board_msg_unref(board_queue_pop(q));
}

void board_queue_free(board_queue *q)
{
    if (q->ring != NULL)
        board_queue_clear(q);
    free(q->ring);
    q->ring = NULL;
}

bool board_queue_behind(const board_queue *q)
{
    return q->count > q->max_count || q->bytes > q->max_bytes;
}

int board_queue_push(board_queue *q, board_msg *m)
{
    if (q->count == q->cap) { /* grow, keeping the order: oldest first from 0 */
        board_msg **ring = calloc(q->cap * 2, sizeof *ring);
        if (ring == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < q->count; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->head = 0;
        q->cap *= 2;
    }
    q->ring[(q->head + q->count) % q->cap] = board_msg_ref(m);
    q->count++;
    q->bytes += m->len;
    return 0;
}

board_msg *board_queue_peek(const board_queue *q)
{
    return q->count ? q->ring[q->head] : NULL;
}

board_msg *board_queue_pop(board_queue *q)
{
    if (q->count == 0)
        return NULL;
    board_msg *m = q->ring[q->head];
    q->ring[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->bytes -= m->len;
    return m;
}
