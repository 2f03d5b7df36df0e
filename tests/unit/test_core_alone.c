/* test_core_alone.c — the pure core (plugin/core/) linked on its own: this program links with
 * the smart-core library, libc and libm and nothing else (no Check, no jansson, libuv, SQLite,
 * libyaml or ICU), so it builds only while the core needs none of them. It drives each core
 * file once: a fixed-offset zone made from its table, dates, decimals, and the gate's rule for
 * an item with a daily check. */
#include "core/dates.h"
#include "core/decimal.h"
#include "core/readiness.h"
#include "core/text.h"
#include "core/zone_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                    \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(void)
{
    /* A zone at +01:00, made from its table as zone/station_zone.c makes one. */
    zone_span span = {.from_ms = INT64_MIN, .offset_ms = (int32_t)(60 * MS_PER_MINUTE)};
    station_zone *zone = station_zone_from_spans("+01:00", &span, 1, INT64_MAX);
    EXPECT(zone != NULL);
    if (!zone)
        return 1;

    date_value t0;
    char why[128] = "";
    EXPECT(date_parse("2025-03-10T08:00:00Z", &t0, why, sizeof why) == 0 && t0.has_time);
    /* 23:30 UTC is already the next day at +01:00; that day ends at 23:00 UTC. */
    int64_t late = t0.instant_ms + 15 * MS_PER_HOUR + 30 * MS_PER_MINUTE;
    EXPECT(station_zone_day(zone, late) == t0.day + 1);
    EXPECT(station_zone_next_day_start_ms(zone, late) ==
           (t0.day + 1) * MS_PER_DAY + 23 * MS_PER_HOUR);

    decimal limit;
    EXPECT(decimal_from_double(4.52, &limit));

    contract owner = {.contract_id = "C-1", .version = 2};
    check_step step = {.step_id = "uv_a",
                       .is_reading = true,
                       .unit = "uW/cm2",
                       .has_min = true,
                       .min = 1200,
                       .low = {.mantissa = 12, .exponent = 2}};
    procedure daily = {.procedure_id = "DAILY",
                       .frequency = FREQ_DAYS,
                       .every = 1,
                       .frequency_label = "daily",
                       .required_before_test = true,
                       .steps = &step,
                       .step_count = 1,
                       .owner = &owner};
    contract_item item = {.equipment_id = "LAMP",
                          .terms = {.interval_days = 365, .warning_days = 0},
                          .procedures = {&daily},
                          .procedure_count = 1,
                          .owner = &owner};
    cal_record record = {.has_calibration = true, .calibrated_on = t0.day - 30};
    check_state done = {.equipment_id = "LAMP",
                        .procedure_id = "DAILY",
                        .performed_ms = t0.instant_ms,
                        .passed = true,
                        .steps_known = true,
                        .step_count = 1};
    done.steps[0] =
        (check_step_answer){.step_id = "uv_a", .taken = true, .has_value = true, .value = 1250};
    const check_state *checks[1] = {&done};
    readiness_input in = {.terms = &item,
                          .record = &record,
                          .checks = checks,
                          .now_ms = t0.instant_ms + MS_PER_HOUR,
                          .zone = zone};
    readiness r;
    readiness_assess(&in, &r);
    EXPECT(r.ready);
    EXPECT(r.checks[0].valid_until_ms == (t0.day + 1) * MS_PER_DAY - MS_PER_HOUR);

    /* The same check judged under a raised limit: not a pass any more, and the reason says so. */
    step.low = (decimal){.mantissa = 13, .exponent = 2};
    readiness_assess(&in, &r);
    EXPECT(!r.ready);
    EXPECT(strstr(r.reason, "uv_a 1250 uW/cm2 outside min 1300 uW/cm2 under contract C-1 v2"));

    /* The step's and a tolerance's judgements as the handlers record them. */
    char limit_text[96], failure[200];
    check_step_answer low = {.step_id = "uv_a", .taken = true, .has_value = true, .value = 1100};
    EXPECT(!check_step_judge(&step, &low, limit_text, sizeof limit_text, failure, sizeof failure));
    EXPECT(strcmp(failure, "uv_a 1100 uW/cm2 outside min 1300 uW/cm2") == 0);
    tolerance mass = {.parameter = "mass",
                      .unit = "kg",
                      .has_min = true,
                      .has_max = true,
                      .low = {.mantissa = 452, .exponent = -2},
                      .high = {.mantissa = 456, .exponent = -2}};
    result_verdict verdict = {0};
    tolerance_judge_result(&mass, "mass", true, 4.57, true, 4.52, &verdict);
    EXPECT(verdict.found_out && !verdict.left_out);
    EXPECT(strcmp(verdict.found_note, "mass as found 4.57 outside 4.52 to 4.56 kg") == 0);

    /* One reader for the module and the host: a leap second is refused, not read as :59. */
    date_value leap;
    EXPECT(date_scan("2016-12-31T23:59:60Z", &leap) == DATE_FAULT_LEAP_SECOND);
    EXPECT(date_parse("2016-12-31T23:59:60Z", &leap, why, sizeof why) == -1);
    EXPECT(strcmp(why, "no such time of day (leap seconds are not accepted)") == 0);
    EXPECT(date_scan("2025-02-13T08:00:00Z junk", &leap) == DATE_FAULT_TRAILING);

    char text[8] = "";
    text_append(text, sizeof text, "; ", "a");
    EXPECT(strcmp(text, "a") == 0);

    station_zone_free(zone);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
