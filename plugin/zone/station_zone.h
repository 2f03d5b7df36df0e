/* station_zone.h — opening the station's civil time: an IANA time zone, whose rules (daylight
 * saving included) ICU reads once into the table of core/zone_rules.h, or a fixed offset. The
 * lookups on an open zone are in core/zone_rules.h. */
#ifndef SMART_STATION_ZONE_H
#define SMART_STATION_ZONE_H

#include "core/zone_rules.h"
#include "smart_plugin.h"

#include <stdint.h>

/* Opens the IANA zone `name` ("Europe/Berlin"; exact spelling, as ICU knows it). On success
 * *out is a new zone the caller frees with station_zone_free. Returns 0; SMART_EINVAL when ICU
 * does not know the name as a system zone (err names `field` and the value); SMART_ENOMEM. */
int station_zone_open(const char *name, const char *field, station_zone **out, smart_error *err);

/* A zone at a fixed offset from UTC (minutes east, |offset| < 24 h), named like "+02:00".
 * Returns 0 (*out to free with station_zone_free), SMART_EINVAL or SMART_ENOMEM. */
int station_zone_fixed(int offset_minutes, station_zone **out, smart_error *err);

/* The version of the tz database ICU reads zones from ("2025b"), or "?" when ICU cannot say.
 * A static string of ICU's, valid for the life of the process. */
const char *station_zone_tzdata_version(void);

#endif
