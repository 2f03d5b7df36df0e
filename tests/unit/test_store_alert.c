/* The store keeps an item's last alert type as text: what store_put_equipment saves,
 * store_load_equipment gives back (an alert type, or none), so a restart knows which alert an
 * item last raised. */
#include "check_main.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    ck_assert(asprintf(&dir, "%s/store-alert-XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir)
{
    static const char *const files[] = {"store.sqlite", "store.sqlite-wal", "store.sqlite-shm",
                                        "lock"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    remove(dir);
    free(dir);
}

typedef struct loaded {
    char alert[2][64];
    int64_t alert_ms[2];
    int count;
} loaded;

static void note_item(void *ctx, const equipment_state *e)
{
    loaded *l = ctx;
    int at = strcmp(e->equipment_id, "EQ-A") == 0 ? 0 : 1;
    snprintf(l->alert[at], sizeof l->alert[at], "%s", e->last_alert);
    l->alert_ms[at] = e->last_alert_ms;
    l->count++;
}

START_TEST(last_alert_survives_a_reopen)
{
    char *dir = temp_dir();
    store *s = NULL;
    smart_error err = {0};
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    equipment_state a, b;
    equipment_state_clear(&a);
    equipment_state_clear(&b);
    snprintf(a.equipment_id, sizeof a.equipment_id, "EQ-A");
    a.last_alert = "calibration_expired";
    a.last_alert_ms = 1739430000000;
    snprintf(b.equipment_id, sizeof b.equipment_id, "EQ-B"); /* never alerted */
    ck_assert_msg(store_put_equipment(s, &a, &err) == 0, "%s", err.text);
    ck_assert_msg(store_put_equipment(s, &b, &err) == 0, "%s", err.text);
    ck_assert_msg(store_commit(s, &err) == 0, "%s", err.text);
    store_close(s);

    s = NULL;
    ck_assert_msg(store_open(dir, &s, &err) == 0, "%s", err.text);
    loaded l = {0};
    ck_assert_msg(store_load_equipment(s, note_item, &l, &err) == 0, "%s", err.text);
    ck_assert_int_eq(l.count, 2);
    ck_assert_str_eq(l.alert[0], "calibration_expired");
    ck_assert(l.alert_ms[0] == 1739430000000);
    ck_assert_str_eq(l.alert[1], "");
    store_close(s);
    remove_dir(dir);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("store_alert");
    TCase *tc = tcase_create("last_alert");
    tcase_add_test(tc, last_alert_survives_a_reopen);
    suite_add_tcase(suite, tc);
    return suite;
}
