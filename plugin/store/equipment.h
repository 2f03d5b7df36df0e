/* equipment.h — what the station knows about one item: the in-memory mirror of its row in the
 * store, plus the pointer to the contract terms in force for it. */
#ifndef SMART_EQUIPMENT_H
#define SMART_EQUIPMENT_H

#include "contract/contract.h"
#include "core/calibration.h"

#include <stdbool.h>
#include <stdint.h>

#define EQUIPMENT_ID_MAX 65
#define CERTIFICATE_MAX  129
#define ALERT_TYPE_MAX   40
#define NOTE_MAX         200

typedef struct equipment_state {
    char equipment_id[EQUIPMENT_ID_MAX];
    cal_record record;
    char calibration_date[DATE_TEXT_MAX]; /* as written on the last calibration */
    char certificate[CERTIFICATE_MAX];    /* of the last calibration */
    bool has_status;                      /* a status has been recorded for it */
    cal_status status;                    /* the last status recorded (ledger and store) */
    char last_alert[ALERT_TYPE_MAX];      /* type of the last alert raised for it, or "" */
    int64_t last_alert_ms;
    int64_t out_of_service_since_ms; /* when it was tagged out (record.out_of_service) */
    char out_of_service_reason[NOTE_MAX];
    /* The procedure whose failed check tagged it out, or "" when it was tagged out by hand (or
     * by a store from before this was kept): a tag-out by a failed check ends only on a pass of
     * that procedure, or an in-tolerance calibration, performed after it. */
    char out_of_service_procedure[65];
    char failure_note[NOTE_MAX]; /* why the last calibration failed, or "" */
    /* The last verification recorded: an in-tolerance calibration, or a passed check with a
     * fit reference; while a failed check keeps it tagged out, only a pass of that procedure. */
    int64_t last_verification_ms;
    int64_t sent_out_since_ms;  /* when it was sent out (record.sent_out); 0 when not known
                                   (sent out before stores kept it) */
    const contract_item *terms; /* NULL when no contract in force names it (retired) */
} equipment_state;

#endif
