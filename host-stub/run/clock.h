/*
 * clock.h — the node's clock (real or simulated) and RFC 3339 timestamps.
 *
 * A simulated clock starts at the time given by `--clock` and moves only when an input event
 * carries a later `time`, so a replay of the same events gives the same ledger and outputs.
 * The real clock follows CLOCK_REALTIME but never reports a time earlier than one it already
 * reported (a wall clock stepped back by NTP must not make the ledger run backwards).
 */
#ifndef SMART_HOST_CLOCK_H
#define SMART_HOST_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of "YYYY-MM-DDTHH:MM:SS.mmmZ" without its NUL. */
#define RFC3339_MS_LEN 24

typedef struct host_clock {
    bool simulated;
    int64_t now_ms; /* simulated: the current time; real: the latest time reported */
} host_clock;

/* Start a clock that follows the system's real time. */
void host_clock_init_real(host_clock *clock);

/* Start a simulated clock at `start_ms` (milliseconds since the Unix epoch, UTC). */
void host_clock_init_simulated(host_clock *clock, int64_t start_ms);

/* The clock's time in milliseconds since the Unix epoch, UTC; never less than a value it
 * returned before. Cannot fail. */
int64_t host_clock_now_ms(host_clock *clock);

/* Move a simulated clock forward to `time_ms`. Returns 0 (also when `time_ms` equals the
 * clock, and always for a real clock, which ignores event times) or -ERANGE when `time_ms` is
 * earlier than the clock; the clock is then unchanged. */
int host_clock_advance(host_clock *clock, int64_t time_ms);

/* Put the clock back to `time_ms` (used to undo an advance when the event that carried it is
 * rejected, so a rejected line changes nothing). Only meaningful for a simulated clock. */
void host_clock_restore(host_clock *clock, int64_t time_ms);

/* Parse an RFC 3339 date-time ("2025-02-13T08:00:00Z", "2025-02-13T09:00:00.5+01:00") into
 * milliseconds since the Unix epoch (fractions beyond milliseconds are truncated). `text` is
 * borrowed and NUL-terminated. Returns 0, or -EINVAL with why written to `why` (caller-owned,
 * `why_size` bytes; may be NULL): bad syntax, an impossible date such as 2025-02-30, a field
 * out of range. Years 0001-9999 only, for the text and for the instant it names in UTC (no
 * timestamp could be written for one outside); leap seconds (:60) are refused. Read by the
 * module's date_scan (plugin/core/dates.h), so the host and the module accept the same
 * timestamps as the same instants; the reasons keep the host's words. */
int rfc3339_parse(const char *text, int64_t *out_ms, char *why, size_t why_size);

/* Format `ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into `out` (caller-owned, at least
 * RFC3339_MS_LEN + 1 bytes). Times outside years 0001-9999 are clamped to that range. */
void rfc3339_format_ms(int64_t ms, char *out);

#endif /* SMART_HOST_CLOCK_H */
