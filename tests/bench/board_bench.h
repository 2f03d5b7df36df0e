/*
 * board_bench.h — smart-bench --board-clients N: events/s and the host's CPU time of the same
 * station without the status board and with it, N WebSocket clients reading and one that never
 * reads connected, in the same run (alternating, so both see the same machine load).
 */
#ifndef SMART_BENCH_BOARD_BENCH_H
#define SMART_BENCH_BOARD_BENCH_H

#include <stdbool.h>

/* `dir` holds the generated station (NODE.json, contracts/, events.jsonl with `events`
 * lines); `reset(dir)` removes its var/ before each run. Prints each run and the medians.
 * Returns whether every run succeeded. */
bool board_bench(const char *host, const char *dir, const char *clock_text, long events,
                 int clients, int runs, void (*reset)(const char *dir));

#endif
