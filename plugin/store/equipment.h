/* equipment.h — what the station knows about one item: the in-memory mirror of its row in the
 * store, plus the pointer to the contract terms in force for it.
 *
 * Its texts other than the id are the instance's shared texts (store/text_pool.h, put with
 * maintenance_text), never NULL ("" when none): a station of 100,000 items then holds each
 * item's few short texts, not 600 bytes of mostly empty fixed fields. They are immutable: a
 * change puts a new text and points at it, so a copy of a record (`next = *e`) is a value.
 * Each is at most its *_MAX bytes with the NUL, as the fixed fields held. */
#ifndef SMART_EQUIPMENT_H
#define SMART_EQUIPMENT_H

#include "contract/contract.h"
#include "core/calibration.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define EQUIPMENT_ID_MAX 65
#define CERTIFICATE_MAX  129
#define ALERT_TYPE_MAX   40
#define NOTE_MAX         200

#define PROCEDURE_ID_MAX 65

typedef struct equipment_state {
    char equipment_id[EQUIPMENT_ID_MAX];
    cal_record record;
    const char *calibration_date; /* as written on the last calibration (DATE_TEXT_MAX) */
    const char *certificate;      /* of the last calibration (CERTIFICATE_MAX) */
    bool has_status;              /* a status has been recorded for it */
    cal_status status;            /* the last status recorded (ledger and store) */
    const char *last_alert;       /* type of the last alert raised for it, or "" (ALERT_TYPE_MAX) */
    int64_t last_alert_ms;
    int64_t out_of_service_since_ms;   /* when it was tagged out (record.out_of_service) */
    const char *out_of_service_reason; /* NOTE_MAX */
    /* The procedure whose failed check tagged it out, or "" when it was tagged out by hand (or
     * by a store from before this was kept): a tag-out by a failed check ends only on a pass of
     * that procedure, or an in-tolerance calibration, performed after it. PROCEDURE_ID_MAX. */
    const char *out_of_service_procedure;
    const char *failure_note; /* why the last calibration failed, or "" (NOTE_MAX) */
    /* The last verification recorded: an in-tolerance calibration, or a passed check with a
     * fit reference; while a failed check keeps it tagged out, only a pass of that procedure. */
    int64_t last_verification_ms;
    int64_t sent_out_since_ms;  /* when it was sent out (record.sent_out); 0 when not known
                                   (sent out before stores kept it) */
    const contract_item *terms; /* NULL when no contract in force names it (retired) */
} equipment_state;

/* A record with nothing known: zeros, and "" for each text. */
static inline void equipment_state_clear(equipment_state *e)
{
    memset(e, 0, sizeof *e);
    e->calibration_date = e->certificate = e->last_alert = "";
    e->out_of_service_reason = e->out_of_service_procedure = e->failure_note = "";
}

#endif
