/* ledger_records.h — what the ledger's Check tests (test_ledger.c, test_ledger_mark.c) share:
 * a fresh directory for a test's ledger, and records appended to a ledger. Test code: a failure
 * aborts the running Check test. */
#ifndef SMART_LEDGER_RECORDS_H
#define SMART_LEDGER_RECORDS_H

#include "ledger/ledger.h"

#include <stddef.h>

/* Makes a fresh directory /tmp/<name>-XXXXXX into dir (size bytes). */
void ledger_test_dir_make(char *dir, size_t size, const char *name);

/* Removes the directory and everything below it. */
void ledger_test_dir_remove(const char *dir);

/* Appends `count` records (one second apart from 2025-02-13T08:00:00Z, action test.record on
 * EQ-1) with `details` and `metadata` (JSON object text, or NULL), then flushes. */
void ledger_test_append(ledger *l, int count, const char *details, const char *metadata);

#endif
