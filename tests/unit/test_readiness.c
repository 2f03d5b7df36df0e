/* The gate's rules (core/readiness.h), on their own: how long a check stays valid (hours, local
 * days, shifts); a required check never done, lapsed or failed blocks, and a failed check blocks
 * whether or not its procedure is required before a test, until it passes again; a lapse before
 * the job's planned end blocks or warns as the contract says; the reasons, calibration first;
 * the limits, exact on their bounds. */
#include "check_main.h"
#include "core/readiness.h"
#include "zone/station_zone.h"

#include <math.h>
#include <string.h>

#define HOUR INT64_C(3600000)
#define T0   INT64_C(1741593600000) /* 2025-03-10T08:00:00Z */

static contract owner = {.shift_count = 0};

typedef struct fixture {
    station_zone *zone;
    procedure required, optional;
    contract_item item;
    cal_record record;
} fixture;

static void setup(fixture *f)
{
    memset(f, 0, sizeof *f);
    smart_error err = {0};
    ck_assert_int_eq(station_zone_fixed(0, &f->zone, &err), 0);
    f->required = (procedure){.procedure_id = "DAILY",
                              .frequency = FREQ_DAYS,
                              .every = 1,
                              .frequency_label = "daily",
                              .required_before_test = true,
                              .owner = &owner};
    f->optional = (procedure){.procedure_id = "LIFT",
                              .frequency = FREQ_DAYS,
                              .every = 7,
                              .frequency_label = "weekly",
                              .required_before_test = false,
                              .owner = &owner};
    f->item = (contract_item){.terms = {.interval_days = 365, .warning_days = 0},
                              .procedures = {&f->required, &f->optional},
                              .procedure_count = 2,
                              .owner = &owner};
    /* calibrated 2025-01-01: current */
    f->record = (cal_record){.has_calibration = true,
                             .calibrated_on = station_zone_day(f->zone, T0 - 68 * 24 * HOUR)};
}

static readiness assess(fixture *f, const check_state *daily, const check_state *lift, int64_t now)
{
    const check_state *checks[2] = {daily, lift};
    readiness_input in = {
        .terms = &f->item, .record = &f->record, .checks = checks, .now_ms = now, .zone = f->zone};
    readiness r;
    readiness_assess(&in, &r);
    return r;
}

static check_state check(const char *procedure, int64_t when, bool passed, const char *detail)
{
    check_state c = {.performed_ms = when, .passed = passed};
    strcpy(c.equipment_id, "Y");
    strcpy(c.procedure_id, procedure);
    strcpy(c.detail, detail);
    return c;
}

START_TEST(a_failed_check_not_required_before_a_test_blocks_until_it_passes)
{
    fixture f;
    setup(&f);
    check_state daily = check("DAILY", T0, true, "");
    /* never done, not required: ready */
    readiness r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert(r.ready);
    ck_assert_uint_eq(r.check_count, 1);
    /* failed: not ready, naming the procedure and what failed, and listed among the checks */
    check_state lift = check("LIFT", T0 + HOUR, false, "lifted_mass 2.1 kg outside min 4.5 kg");
    r = assess(&f, &daily, &lift, T0 + 2 * HOUR);
    ck_assert(!r.ready);
    ck_assert_ptr_nonnull(strstr(r.reason, "weekly check LIFT failed at 2025-03-10T09:00:00Z: "
                                           "lifted_mass 2.1 kg outside min 4.5 kg"));
    ck_assert_uint_eq(r.check_count, 2);
    ck_assert(!r.checks[1].ok);
    /* a failure does not lapse */
    r = assess(&f, &daily, &lift, T0 + 20 * 24 * HOUR);
    ck_assert(!r.ready);
    /* passed again: ready; and its pass lapsing later does not block */
    lift = check("LIFT", T0 + 3 * HOUR, true, "");
    r = assess(&f, &daily, &lift, T0 + 4 * HOUR);
    ck_assert(r.ready);
    daily = check("DAILY", T0 + 20 * 24 * HOUR, true, "");
    r = assess(&f, &daily, &lift, T0 + 20 * 24 * HOUR + HOUR);
    ck_assert(r.ready);
    station_zone_free(f.zone);
}
END_TEST

