/* zone_rules.c — the lookups on a zone's table of offsets: which local day an instant falls on,
 * and when a local day (or a time of it) begins. Pure functions of the table. */
#include "core/zone_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 400 Gregorian years are exactly 146097 days (a whole number of weeks), so a rule such as
 * "last Sunday of March, 01:00 UTC" repeats with this period. */
#define PERIOD_MS (INT64_C(146097) * MS_PER_DAY)

struct station_zone {
    char name[STATION_ZONE_NAME_MAX];
    int64_t period_end_ms; /* instants at or after it are reduced by whole periods; INT64_MAX: no */
    size_t count;          /* >= 1; spans[0].from_ms is INT64_MIN */
    zone_span spans[];     /* sorted by from_ms; neighbours differ in offset */
};

station_zone *station_zone_from_spans(const char *name, const zone_span *spans, size_t count,
                                      int64_t period_end_ms)
{
    station_zone *z = malloc(sizeof *z + count * sizeof *spans);
    if (!z)
        return NULL;
    snprintf(z->name, sizeof z->name, "%s", name);
    z->period_end_ms = period_end_ms;
    z->count = count;
    memcpy(z->spans, spans, count * sizeof *spans);
    return z;
}

void station_zone_free(station_zone *z)
{
    free(z);
}

const char *station_zone_name(const station_zone *z)
{
    return z->name;
}

/* Moves t (an instant, or a wall time: both are kept away from the end by `margin`) back by
 * whole periods into the table; *shift says by how much. */
static int64_t reduce(const station_zone *z, int64_t t, int64_t margin, int64_t *shift)
{
    *shift = 0;
    int64_t end = z->period_end_ms == INT64_MAX ? INT64_MAX : z->period_end_ms - margin;
    if (t < end)
        return t;
    *shift = ((t - end) / PERIOD_MS + 1) * PERIOD_MS;
    return t - *shift;
}

/* The index of the span holding instant t (in the table's range). */
static size_t span_at(const station_zone *z, int64_t t)
{
    size_t low = 0, high = z->count; /* spans[low].from_ms <= t < spans[high].from_ms */
    while (high - low > 1) {
        size_t mid = low + (high - low) / 2;
        if (z->spans[mid].from_ms <= t)
            low = mid;
        else
            high = mid;
    }
    return low;
}

int32_t station_zone_offset_ms(const station_zone *z, int64_t instant_ms)
{
    int64_t shift;
    return z->spans[span_at(z, reduce(z, instant_ms, 0, &shift))].offset_ms;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

civil_day station_zone_day(const station_zone *z, int64_t instant_ms)
{
    int64_t shift;
    int64_t t = reduce(z, instant_ms, 0, &shift);
    int64_t local = t + z->spans[span_at(z, t)].offset_ms;
    return (civil_day)(floor_div(local, MS_PER_DAY) + shift / MS_PER_DAY);
}

/* The instant at which a wall clock reads `wall_ms` (local time as ms since 1970-01-01 local):
 * the first such instant, or the end of the gap that skips it. */
static int64_t instant_of_wall(const station_zone *z, int64_t wall_ms)
{
    int64_t shift;
    /* Every candidate instant lies within a day of the wall time (|offset| < 1 day), so keep
     * two days clear of the table's end. */
    int64_t wall = reduce(z, wall_ms, 2 * MS_PER_DAY, &shift);
    size_t first = span_at(z, wall - MS_PER_DAY);
    for (size_t j = first; j < z->count && (j == first || z->spans[j].from_ms <= wall + MS_PER_DAY);
         j++) {
        int64_t from = z->spans[j].from_ms;
        int64_t until = j + 1 < z->count ? z->spans[j + 1].from_ms : INT64_MAX;
        int64_t t = wall - z->spans[j].offset_ms;
        if (from <= t && t < until)
            return t + shift; /* spans are in order: the first that holds is the earliest */
        if (j + 1 < z->count && wall >= until + z->spans[j].offset_ms &&
            wall < until + z->spans[j + 1].offset_ms)
            return until + shift; /* skipped by the clocks going forward at `until` */
    }
    return wall - z->spans[first].offset_ms + shift; /* not reached with a valid table */
}

int64_t station_zone_day_start_ms(const station_zone *z, civil_day day)
{
    return instant_of_wall(z, (int64_t)day * MS_PER_DAY);
}

int64_t station_zone_local_ms(const station_zone *z, civil_day day, int minutes)
{
    return instant_of_wall(z, (int64_t)day * MS_PER_DAY + (int64_t)minutes * MS_PER_MINUTE);
}

int64_t station_zone_next_day_start_ms(const station_zone *z, int64_t instant_ms)
{
    return station_zone_day_start_ms(z, station_zone_day(z, instant_ms) + 1);
}
