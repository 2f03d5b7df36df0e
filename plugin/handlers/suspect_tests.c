/* suspect_tests.c — which tests an out-of-tolerance item makes suspect: the store's indexed
 * record of each item's allowed uses (store_allowed_tests_with), from the item's last good
 * calibration on. */
#include "maintenance.h"

#include "error.h"

#include <stdlib.h>

int maintenance_suspect_tests(maintenance *m, const equipment_state *e, int64_t since_ms,
                              int (*visit)(void *ctx, const char *clientpo_id,
                                           int64_t decided_at_ms),
                              void *ctx, smart_error *err)
{
    /* Uses from before the item's last good calibration can no longer be suspect: one written
     * with its time of day ends suspicion at that instant; one dated only (or from before
     * instants were kept), at the start of its day. */
    civil_day day;
    bool instant_known;
    int64_t performed_ms;
    int rc = store_last_good_calibration(m->store, e->equipment_id, &day, &instant_known,
                                         &performed_ms, err);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        int64_t good_ms = instant_known ? performed_ms : maintenance_day_start_ms(m, day);
        if (good_ms > since_ms)
            since_ms = good_ms;
    }
    return store_allowed_tests_with(m->store, e->equipment_id, since_ms, visit, ctx, err);
}
