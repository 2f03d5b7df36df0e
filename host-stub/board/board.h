/*
 * board.h — the station's live status board: a read-only HTTP and WebSocket server on a
 * thread of its own with its own libuv loop (libwebsockets with its libuv event library),
 * started when NODE.json has "dashboard" (node_config.h; README "The status board").
 *
 *   GET /, /board.css, /board.js   the page (assets compiled in: board_assets.c)
 *   GET /api/status?limit=&after=  the items, paged by equipment_id (board_api.h)
 *   GET /api/alerts?since=SEQ, /api/decisions?since=SEQ, /api/ledger/recent?limit=
 *   GET /ws[?deflate=1]            WebSocket: board.hello, then every durable status.changed,
 *                                  gate.decision, alert and ledger.checkpoint, in order, one
 *                                  message a batch (deflated, binary, with ?deflate=1)
 *
 * Bounds: at most BOARD_MAX_CLIENTS WebSocket clients and BOARD_MAX_HTTP HTTP answers in
 * flight (more are refused: 503); request headers at most BOARD_MAX_HEADER bytes (lws refuses
 * longer ones); a client that, when the next batch is durable, still has more than
 * BOARD_QUEUE_MAX messages or BOARD_QUEUE_BYTES bytes waiting, or that has taken none of them
 * for BOARD_BEHIND_MS ($SMART_BOARD_BEHIND_MS), is dropped (it resyncs). A batch is one
 * message, made once in each form some client asked for and shared by every client.
 * Anything but GET is 405, a bad query 400 (logged on stderr), an unknown path 404, and with a
 * token every request without "Authorization: Bearer TOKEN" is 401.
 *
 * Threads: board_start, board_durable, board_close and board_free are called on the host's
 * loop thread. board_durable only copies the batch's lines the board takes in
 * (board_line_wanted) into a hand-over queue (at most BOARD_HANDOFF_BYTES: beyond it the batch
 * is lost to the board and every client must resync) and wakes the board's thread
 * (uv_async_send); everything else, libwebsockets included, runs on the board's thread: taking
 * the batches in (board_api.h), making the messages, writing them when the sockets take them.
 * So neither a client that does not read nor the board's work holds the gate's loop. At a
 * clean stop (board_close) what is queued is sent first, for at most BOARD_FLUSH_MS
 * ($SMART_BOARD_FLUSH_MS; a client that takes nothing for a quarter of it is let go).
 */
#ifndef SMART_HOST_BOARD_H
#define SMART_HOST_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "config/node_config.h"

#define BOARD_MAX_CLIENTS   256
#define BOARD_MAX_HTTP      64
#define BOARD_MAX_HEADER    4096
#define BOARD_QUEUE_MAX     65536
#define BOARD_QUEUE_BYTES   (32u * 1024 * 1024)
#define BOARD_BEHIND_MS     10000
#define BOARD_HANDOFF_BYTES (64u * 1024 * 1024) /* batches waiting for the board's thread */
#define BOARD_FLUSH_MS      2000 /* at a stop, the most queued messages may take to go */
#define BOARD_FLUSH_TICK_MS 20   /* how often a stop looks at the flush */

typedef struct board board;

/* Start the board's thread, serving config->dashboard_host:dashboard_port (`config` borrowed,
 * must outlive the board); returns once it listens or failed to. Says on stderr where it
 * listens ("board at http://HOST:PORT/"). Returns 0 and the board in *out, or a negative errno
 * with `msg` (caller-owned) saying why ("FILE: dashboard.listen: cannot listen on HOST:PORT:
 * REASON" for an address in use or not this machine's; the libuv event library missing);
 * *out is then NULL. It reads nothing of the station's files: the host starts it before it
 * opens the ledger, so a refused start writes nothing there. */
int board_start(const node_config *config, board **out, char *msg, size_t msg_size);

/* The batch's hook (batch.h on_durable): the batch's output lines (`len` bytes, borrowed) are
 * durable through ledger seq `seq` at station time `now_ms`. `arg` is the board. */
void board_durable(void *arg, const char *lines, size_t len, uint64_t seq, int64_t now_ms);

/* The port it listens on (the one the system chose for port 0). */
int board_port(const board *b);

/* Stop serving: what is queued for the clients is sent (for at most BOARD_FLUSH_MS), every
 * connection is closed and the board's thread ends; returns once it has (it blocks the caller
 * that long). Later batches are ignored. NULL is ignored; a second call does nothing. */
void board_close(board *b);

/* Free the board (stopping it first when board_close was not called). NULL is ignored. */
void board_free(board *b);

#endif /* SMART_HOST_BOARD_H */
