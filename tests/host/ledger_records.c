/* ledger_records.c — the ledger tests' shared directory and records (ledger_records.h). */
#include "ledger_records.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ledger_test_dir_make(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/%s-XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void ledger_test_dir_remove(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

void ledger_test_append(ledger *l, int count, const char *details, const char *metadata)
{
    char msg[512];
    for (int i = 0; i < count; i++) {
        ledger_record record = {
            .time_ms = 1739433600000 + i * 1000,
            .node_id = "NODE-LP-001",
            .module = "smart-host",
            .action = "test.record",
            .target = "EQ-1",
            .details = details,
            .user_id = "system",
            .metadata_json = metadata,
            .metadata_len = metadata ? strlen(metadata) : 0,
        };
        ck_assert_int_eq(ledger_append(l, &record, msg, sizeof msg), 0);
    }
    ck_assert_int_eq(ledger_flush(l, msg, sizeof msg), 0);
}
