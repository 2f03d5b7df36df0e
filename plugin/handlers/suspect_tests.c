/* suspect_tests.c — keeps the module's usage index (usage_index.h) in step with the store's
 * allowed tests, and answers which tests an out-of-tolerance item makes suspect. */
#include "maintenance.h"

#include "error.h"

#include <stdlib.h>

typedef struct build_ctx {
    maintenance *m;
    smart_error *err;
} build_ctx;

static int add_stored_use(void *arg, int64_t test_id, int64_t decided_at_ms,
                          const char *equipment_id)
{
    build_ctx *b = arg;
    equipment_state *e = maintenance_find(b->m, equipment_id);
    /* Every allowed test's items were ready, so known; one missing from the table now was
     * never calibrated again and cannot be found out of tolerance. */
    if (!e)
        return 0;
    return usage_index_add(&b->m->uses, (size_t)(e - b->m->items), test_id, decided_at_ms,
                           b->err) != 0;
}

/* A good calibration written with its time of day ends suspicion at that instant; one dated
 * only (or from before instants were kept), at the start of its day. */
static void drop_before_good_day(void *arg, const char *equipment_id, civil_day day,
                                 bool instant_known, int64_t performed_ms)
{
    maintenance *m = arg;
    equipment_state *e = maintenance_find(m, equipment_id);
    if (e)
        usage_index_drop_before(&m->uses, (size_t)(e - m->items),
                                instant_known ? performed_ms : maintenance_day_start_ms(m, day));
}

/* Builds the index from the store when it is not built. */
static int ensure_built(maintenance *m, smart_error *err)
{
    if (usage_index_built(&m->uses))
        return 0;
    int rc = usage_index_start(&m->uses, m->item_count, err);
    build_ctx b = {.m = m, .err = err};
    if (rc == 0)
        rc = store_each_allowed_use(m->store, add_stored_use, &b, err);
    if (rc == 0)
        rc = store_each_good_calibration_day(m->store, drop_before_good_day, m, err);
    if (rc)
        usage_index_clear(&m->uses);
    return rc;
}

int maintenance_note_allowed_test(maintenance *m, int64_t test_id, int64_t decided_at_ms,
                                  const char *const *equipment_ids, size_t count, smart_error *err)
{
    if (!usage_index_built(&m->uses))
        return 0; /* built from the store, this test included, when first needed */
    for (size_t i = 0; i < count; i++) {
        equipment_state *e = maintenance_find(m, equipment_ids[i]);
        int rc =
            e ? usage_index_add(&m->uses, (size_t)(e - m->items), test_id, decided_at_ms, err) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

void maintenance_note_good_calibration(maintenance *m, const equipment_state *e, int64_t since_ms)
{
    if (usage_index_built(&m->uses))
        usage_index_drop_before(&m->uses, (size_t)(e - m->items), since_ms);
}

int maintenance_suspect_tests(maintenance *m, const equipment_state *e, int64_t since_ms,
                              int (*visit)(void *ctx, const char *clientpo_id,
                                           int64_t decided_at_ms),
                              void *ctx, smart_error *err)
{
    test_use *uses = NULL;
    size_t count = 0;
    int rc = ensure_built(m, err);
    if (rc == 0)
        rc = usage_index_since(&m->uses, (size_t)(e - m->items), since_ms, &uses, &count, err);
    char clientpo_id[256]; /* an identifier: at most 64 characters (jf_id) */
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = store_allowed_test_clientpo(m->store, uses[i].test_id, clientpo_id, sizeof clientpo_id,
                                         err);
        if (rc == 0 && visit(ctx, clientpo_id, uses[i].decided_at_ms))
            rc = error_set(err, SMART_ENOMEM, "out of memory");
    }
    free(uses);
    return rc;
}

static int collect_use(void *ctx, const char *clientpo_id, int64_t decided_at_ms)
{
    json_t *list = ctx;
    char when[DATE_TEXT_MAX];
    instant_format(decided_at_ms, when, sizeof when);
    return json_array_append_new(
        list, json_pack("{s:s, s:s}", "clientpo_id", clientpo_id, "decided_at", when));
}

int maintenance_review_list(maintenance *m, const equipment_state *e, int64_t since_ms,
                            bool whole_history, json_t **clientpos, smart_error *err)
{
    json_t *list = json_array();
    int rc = !list           ? error_set(err, SMART_ENOMEM, "out of memory")
             : whole_history ? store_allowed_tests_with(m->store, e->equipment_id, since_ms,
                                                        collect_use, list, err)
                             : maintenance_suspect_tests(m, e, since_ms, collect_use, list, err);
    if (rc) {
        json_decref(list);
        list = NULL;
    }
    *clientpos = list;
    return rc;
}