START_TEST(a_suspect_failure_fails_and_a_suspect_pass_is_not_done)
{
    fixture f;
    setup(&f);
    check_state daily =
        check("DAILY", T0, false, "v 0 outside min 1; suspect: reference R not fit");
    daily.suspect = true;
    readiness r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert(!r.ready);
    ck_assert_ptr_nonnull(strstr(r.reason, "daily check DAILY failed"));
    /* A suspect pass is never kept as the last check; were one handed in, it is not done. */
    daily = check("DAILY", T0, true, "");
    daily.suspect = true;
    r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert(!r.ready);
    ck_assert_ptr_nonnull(strstr(r.reason, "required daily check DAILY not done"));
    ck_assert_int_eq(check_state_valid_until(&f.required, &daily, f.zone), T0);
    station_zone_free(f.zone);
}
END_TEST

/* A pass kept with its answers is judged against the procedure in force: a limit raised, or
 * a step added, makes it no pass (naming the step, the value, the limit and the contract
 * version); a check whose answers are not known stands as recorded. */
START_TEST(a_pass_is_judged_again_under_the_procedure_in_force)
{
    fixture f;
    setup(&f);
    contract terms = {.contract_id = "MT-CAL-001", .version = 3};
    check_step steps[2] = {
        {.step_id = "uv_a_irradiance", .is_reading = true, .unit = "uW/cm2", .has_min = true},
        {.step_id = "warm_up_done", .is_reading = false},
    };
    ck_assert(decimal_from_double(1000, &steps[0].low));
    f.required.steps = steps;
    f.required.step_count = 1;
    f.required.owner = &terms;
    check_state daily = check("DAILY", T0, true, "");
    daily.steps_known = true;
    daily.step_count = 1;
    strcpy(daily.steps[0].step_id, "uv_a_irradiance");
    daily.steps[0].taken = daily.steps[0].has_value = true;
    daily.steps[0].value = 1100;
    readiness r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert(r.ready);
    /* the minimum raised to 1200: not passed under the terms in force, valid for no time */
    ck_assert(decimal_from_double(1200, &steps[0].low));
    r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert(!r.ready);
    ck_assert_ptr_nonnull(strstr(r.reason, "DAILY: uv_a_irradiance 1100 uW/cm2 outside min 1200 "
                                           "uW/cm2 under contract MT-CAL-001 v3"));
    ck_assert_int_eq(check_state_valid_until(&f.required, &daily, f.zone), T0);
    /* a limit that is met again, and a step added that the check has no answer for */
    ck_assert(decimal_from_double(1100, &steps[0].low));
    f.required.step_count = 2;
    r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert(!r.ready);
    ck_assert_ptr_nonnull(strstr(r.reason, "DAILY: warm_up_done not taken under contract "
                                           "MT-CAL-001 v3"));
    /* answered true: passes; answered false: not attested */
    daily.step_count = 2;
    strcpy(daily.steps[1].step_id, "warm_up_done");
    daily.steps[1].taken = daily.steps[1].attested = true;
    ck_assert(assess(&f, &daily, NULL, T0 + HOUR).ready);
    daily.steps[1].attested = false;
    r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert_ptr_nonnull(strstr(r.reason, "warm_up_done not attested"));
    /* a step added to a procedure not required before a test: its pass no longer counts, so
     * it blocks as a failure does */
    check_state lift = check("LIFT", T0, true, "");
    lift.steps_known = true;
    f.optional.steps = steps;
    f.optional.step_count = 1;
    f.optional.owner = &terms;
    daily.steps[1].attested = true;
    r = assess(&f, &daily, &lift, T0 + HOUR);
    ck_assert(!r.ready);
    ck_assert_ptr_nonnull(strstr(r.reason, "LIFT: uv_a_irradiance not taken"));
    /* answers not known (a row with no readings): as recorded */
    lift.steps_known = false;
    ck_assert(assess(&f, &daily, &lift, T0 + HOUR).ready);
    station_zone_free(f.zone);
}
END_TEST

/* ---- when a check lapses: check_valid_until, by frequency --------------------------------- */

