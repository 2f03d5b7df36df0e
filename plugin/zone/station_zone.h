/* station_zone.h — the station's civil time: which local day an instant falls on, and when a
 * local day (or a time of it) begins, under a fixed offset or an IANA time zone that follows
 * daylight saving.
 *
 * A zone's rules come from ICU when the zone is opened: its offset transitions over a wide
 * range are read once into a sorted table, and ICU is not used again. Every lookup is then a
 * pure function of the table and plain values: const, no allocation, no I/O, thread-safe
 * (many threads may read one zone at once). A zone is immutable from open to free. */
#ifndef SMART_STATION_ZONE_H
#define SMART_STATION_ZONE_H

#include "core/dates.h"
#include "smart_plugin.h"

#include <stdint.h>

#define STATION_ZONE_NAME_MAX 64 /* longest IANA name accepted, with its NUL */

typedef struct station_zone station_zone;

/* Opens the IANA zone `name` ("Europe/Berlin"; exact spelling, as ICU knows it). On success
 * *out is a new zone the caller frees with station_zone_free. Returns 0; SMART_EINVAL when ICU
 * does not know the name as a system zone (err names `field` and the value); SMART_ENOMEM. */
int station_zone_open(const char *name, const char *field, station_zone **out, smart_error *err);

/* A zone at a fixed offset from UTC (minutes east, |offset| < 24 h), named like "+02:00".
 * Returns 0 (*out to free with station_zone_free), SMART_EINVAL or SMART_ENOMEM. */
int station_zone_fixed(int offset_minutes, station_zone **out, smart_error *err);

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

/* The instant of `minutes` after local midnight of `day` as a clock on the wall reads it
 * (0 <= minutes < 1440). A wall time skipped by a gap is the instant the gap ends (the first
 * valid one after it); a wall time that occurs twice (clocks put back) is its first occurrence. */
int64_t station_zone_local_ms(const station_zone *z, civil_day day, int minutes);

#endif
