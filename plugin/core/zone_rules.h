/* zone_rules.h — a time zone as an immutable table of its offsets from UTC, and the lookups on
 * it: which local day an instant falls on, and when a local day (or a time of it) begins.
 *
 * The table is filled once when a zone is opened (zone/station_zone.h reads it from ICU, or
 * builds a fixed offset); every lookup is then a pure function of the table and plain values:
 * const, no allocation, no I/O, thread-safe (many threads may read one zone at once). A zone is
 * immutable from its making to station_zone_free. */
#ifndef SMART_ZONE_RULES_H
#define SMART_ZONE_RULES_H

#include "core/dates.h"

#include <stddef.h>
#include <stdint.h>

#define STATION_ZONE_NAME_MAX 64 /* longest IANA name accepted, with its NUL */

typedef struct station_zone station_zone;

/* From `from_ms` (inclusive) until the next span's from_ms, the offset is `offset_ms`. */
typedef struct zone_span {
    int64_t from_ms;
    int32_t offset_ms; /* |offset_ms| < MS_PER_DAY: the lookups rely on it */
} zone_span;

/* A new zone named `name` (copied, cut at STATION_ZONE_NAME_MAX - 1 bytes) holding a copy of
 * `spans` (count >= 1, sorted by from_ms, spans[0].from_ms INT64_MIN). Instants at or after
 * `period_end_ms` (INT64_MAX: none) are moved back by whole 400-year periods before the lookup,
 * so the table's last years, where only a zone's recurring rule holds, stand for every later
 * year. Returns the zone (free it with station_zone_free), or NULL when out of memory. */
station_zone *station_zone_from_spans(const char *name, const zone_span *spans, size_t count,
                                      int64_t period_end_ms);

void station_zone_free(station_zone *z);

/* The zone's name: the IANA name, or the fixed offset as "+HH:MM". Lives as long as z. */
const char *station_zone_name(const station_zone *z);

/* The offset from UTC (ms east) in force at an instant. */
int32_t station_zone_offset_ms(const station_zone *z, int64_t instant_ms);

/* The local calendar day an instant falls on. */
civil_day station_zone_day(const station_zone *z, int64_t instant_ms);

/* The instant the local day `day` begins: its local midnight, or, when midnight falls in a gap
 * (clocks put forward over it), the first instant that exists on that day. */
int64_t station_zone_day_start_ms(const station_zone *z, civil_day day);

/* The instant the local day after the one `instant_ms` falls on begins: when "today", for the
 * station, ends. */
int64_t station_zone_next_day_start_ms(const station_zone *z, int64_t instant_ms);

/* The instant of `minutes` after local midnight of `day` as a clock on the wall reads it
 * (0 <= minutes < 1440). A wall time skipped by a gap is the instant the gap ends (the first
 * valid one after it); a wall time that occurs twice (clocks put back) is its first occurrence. */
int64_t station_zone_local_ms(const station_zone *z, civil_day day, int minutes);

#endif
