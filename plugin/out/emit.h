/* emit.h — everything the module says to the host: ledger records, output events and
 * alerts, built as JSON here and handed over as text. Each returns 0 or the host's error.
 * The module writes JSON with jw (json/jsonw.h), not jansson trees: the field order is the
 * order of the calls, nothing is allocated per value (one buffer grows), and strings are
 * escaped like jansson's plus U+2028/2029. */
#ifndef SMART_EMIT_H
#define SMART_EMIT_H

#include "maintenance.h"

/* Appends a ledger record whose metadata is given as JSON object text (borrowed). */
int emit_ledger_text(maintenance *m, const char *action, const char *target, const char *user_id,
                     const char *details, const char *metadata_json, smart_error *err);

/* Appends a ledger record whose metadata is the JSON object text in `metadata`. */
int emit_ledger_jw(maintenance *m, const char *action, const char *target, const char *user_id,
                   const char *details, const jw *metadata, smart_error *err);

/* Emits an output event whose data is the JSON object text in `data`. */
int emit_output_jw(maintenance *m, const char *topic, const jw *data, smart_error *err);

/* Raises an alert (and records it in the ledger, with `target`, or the node when NULL).
 * `subject` holds the subject members without braces, e.g. `"equipment_id":"X"`; node,
 * station, time and the rest are added here. */
int emit_alert(maintenance *m, const char *alert_type, const char *severity, const char *target,
               const jw *subject, const char *message, int64_t now_ms, smart_error *err);

/* Writes the ITEM object of the output events for one item and its readiness. `id` names it
 * even when e is NULL (no contract or record names it). */
void emit_item_write(jw *w, const char *id, const equipment_state *e, const readiness *r);

#endif