START_TEST(a_check_is_valid_for_its_hours_its_local_days_or_until_the_next_shift)
{
    fixture f;
    setup(&f);
    /* every 8 hours: eight hours after it, to the millisecond */
    procedure p = {.frequency = FREQ_HOURS, .every = 8, .owner = &owner};
    ck_assert_int_eq(check_valid_until(&p, T0, f.zone), T0 + 8 * HOUR);
    /* daily: through its own day (the next day begins at 2025-03-11T00:00Z); weekly: 7 days */
    ck_assert_int_eq(check_valid_until(&f.required, T0, f.zone), T0 + 16 * HOUR);
    ck_assert_int_eq(check_valid_until(&f.optional, T0, f.zone), T0 + (16 + 6 * 24) * HOUR);
    ck_assert_int_eq(check_valid_until(&f.required, T0 + 16 * HOUR - 1, f.zone), T0 + 16 * HOUR);
    ck_assert_int_eq(check_valid_until(&f.required, T0 + 16 * HOUR, f.zone), T0 + 40 * HOUR);
    /* per shift (06:00, 14:00, 22:00): until the next shift starts, the next day's first after
     * the last; a check made as a shift starts belongs to that shift */
    contract shifts = {.shift_starts = {6 * 60, 14 * 60, 22 * 60}, .shift_count = 3};
    procedure s = {.frequency = FREQ_PER_SHIFT, .owner = &shifts};
    ck_assert_int_eq(check_valid_until(&s, T0, f.zone), T0 + 6 * HOUR);
    ck_assert_int_eq(check_valid_until(&s, T0 + 6 * HOUR, f.zone), T0 + 14 * HOUR);
    ck_assert_int_eq(check_valid_until(&s, T0 + 15 * HOUR, f.zone), T0 + 22 * HOUR);
    ck_assert_int_eq(check_valid_until(&s, T0 - 8 * HOUR, f.zone), T0 - 2 * HOUR);
    station_zone_free(f.zone);
}
END_TEST

/* ---- the gate's reasons -------------------------------------------------------------------- */

START_TEST(a_required_check_never_done_or_lapsed_blocks_and_a_valid_one_says_until_when)
{
    fixture f;
    setup(&f);
    /* never done */
    readiness r = assess(&f, NULL, NULL, T0);
    ck_assert(!r.ready);
    ck_assert_str_eq(r.reason, "required daily check DAILY not done");
    ck_assert_uint_eq(r.check_count, 1);
    ck_assert(!r.checks[0].ok);
    ck_assert_ptr_null(r.checks[0].last);
    /* no checks handed in at all: the same */
    readiness_input none = {.terms = &f.item, .record = &f.record, .now_ms = T0, .zone = f.zone};
    readiness_assess(&none, &r);
    ck_assert(!r.ready);
    ck_assert_str_eq(r.reason, "required daily check DAILY not done");
    /* passed: valid to the end of its day, then lapsed */
    check_state daily = check("DAILY", T0, true, "");
    r = assess(&f, &daily, NULL, T0 + 16 * HOUR - 1);
    ck_assert(r.ready);
    ck_assert(r.checks[0].ok && !r.checks[0].lapses);
    ck_assert_int_eq(r.checks[0].valid_until_ms, T0 + 16 * HOUR);
    ck_assert_str_eq(r.reason, "calibration current until 2026-01-01 (297 days remaining); daily "
                               "check DAILY passed at 2025-03-10T08:00:00Z, valid until "
                               "2025-03-11T00:00:00Z");
    r = assess(&f, &daily, NULL, T0 + 16 * HOUR);
    ck_assert(!r.ready);
    ck_assert_str_eq(r.reason, "required daily check DAILY lapsed at 2025-03-11T00:00:00Z "
                               "(last passed 2025-03-10T08:00:00Z)");
    station_zone_free(f.zone);
}
END_TEST

