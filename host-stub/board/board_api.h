/*
 * board_api.h — what the status board knows and answers: the station's items as the module
 * last reported them, the recent alerts, gate decisions and checkpoints, and the JSON answers
 * of its read-only HTTP API (README "The status board"; shapes in schemas/board-*.schema.json).
 *
 * It learns only from the host's output lines once they are durable (board_state_durable,
 * called for each batch): a `status` answer gives every item and `status.changed`
 * updates the one it names (both held back, unparsed, until /api/status is asked or
 * BOARD_PENDING_BYTES of them wait: then only those from the newest whole answer on are parsed)
 * (gate decisions are not parsed here, for their cost: the page applies their items itself). Every
 * status.changed, gate.decision, alert and ledger.checkpoint becomes one event
 * {"seq":S,"n":N,"last":B, "topic":T,"data":D}, and the WebSocket clients get a batch's events as
 * one JSON array: S is the ledger seq its batch is durable through (the same for the whole batch),
 * N its place in the batch, B whether it is the batch's last of these; a batch is one message. A
 * client that has seen a message with "last":true for S asks ?since=S for what follows. The recent
 * ones are kept, bounded (BOARD_KEEP_*), for ?since=; an answer says "complete": false when some
 * after `since` were already let go.
 *
 * Nothing here changes the station: it reads output lines and the ledger file's tail. The
 * board's thread only; not thread-safe.
 */
#ifndef SMART_HOST_BOARD_API_H
#define SMART_HOST_BOARD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board/board_queue.h"
#include "util/strbuf.h"

#define BOARD_KEEP_ALERTS       1000
#define BOARD_KEEP_DECISIONS    500
#define BOARD_KEEP_CHANGES      2000
#define BOARD_KEEP_CHECKPOINTS  100
#define BOARD_STATUS_LIMIT_MAX  1000          /* items per /api/status page */
#define BOARD_LEDGER_LIMIT_MAX  100           /* records per /api/ledger/recent */
#define BOARD_LEDGER_TAIL_BYTES (1024 * 1024) /* how much of the ledger's end is read */
#define BOARD_PENDING_BYTES     (16u << 20)   /* status lines held back before they are parsed */

typedef struct board_state board_state;

/* A new, empty state. `ledger_path` (borrowed, must outlive it) is read for
 * /api/ledger/recent; `pre` is the headroom each message gets (board_queue.h). Returns 0 or
 * -ENOMEM. */
int board_state_new(const char *ledger_path, size_t pre, board_state **out);

/* Free the state and the messages it keeps. NULL is ignored. */
void board_state_free(board_state *s);

/* The forms of a batch's WebSocket message: the JSON array as text, or deflated (zlib format,
 * RFC 1950) in a binary message, for clients that ask /ws?deflate=1. */
#define BOARD_FORM_TEXT    1u
#define BOARD_FORM_DEFLATE 2u

/* Take in a batch's output lines (`len` bytes of "{"topic":..,"data":..}\n" lines, borrowed),
 * durable through ledger seq `seq` at station time `now_ms`; `loop_ms` is the loop's clock,
 * stamped on each message (board_queue.h). On return out[0] (text) and out[1] (deflated) hold
 * the batch's one WebSocket message, a JSON array of its events, in each form `forms` asks for
 * (new references, owned by the caller), or NULL: when not asked for, or when the batch has
 * none of the board's events. Returns 0 or -ENOMEM (then out[] is NULL). */
int board_state_durable(board_state *s, const char *lines, size_t len, uint64_t seq, int64_t now_ms,
                        uint64_t loop_ms, unsigned forms, board_msg *out[2]);

/* Whether an output line (without its newline) is one the board takes in: status or one of its
 * events. Any thread (it reads only the line). */
bool board_line_wanted(const char *line, size_t len);

/* The message a client gets first: {"topic":"board.hello","seq":S} with the seq the board is
 * durable through. Returns a new reference or NULL (out of memory). */
board_msg *board_state_hello(board_state *s, uint64_t loop_ms);

/* One answer of the API. */
typedef struct board_answer {
    int status;               /* 200, 400 (bad query), 404 (no such path), 500 */
    const char *content_type; /* static */
    char why[256];            /* for 400/404/500: what was wrong (also the body's "error") */
} board_answer;

/* Answer GET `path` (borrowed, without the query) with the query `args` (`arg_count` strings
 * "name=value", already URL-decoded), appending the JSON body to `body`. Every 4xx body is
 * {"error": why}. Returns 0, or -ENOMEM (nothing sensible appended: answer 500). */
int board_state_answer(board_state *s, const char *path, const char *const *args, size_t arg_count,
                       strbuf *body, board_answer *answer);

#endif /* SMART_HOST_BOARD_API_H */
