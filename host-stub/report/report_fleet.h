/*
 * report_fleet.h — the fleet-wide kinds of `smart-host report KIND --from postgresql://…`
 * (README "Fleet"): the due list across stations, out-of-tolerance impact across stations and
 * ledger integrity per station. Each reads the stations of `stations` (rep_db_stations) one at
 * a time from the database and fills `d` (a doc with d->fleet set by the caller). The due and
 * oot kinds run the station's own kind (report_due_list, report_oot_register) on its records,
 * so their logic is the file reports' and not repeated here.
 *
 * Single-threaded; `d` owns every string it is given. Returns 0 or a negative errno with `msg`
 * (report_db.h's codes).
 */
#ifndef SMART_HOST_REPORT_FLEET_H
#define SMART_HOST_REPORT_FLEET_H

#include "report/report.h"
#include "report/report_db.h"

/* The due list's columns: the station, then due_list.c's; rows sorted by due_date. */
#define FLEET_DUE_DATE 4

int report_fleet_due(rep_db *db, const rep_vec *stations, const rep_query *q, rep_doc *d, char *msg,
                     size_t msg_size);
int report_fleet_oot(rep_db *db, const rep_vec *stations, const rep_query *q, rep_doc *d, char *msg,
                     size_t msg_size);
/* `node`: NULL for every station. */
int report_fleet_integrity(rep_db *db, const char *node, rep_doc *d, char *msg, size_t msg_size);

#endif /* SMART_HOST_REPORT_FLEET_H */
