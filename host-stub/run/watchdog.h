/*
 * watchdog.h — a thread that watches the module call the loop thread is in: a call that runs
 * past `warn_ms` is reported on standard error, naming the module, what it was called for and
 * the input line; one past `limit_ms` ends the host (exit HOST_EXIT_WATCHDOG) with that message,
 * so a supervisor restarts it rather than the station hanging. Nothing acknowledged is lost by
 * that exit: outputs are printed only once durable.
 *
 * watchdog_enter / watchdog_leave are called on the loop thread around each module call; the
 * watchdog's own thread reads what they wrote under its mutex. A call that ends past warn_ms
 * before the thread saw it is reported by watchdog_leave, so the warning never depends on when
 * the thread was scheduled.
 */
#ifndef SMART_HOST_WATCHDOG_H
#define SMART_HOST_WATCHDOG_H

#include <stdint.h>

typedef struct host_watchdog host_watchdog;

/* Start the thread. Returns 0 or a negative errno (then *out is NULL). */
int watchdog_start(uint64_t warn_ms, uint64_t limit_ms, host_watchdog **out);

/* [loop] A call of `module` begins: `call` ("on_event", "commit", ...), the event's `topic` and
 * `source` ("events.jsonl:12"), each NULL when there is none, are borrowed until watchdog_leave
 * (not copied: this runs for every call). No effect on NULL. */
void watchdog_enter(host_watchdog *w, const char *module, const char *call, const char *topic,
                    const char *source);

/* [loop] The call begun by watchdog_enter returned. No effect on NULL. */
void watchdog_leave(host_watchdog *w);

/* Stop and free (NULL is a no-op). */
void watchdog_stop(host_watchdog *w);

#endif /* SMART_HOST_WATCHDOG_H */