START_TEST(the_reasons_name_the_calibration_first_then_each_check)
{
    fixture f;
    setup(&f);
    /* no contract names it: unknown, whatever else is known */
    readiness_input unknown = {.record = &f.record, .now_ms = T0, .zone = f.zone};
    readiness r;
    readiness_assess(&unknown, &r);
    ck_assert(!r.ready);
    ck_assert_int_eq(r.calibration.status, CAL_UNKNOWN);
    ck_assert_str_eq(r.reason, "not named by any contract in force for this station");
    ck_assert_uint_eq(r.check_count, 0);
    /* expired, and its daily check not done: both, calibration first */
    f.item.terms.interval_days = 60; /* due 2025-03-02 */
    r = assess(&f, NULL, NULL, T0);
    ck_assert(!r.ready);
    ck_assert_int_eq(r.calibration.status, CAL_EXPIRED);
    ck_assert_str_eq(r.reason, "calibration expired: was due 2025-03-02, 8 days overdue; "
                               "required daily check DAILY not done");
    /* a check that failed is named with what failed, after the calibration */
    check_state daily = check("DAILY", T0, false, "uv_a 900 outside min 1000");
    r = assess(&f, &daily, NULL, T0 + HOUR);
    ck_assert_str_eq(r.reason, "calibration expired: was due 2025-03-02, 8 days overdue; daily "
                               "check DAILY failed at 2025-03-10T08:00:00Z: uv_a 900 outside "
                               "min 1000");
    /* failed, with the note of why; out of service, with the reason given (which wins) */
    f.item.terms.interval_days = 365;
    daily = check("DAILY", T0, true, "");
    f.record.calibration_failed = true;
    readiness_input in = {.terms = &f.item,
                          .record = &f.record,
                          .checks = (const check_state *const[]){&daily, NULL},
                          .now_ms = T0 + HOUR,
                          .zone = f.zone,
                          .failure_note = "temperature 39.2 degC outside 37.5 to 38.5 degC"};
    readiness_assess(&in, &r);
    ck_assert(!r.ready);
    ck_assert_str_eq(r.reason,
                     "calibration failed: temperature 39.2 degC outside 37.5 to 38.5 degC");
    in.failure_note = ""; /* no note: the status's own words */
    readiness_assess(&in, &r);
    ck_assert_str_eq(r.reason, "calibration failed: out of tolerance as left");
    f.record.out_of_service = true;
    in.out_of_service_reason = "lens cracked";
    readiness_assess(&in, &r);
    ck_assert_int_eq(r.calibration.status, CAL_OUT_OF_SERVICE);
    ck_assert_str_eq(r.reason, "out of service: lens cracked");
    station_zone_free(f.zone);
}
END_TEST

/* A long reason is cut on a whole character (text_utf8_trim), never in the middle of one. */
START_TEST(a_long_reason_ends_on_a_whole_character)
{
    fixture f;
    setup(&f);
    f.required.procedure_id = "DAILY-UV-A-IRRADIANCE-AND-WHITE-LIGHT-AT-THE-INSPECTION-BOOTH-NO-1";
    for (int shift = 0; shift < 2; shift++) { /* the cut falls on each byte of a µ once */
        char detail[CHECK_DETAIL_MAX] = "";
        if (shift)
            strcat(detail, "x");
        while (strlen(detail) + 2 < sizeof detail)
            strcat(detail, "\xc2\xb5"); /* µ */
        check_state daily = check("DAILY", T0, false, detail);
        readiness r = assess(&f, &daily, NULL, T0 + HOUR);
        const char *v = r.checks[0].reason;
        size_t len = strlen(v);
        ck_assert_ptr_null(strstr(v, detail)); /* it was cut */
        ck_assert_msg(len >= 2 && (unsigned char)v[len - 2] == 0xc2 &&
                          (unsigned char)v[len - 1] == 0xb5,
                      "ends in half a character: ...%s", v + len - 4);
    }
    station_zone_free(f.zone);
}
END_TEST

/* ---- job windows: valid now, but not through the job's planned end -------------------------- */

