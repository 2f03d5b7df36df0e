/*
 * ship_live.h — the running host ships its ledger to the fleet database (NODE.json
 * "ship": {"to": "postgresql://..."}; README "Fleet"), on a thread of its own.
 *
 * Only records already durable are shipped: the loop thread says, after each batch's sync,
 * which seq the ledger is durable through (ship_live_durable), and the shipper never reads a
 * line past it (fleet_shipper_round's max_seq), so a crash of the station can never leave the
 * database holding a record the station's disk does not. The loop thread only takes a lock
 * and signals a condition: a database that is slow, down or refusing never delays the gate or
 * an acknowledgement. The shipper keeps one connection and its position (fleet.h) between
 * rounds; a database that is down is retried with back-off (100 ms doubling to 5 s), said
 * once on stderr when it goes down and once when it is back. A refusal (a fork, a rewrite:
 * the database raised an alert naming node and seq) or a role that is not this node's stops
 * shipping for the run, said on stderr; the station works on. A database ahead of the ledger
 * (FLEET_EAHEAD) is said once, and shipping goes on as the ledger grows (the database judges
 * each new record against what it holds).
 *
 * Each transaction that stored records is reported to the loop thread (a uv_async_t), which
 * hands `report` the data of a `ledger.shipped` output event:
 *   {"node_id","seq","hash","to","stored"} — the database's head, the URI without a password,
 *   the records stored by this run's shipper so far.
 *
 * Threads: every function here is called on the loop thread; `report` runs there too.
 */
#ifndef SMART_HOST_SHIP_LIVE_H
#define SMART_HOST_SHIP_LIVE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ship_live ship_live;

/* `data` (`len` bytes, one-line JSON object text) is borrowed for the call. */
typedef void (*ship_live_report)(void *arg, const char *data, size_t len);

/* Start shipping the ledger at `ledger_path` to `url` as node `node_id` (all borrowed for the
 * shipper's life; copied). Nothing is shipped before the first ship_live_durable. Returns 0
 * and the shipper in *out (owned by the caller: ship_live_close, then ship_live_free), or a
 * negative errno (-ENOMEM, or libuv's) with `msg` (caller-owned) saying why. */
int ship_live_start(uv_loop_t *loop, const char *ledger_path, const char *url, const char *node_id,
                    ship_live_report report, void *arg, ship_live **out, char *msg,
                    size_t msg_size);

/* The ledger is durable through record `seq`: ship up to it. Cheap (a lock and a signal). */
void ship_live_durable(ship_live *s, uint64_t seq);

/* Stop: the thread ships what is durable once more when the database was reachable at its
 * last round, for 2 s at most (a database that hangs is then given up: the next run ships the
 * rest), is joined, the last landing is reported, and the async handle is closed (it closes as
 * the loop runs on). NULL and a second call are ignored. */
void ship_live_close(ship_live *s);

/* Free a closed shipper once the loop has run its close callbacks (after uv_run). NULL is
 * ignored. */
void ship_live_free(ship_live *s);

#endif /* SMART_HOST_SHIP_LIVE_H */
