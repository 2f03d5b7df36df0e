/*
 * crash_guard.h — name the module and the event behind a fatal signal, and set aside an event
 * that crashed the host twice (issue 11, defect 6).
 *
 * Before each call into a module the host describes the call (crash_guard_enter): the text a
 * fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes is formatted then, so the
 * handler only calls write(2): one line on standard error naming the module, the input line
 * and the topic, and one JSON line (module, source, line, topic, data, signal) appended to
 * "<ledger>.crash". It then restores the signal's previous action and raises it again, so the
 * host still dies of the signal (exit 128+N, a core if enabled) and its supervisor restarts it.
 *
 * Why a note written at the crash rather than an "in-flight" note written before each call:
 * it costs no I/O per event, and the crashes it must catch (a module's fatal signal) all run
 * the handler. What it cannot see (SIGKILL, a power cut) is not a module's crash by signal.
 *
 * At the next start (crash_guard_start) each crash in "<ledger>.crash" is recorded in the
 * ledger (host.crashed) and appended to "<ledger>.crashes.jsonl", the station's crash history;
 * an event (its topic and data, compared as canonical JSON) with two or more crashes in the
 * history is set aside in "<ledger>.quarantine.jsonl" (an event.quarantined record and an
 * alert), and from then on refused (crash_guard_quarantined) instead of delivered. An operator
 * releases it by deleting its line from "<ledger>.quarantine.jsonl" while the host is stopped
 * (README, "Crashes and quarantined events").
 *
 * Thread: every function but the _decode pair on the loop thread; the handler on whichever
 * thread faults (a fault on another thread is reported as such, with no note: it is not the
 * loop's current call; a fault in a decode_event is named as the decode's). One
 * guard per process (signal handlers are per process).
 *
 * Every call into a module is described: on_event with its event (crash_guard_enter), init,
 * commit and shutdown by what it was (crash_guard_enter_call; a crash there is recorded at the
 * next start, never quarantined: there is no event to set aside). A fault outside any call (a
 * callback of a module's own handle on the host's loop: a timer, a watch) is named by where it
 * happened (crash_guard_image): the module whose image holds the faulting instruction or, for a
 * fault inside a library it called, the nearest return address on the loop thread's stack.
 * Anything else says "outside any module call".
 */
#ifndef SMART_HOST_CRASH_GUARD_H
#define SMART_HOST_CRASH_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct crash_guard crash_guard;

/* Where crash_guard_start puts what it records: a ledger record and an alert of the start's
 * batch, reached through these so that the guard does not call back into the batch that calls
 * it (batch.c enters and leaves the guard around module calls). `record` and `alert` return 0
 * or negative, as host_batch_record and host_batch_alert; `node_id` and `station_type` name the
 * station in the alert, `now_ms` is the start's time. All borrowed for the call. */
typedef struct crash_guard_sink {
    int (*record)(void *arg, const char *action, const char *target, const char *details,
                  const char *metadata_json);
    int (*alert)(void *arg, const char *alert, size_t len);
    void *arg;
    const char *node_id;
    const char *station_type;
    int64_t now_ms;
} crash_guard_sink;

/* Read and clear what the last run's crash left for the ledger at `ledger_path` (borrowed), with
 * its records and alerts handed to `sink` (the start's batch), load the quarantine, open
 * "<ledger>.crash" for the handler and install the handlers. Call it holding the station lock.
 * Returns 0 with *out (free with crash_guard_stop), or SMART_EIO / SMART_ENOMEM with `msg`
 * (caller-owned) naming the file. */
int crash_guard_start(const char *ledger_path, const crash_guard_sink *sink, size_t module_count,
                      crash_guard **out, char *msg, size_t msg_size);

/* A call into module `module` is next, for the event `topic` with `data` (`data_len` bytes,
 * JSON object text) from `source` ("<input>:<line>") at input line `line_no` (0: posted). All
 * borrowed; they must stay valid until crash_guard_leave. Safe on NULL `g`. */
void crash_guard_enter(crash_guard *g, const char *module, const char *source, uint64_t line_no,
                       const char *topic, const char *data, size_t data_len);

/* A call into module `module` that is not an event's is next: `call` ("init", "commit",
 * "shutdown"). Both borrowed until crash_guard_leave. Safe on NULL `g`. */
void crash_guard_enter_call(crash_guard *g, const char *module, const char *call);

/* [the parse-ahead thread] A module's decode_event is next there (event_parse.h), for the
 * event `topic` with `data` (`data_len` bytes) from `source` at input line `line_no`; all
 * borrowed until crash_guard_leave_decode. A fatal signal on that thread during it writes
 * "module M crashed in its decode_event of SOURCE (topic T, on the parse-ahead thread)" and a
 * note the next start records (host.crashed, call "decode_event") and counts towards the
 * event's quarantine as a crash in on_event does. One such call at a time (batches are prepared
 * one at a time: event_input.h). Safe on NULL `g`. */
void crash_guard_enter_decode(crash_guard *g, const char *module, const char *source,
                              uint64_t line_no, const char *topic, const char *data,
                              size_t data_len);

/* [the parse-ahead thread] The decode_event call is over. Safe on NULL. */
void crash_guard_leave_decode(crash_guard *g);

/* Module number `index` (< the start's module_count) named `module` (copied; NULL: none any
 * more) has its image at [lo, hi) (module_image_span); call it again whenever that changes. Safe
 * on NULL `g`. */
void crash_guard_image(crash_guard *g, size_t index, const char *module, uintptr_t lo,
                       uintptr_t hi);

/* The call is over. Safe on NULL. */
void crash_guard_leave(crash_guard *g);

/* Whether the event `topic`/`data` is quarantined; when it is, `why` (caller-owned) says so.
 * Safe on NULL (false). [any thread] The quarantine only changes in crash_guard_start, before
 * any input is read, so the loop thread and the parse-ahead thread (which leaves a quarantined
 * event undecoded: its decoding may be what crashed) may both ask. */
bool crash_guard_quarantined(const crash_guard *g, const char *topic, const char *data,
                             size_t data_len, char *why, size_t why_size);

/* Restore the signals' previous actions, close the note, free `g`. Safe on NULL. */
void crash_guard_stop(crash_guard *g);

#endif /* SMART_HOST_CRASH_GUARD_H */
