/* The gate's rule for checks (readiness.h), on its own: a failed check blocks whether or not
 * its procedure is required before a test, until that procedure passes again; a procedure not
 * required before a test blocks on nothing else. */
#include "check_main.h"
#include "core/readiness.h"
#include "zone/station_zone.h"

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

Suite *unit_suite(void)
{
    Suite *s = suite_create("readiness");
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, a_failed_check_not_required_before_a_test_blocks_until_it_passes);
    tcase_add_test(tc, a_suspect_failure_fails_and_a_suspect_pass_is_not_done);
    tcase_add_test(tc, a_pass_is_judged_again_under_the_procedure_in_force);
    suite_add_tcase(s, tc);
    return s;
}
