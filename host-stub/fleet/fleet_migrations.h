/*
 * fleet_migrations.h — the fleet schema's migrations, compiled in from
 * host-stub/fleet/migrations/NNNN_name.sql (embed_sql.py), in ascending version order.
 * Constant data: thread-safe, never freed.
 */
#ifndef SMART_HOST_FLEET_MIGRATIONS_H
#define SMART_HOST_FLEET_MIGRATIONS_H

#include <stddef.h>

typedef struct fleet_migration {
    int version;      /* NNNN of its file name; applied once, recorded in fleet.schema_version */
    const char *name; /* the rest of its file name */
    const char *sql;  /* the file's text: statements run in one transaction */
} fleet_migration;

extern const fleet_migration fleet_migrations[];
extern const size_t fleet_migration_count;

#endif /* SMART_HOST_FLEET_MIGRATIONS_H */
