/* test_text_pool.c — the item records' shared texts (store/text_pool.h) and their rebuild
 * (maintenance_compact_texts): equal texts share one copy, and a rebuild keeps every item's
 * texts while dropping what no item uses any more. */
#include "check_main.h"
#include "maintenance.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(equal_texts_share_one_copy)
{
    text_pool p;
    text_pool_init(&p);
    char a[] = "BCL-2025-02-000001", b[] = "BCL-2025-02-000001";
    const char *x = text_pool_put(&p, a), *y = text_pool_put(&p, b);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_eq(x, y);
    ck_assert_ptr_ne(x, a); /* a copy: the caller's buffer may change */
    a[0] = 'X';
    ck_assert_str_eq(x, "BCL-2025-02-000001");
    ck_assert_str_eq(text_pool_put(&p, ""), "");
    ck_assert_uint_eq(text_pool_bytes(&p), sizeof b); /* "" is not stored */
    for (int i = 0; i < 10000; i++) { /* past several growths of the set and blocks */
        char t[32];
        snprintf(t, sizeof t, "CERT-%d", i);
        const char *k = text_pool_put(&p, t);
        ck_assert_str_eq(k, t);
        ck_assert_ptr_eq(text_pool_put(&p, t), k);
    }
    ck_assert_ptr_eq(text_pool_put(&p, "BCL-2025-02-000001"), x);
    text_pool_free(&p);
}
END_TEST

START_TEST(a_rebuild_keeps_the_items_texts_and_drops_the_rest)
{
    maintenance m;
    memset(&m, 0, sizeof m);
    equipment_state items[3];
    smart_error err = {0, ""};
    for (int i = 0; i < 3; i++) {
        equipment_state_clear(&items[i]);
        snprintf(items[i].equipment_id, sizeof items[i].equipment_id, "EQ-%d", i);
    }
    m.items = items;
    m.item_count = 3;
    /* Old calibrations: 3 MB of certificates no item holds now. */
    for (int i = 0; i < 100000; i++) {
        char t[40];
        snprintf(t, sizeof t, "OLD-CERTIFICATE-NUMBER-%06d", i);
        ck_assert_ptr_nonnull(maintenance_text(&m, t, CERTIFICATE_MAX, &err));
    }
    items[0].certificate = maintenance_text(&m, "CERT-A", CERTIFICATE_MAX, &err);
    items[1].certificate = maintenance_text(&m, "CERT-A", CERTIFICATE_MAX, &err);
    items[1].failure_note = maintenance_text(&m, "left 1.5 kPa outside", NOTE_MAX, &err);
    items[2].last_alert = maintenance_text(&m, "calibration_expired", ALERT_TYPE_MAX, &err);
    const char *before = items[1].failure_note;
    size_t bytes = text_pool_bytes(&m.texts);
    ck_assert_uint_gt(bytes, 3000000);
    maintenance_compact_texts(&m);
    size_t live = sizeof "CERT-A" + sizeof "left 1.5 kPa outside" + sizeof "calibration_expired";
    ck_assert_uint_eq(text_pool_bytes(&m.texts), live);
    ck_assert_uint_eq(m.texts_live, live);
    ck_assert_ptr_ne(items[1].failure_note, before); /* the old pool is gone */
    ck_assert_str_eq(items[0].certificate, "CERT-A");
    ck_assert_ptr_eq(items[0].certificate, items[1].certificate);
    ck_assert_str_eq(items[1].failure_note, "left 1.5 kPa outside");
    ck_assert_str_eq(items[2].last_alert, "calibration_expired");
    ck_assert_str_eq(items[2].certificate, "");
    ck_assert_str_eq(items[0].out_of_service_reason, "");
    /* Nothing more to drop: the next call leaves the pool as it is. */
    const char *kept = items[0].certificate;
    maintenance_compact_texts(&m);
    ck_assert_ptr_eq(items[0].certificate, kept);
    text_pool_free(&m.texts);
}
END_TEST

START_TEST(a_text_is_cut_as_its_field_was)
{
    maintenance m;
    memset(&m, 0, sizeof m);
    smart_error err = {0, ""};
    char long_id[200];
    memset(long_id, 'p', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    const char *t = maintenance_text(&m, long_id, PROCEDURE_ID_MAX, &err);
    ck_assert_uint_eq(strlen(t), PROCEDURE_ID_MAX - 1);
    ck_assert_str_eq(maintenance_text(&m, "short", PROCEDURE_ID_MAX, &err), "short");
    text_pool_free(&m.texts);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("text_pool");
    TCase *tc = tcase_create("texts");
    tcase_add_test(tc, equal_texts_share_one_copy);
    tcase_add_test(tc, a_rebuild_keeps_the_items_texts_and_drops_the_rest);
    tcase_add_test(tc, a_text_is_cut_as_its_field_was);
    suite_add_tcase(suite, tc);
    return suite;
}
