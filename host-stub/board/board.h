/*
 * board.h — the station's live status board: a read-only HTTP and WebSocket server on the
 * host's own libuv loop (libwebsockets with its libuv event library), started when NODE.json
 * has "dashboard" (node_config.h; README "The status board").
 *
 *   GET /, /board.css, /board.js   the page (assets compiled in: board_assets.c)
 *   GET /api/status?limit=&after=  the items, paged by equipment_id (board_api.h)
 *   GET /api/alerts?since=SEQ, /api/decisions?since=SEQ, /api/ledger/recent?limit=
 *   GET /ws                        WebSocket: board.hello, then every durable status.changed,
 *                                  gate.decision, alert and ledger.checkpoint, in order
 *
 * Bounds: at most BOARD_MAX_CLIENTS WebSocket clients and BOARD_MAX_HTTP HTTP answers in
 * flight (more are refused: 503); request headers at most BOARD_MAX_HEADER bytes (lws refuses
 * longer ones); a client that, when the next batch is durable, still has more than
 * BOARD_QUEUE_MAX messages or BOARD_QUEUE_BYTES bytes waiting, or that has taken none of them
 * for BOARD_BEHIND_MS ($SMART_BOARD_BEHIND_MS), is dropped (it resyncs). A batch is queued
 * whole (its messages are shared by every client).
 * Anything but GET is 405, a bad query 400 (logged on stderr), an unknown path 404, and with a
 * token every request without "Authorization: Bearer TOKEN" is 401.
 *
 * Everything runs on the loop thread: the batch's hook (board_durable) only copies the
 * batch's events into the queues and asks libwebsockets to write when the socket can take it,
 * so a client that does not read never blocks the loop or the gate.
 */
#ifndef SMART_HOST_BOARD_H
#define SMART_HOST_BOARD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/node_config.h"

#define BOARD_MAX_CLIENTS 256
#define BOARD_MAX_HTTP    64
#define BOARD_MAX_HEADER  4096
#define BOARD_QUEUE_MAX   65536
#define BOARD_QUEUE_BYTES (32u * 1024 * 1024)
#define BOARD_BEHIND_MS   10000

typedef struct board board;

/* Start serving config->dashboard_host:dashboard_port on `loop` (borrowed; both must outlive
 * the board). Says on stderr where it listens ("board at http://HOST:PORT/"). Returns 0 and the
 * board in *out, or a negative errno with `msg` (caller-owned) saying why (the address in use,
 * the libuv event library missing); *out is then NULL. */
int board_start(uv_loop_t *loop, const node_config *config, board **out, char *msg,
                size_t msg_size);

/* The batch's hook (batch.h on_durable): the batch's output lines (`len` bytes, borrowed) are
 * durable through ledger seq `seq` at station time `now_ms`. `arg` is the board. */
void board_durable(void *arg, const char *lines, size_t len, uint64_t seq, int64_t now_ms);

/* The port it listens on (the one the system chose for port 0). */
int board_port(const board *b);

/* Stop serving: every connection is closed and libwebsockets' handles are closed on the loop,
 * which must run on for them to finish. NULL is ignored; a second call does nothing. */
void board_close(board *b);

/* Free the board once the loop has stopped (after board_close). NULL is ignored. */
void board_free(board *b);

#endif /* SMART_HOST_BOARD_H */