START_TEST(a_lapse_before_the_planned_end_blocks_or_warns_as_the_contract_says)
{
    fixture f;
    setup(&f);
    check_state daily = check("DAILY", T0, true, "");
    const check_state *checks[2] = {&daily, NULL};
    readiness_input in = {.terms = &f.item,
                          .record = &f.record,
                          .checks = checks,
                          .now_ms = T0 + HOUR,
                          .zone = f.zone,
                          .planned_end_ms = T0 + 16 * HOUR};
    readiness r;
    /* ending as the check lapses: still through */
    readiness_assess(&in, &r);
    ck_assert(r.ready && !r.has_warning && !r.checks[0].lapses);
    /* ending a millisecond later: blocked, naming the lapse */
    in.planned_end_ms = T0 + 16 * HOUR + 1;
    readiness_assess(&in, &r);
    ck_assert(!r.ready);
    ck_assert(r.checks[0].ok && r.checks[0].lapses);
    ck_assert_str_eq(r.reason, "daily check DAILY is valid until 2025-03-11T00:00:00Z, before "
                               "the job's planned end");
    ck_assert_str_eq(r.warning, "");
    /* a contract whose job windows warn: ready, with the same words as a warning */
    contract warns = {.job_window_warns = true};
    f.item.owner = &warns;
    readiness_assess(&in, &r);
    ck_assert(r.ready && r.has_warning);
    ck_assert_str_eq(r.warning, "daily check DAILY is valid until 2025-03-11T00:00:00Z, before "
                                "the job's planned end");
    f.item.owner = &owner;
    /* the calibration too: due today (2025-03-10), valid until the next day begins */
    f.required.frequency = FREQ_HOURS;
    f.required.every = 48;
    f.item.terms.interval_days = 68;
    in.planned_end_ms = T0 + 16 * HOUR;
    readiness_assess(&in, &r);
    ck_assert(r.ready);
    in.planned_end_ms = T0 + 16 * HOUR + 1;
    readiness_assess(&in, &r);
    ck_assert(!r.ready);
    ck_assert_str_eq(r.reason,
                     "calibration valid through 2025-03-10, before the job's planned end");
    /* not known (0): nothing judged beyond now */
    in.planned_end_ms = 0;
    readiness_assess(&in, &r);
    ck_assert(r.ready && !r.has_warning);
    station_zone_free(f.zone);
}
END_TEST

/* ---- limits: exact on the decimals written, and their words --------------------------------- */

START_TEST(a_limit_is_met_on_its_bound_and_reads_as_written)
{
    check_step st = {.step_id = "uv_a", .is_reading = true, .unit = "uW/cm2"};
    char text[96];
    check_step_limit_text(&st, text, sizeof text);
    ck_assert_str_eq(text, "recorded, no limit");
    ck_assert(check_step_within(&st, -1e300));
    st.has_min = true;
    ck_assert(decimal_from_double(1000, &st.low));
    check_step_limit_text(&st, text, sizeof text);
    ck_assert_str_eq(text, "min 1000 uW/cm2");
    ck_assert(check_step_within(&st, 1000) && !check_step_within(&st, 999.99));
    st.has_min = false;
    st.has_max = true;
    ck_assert(decimal_from_double(21.5, &st.high));
    check_step_limit_text(&st, text, sizeof text);
    ck_assert_str_eq(text, "max 21.5 uW/cm2");
    ck_assert(check_step_within(&st, 21.5) && !check_step_within(&st, 21.500001));
    st.unit = NULL; /* a checkbox's limit has no unit */
    check_step_limit_text(&st, text, sizeof text);
    ck_assert_str_eq(text, "max 21.5 ");
    /* a value that is not a number is outside every limit, even none */
    ck_assert(!check_step_within(&st, NAN) && !check_step_within(&st, INFINITY));
    tolerance t = {.parameter = "temperature", .unit = "degC", .has_min = true, .has_max = true};
    ck_assert(decimal_from_double(37.5, &t.low) && decimal_from_double(38.5, &t.high));
    tolerance_text(&t, text, sizeof text);
    ck_assert_str_eq(text, "37.5 to 38.5 degC");
    ck_assert(tolerance_within(&t, 37.5) && tolerance_within(&t, 38.5));
    ck_assert(!tolerance_within(&t, 37.49) && !tolerance_within(&t, 38.51));
    ck_assert(!tolerance_within(&t, -INFINITY));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("readiness");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, a_failed_check_not_required_before_a_test_blocks_until_it_passes);
    tcase_add_test(tc, a_suspect_failure_fails_and_a_suspect_pass_is_not_done);
    tcase_add_test(tc, a_pass_is_judged_again_under_the_procedure_in_force);
    suite_add_tcase(s, tc);
    TCase *rules = tcase_create("rules");
    tcase_add_test(rules, a_check_is_valid_for_its_hours_its_local_days_or_until_the_next_shift);
    tcase_add_test(rules,
                   a_required_check_never_done_or_lapsed_blocks_and_a_valid_one_says_until_when);
    tcase_add_test(rules, the_reasons_name_the_calibration_first_then_each_check);
    tcase_add_test(rules, a_long_reason_ends_on_a_whole_character);
    tcase_add_test(rules, a_lapse_before_the_planned_end_blocks_or_warns_as_the_contract_says);
    tcase_add_test(rules, a_limit_is_met_on_its_bound_and_reads_as_written);
    suite_add_tcase(s, rules);
    return s;
}
