/*
 * watchdog.h — a thread that watches the loop thread for module code that holds it: a module call
 * (watchdog_enter) or a callback of a module's own handle (a timer it started on the host's loop,
 * a directory watch: code the host never calls itself) that runs past `warn_ms` is reported on
 * standard error, naming the module and what it was doing; one past `limit_ms` ends the host
 * (exit HOST_EXIT_WATCHDOG) with that message, so a supervisor restarts it rather than the
 * station hanging. Nothing acknowledged is lost by that exit: outputs are printed only once
 * durable, and the ledger is written by the loop thread, which is held by the module then.
 *
 * A module's own callbacks cannot be wrapped (it adds handles to the loop directly), so they are
 * found by elimination (watchdog_watch_loop): time on the loop thread that is neither a module
 * call, nor the host's own work (watchdog_host_begin), nor a wait in the loop's poll (libuv's idle
 * time, UV_METRICS_IDLE_TIME), in one stretch since the loop last came back to the host
 * (watchdog_beat), is a module's callback. Which module's is told by the loop thread at each beat
 * (watchdog_suspects: the modules with a timer due or a handle active), else the last module
 * called is named.
 *
 * Stop signals (watchdog_obey_signals): SIGINT and SIGTERM end the host within a bounded time
 * whatever a module does. When the loop thread is held by a module when one comes, or is taken
 * by one after it, for longer than WATCHDOG_STOP_GRACE_MS, the host ends (exit HOST_EXIT_WATCHDOG)
 * naming the signal and the module; a second signal while it is held ends it at once, dead by
 * that signal. A host still running `stop_limit_ms` after the first signal is ended whatever
 * holds it. The signals are taken on the watchdog's thread (the caller blocks them on the
 * loop thread), so they are seen even while the loop thread spins.
 *
 * Threads: every function but watchdog_start, watchdog_stop and the _worker pair on the loop
 * thread; the watchdog's own thread reads what they wrote under its mutex. A call that ends past
 * warn_ms before the thread saw it is reported by watchdog_leave (watchdog_leave_worker), so the
 * warning never depends on when the thread was scheduled. One watchdog obeys the signals per
 * process.
 */
#ifndef SMART_HOST_WATCHDOG_H
#define SMART_HOST_WATCHDOG_H

#include <stdint.h>
#include <uv.h>

/* How long a module may go on holding the loop thread after SIGINT/SIGTERM: as long as a stalled
 * standard output is given (output_writer.h), so a stop ends the host within about that. */
#define WATCHDOG_STOP_GRACE_MS 2000

typedef struct host_watchdog host_watchdog;

/* Start the thread. `stop_limit_ms`: a host still running that long after a stop signal is
 * ended (exit HOST_EXIT_WATCHDOG), whatever holds it, also where no module holds the loop thread
 * (the input waiting for a decode_event that is not yet past limit_ms): give it more than the
 * shutdown's own deadline. Returns 0 or a negative errno (then *out is NULL). */
int watchdog_start(uint64_t warn_ms, uint64_t limit_ms, uint64_t stop_limit_ms,
                   host_watchdog **out);

/* [loop] A call of `module` begins: `call` ("on_event", "commit", ...), the event's `topic` and
 * `source` ("events.jsonl:12"), each NULL when there is none, are borrowed until watchdog_leave
 * (not copied: this runs for every call). It may be made inside host work. No effect on NULL. */
void watchdog_enter(host_watchdog *w, const char *module, const char *call, const char *topic,
                    const char *source);

/* [loop] The call begun by watchdog_enter returned. No effect on NULL. */
void watchdog_leave(host_watchdog *w);

/* [the parse-ahead thread] A call of `module` there begins (its decode_event, which the input
 * runs on a libuv threadpool thread before the loop takes the batch: event_parse.h), watched as
 * the loop thread's calls are: reported past warn_ms, the host ended past limit_ms, naming
 * "module M: decode_event of TOPIC from SOURCE (on the parse-ahead thread)". All borrowed until
 * watchdog_leave_worker. One such call at a time (batches are prepared one at a time:
 * event_input.h). No effect on NULL. */
void watchdog_enter_worker(host_watchdog *w, const char *module, const char *call,
                           const char *topic, const char *source);

/* [the parse-ahead thread] The call begun by watchdog_enter_worker returned. No effect on
 * NULL. */
void watchdog_leave_worker(host_watchdog *w);

/* [loop] The host's own code runs (a callback of one of its handles), until the matching
 * watchdog_host_end; they nest. Module calls inside it are watched as calls. No effect on NULL. */
void watchdog_host_begin(host_watchdog *w);
void watchdog_host_end(host_watchdog *w);

/* [loop] From now on, also watch `loop` (borrowed until watchdog_unwatch_loop) for module
 * callbacks outside any host call, as above. The loop must collect its idle time
 * (uv_loop_configure UV_METRICS_IDLE_TIME, done before it first ran); returns 0, or a negative
 * libuv code when it cannot (then only module calls are watched). No effect on NULL (0). */
int watchdog_watch_loop(host_watchdog *w, uv_loop_t *loop);

/* [loop] Stop watching the loop (before it is closed). No effect on NULL. */
void watchdog_unwatch_loop(host_watchdog *w);

/* [loop] The loop came back to the host (a prepare or check handle's callback). No effect on
 * NULL. */
void watchdog_beat(host_watchdog *w);

/* [loop] Who would hold the loop if it were held now outside any host call: `text` (copied;
 * "module NAME (a timer)", or a list), or NULL when no module has a handle there; then the last
 * module called is named. No effect on NULL. */
void watchdog_suspects(host_watchdog *w, const char *text);

/* [loop] Take SIGINT and SIGTERM: this watchdog's handler runs first, then the one there before
 * (libuv's signal watchers, the output writer's: call it after them). The caller blocks both
 * signals on the loop thread (and the threads it starts after), so that they reach the watchdog's
 * thread. No effect on NULL, or when another watchdog obeys already. */
void watchdog_obey_signals(host_watchdog *w);

/* [loop] Put the handlers back as they were. No effect on NULL or when it does not obey. */
void watchdog_release_signals(host_watchdog *w);

/* Stop and free (NULL is a no-op). The loop must no longer be watched nor the signals obeyed. */
void watchdog_stop(host_watchdog *w);

#endif /* SMART_HOST_WATCHDOG_H */
