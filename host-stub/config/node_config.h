/*
 * node_config.h — the node configuration file (NODE.json): parse, validate, resolve paths.
 *
 *   {"node_id": "NODE-LP-001", "station_type": "LP", "ledger": "var/ledger.jsonl",
 *    "alerts": "var/alerts.jsonl", "signing_key": "keys/node.key", "checkpoint_interval_s": 60,
 *    "dashboard": {"listen": "127.0.0.1:8088", "token": "..."},
 *    "ship": {"to": "postgresql://station_lp_001@db.lab/fleet"},
 *    "modules": [{"path": "smart-maintenance.so", "config": {...}}]}
 *
 * Strict (schemas/node.schema.json): an unknown key, a wrong type or a missing field is an error
 * naming the file and the field, e.g. "node.json: modules[0].path: missing". Relative ledger
 * and alerts paths, and module paths that contain a '/', resolve against the directory of the
 * file; a module path without '/' is kept as given and searched for at load time.
 */
#ifndef SMART_HOST_NODE_CONFIG_H
#define SMART_HOST_NODE_CONFIG_H

#include <stddef.h>

typedef struct node_module_config {
    char *path;        /* absolute when it had a '/', else the bare file name to search for */
    char *config_json; /* the module's "config" object as compact JSON text ("{}" if absent) */
    size_t config_len;
} node_module_config;

typedef struct node_config {
    char *file_path;  /* the path the configuration was read from, as given */
    char *config_dir; /* absolute directory of the configuration file */
    char *node_id;
    char *station_type;
    char *ledger_path; /* absolute */
    char *alerts_path; /* absolute */
    /* "signing_key": the node's minisign secret key (smart-host keygen), absolute; NULL when
     * absent (the ledger is then not signed). "checkpoint_interval_s" (1..86400, default 60,
     * only with signing_key): sign at least this often while records are written. */
    char *signing_key_path;
    long long checkpoint_interval_ms;
    /* "dashboard": {"listen": "HOST:PORT", "token"?: "..."}: the read-only status board
     * (board/board.h). NULL listen: no board. HOST is an IPv4 or IPv6 literal ("[::1]:8088")
     * or "localhost"; a HOST that is not loopback needs a token (refused here otherwise). Port 0
     * lets the system choose (tests). */
    char *dashboard_host; /* the address to bind, NULL when no board */
    int dashboard_port;
    char *dashboard_token; /* the bearer token every request must carry, or NULL */
    /* "ship": {"to": "postgresql://..."}: ship the ledger continuously to the fleet database
     * (fleet/ship_live.h), connecting as the station's role. NULL: no shipping. The URI must
     * parse as a libpq connection URI (checked here, so a bad one changes nothing). */
    char *ship_to;
    node_module_config *modules;
    size_t module_count;
} node_config;

/* Read and validate the configuration file at `path` (borrowed). Returns 0 and a new
 * configuration in *out (owned by the caller; free with node_config_free), or a negative errno
 * (-ENOENT/-EACCES... reading, -EINVAL invalid, -ENOMEM) with `msg` (caller-owned) holding
 * "<path>: <field>: <why>" or "<path>: <why>"; *out is then NULL. */
int node_config_load(const char *path, node_config **out, char *msg, size_t msg_size);

/* Validate configuration text (`len` bytes, borrowed). `file_label` names the file in
 * messages; `config_dir` (absolute) is where relative paths resolve. Same results as
 * node_config_load. */
int node_config_parse(const char *text, size_t len, const char *file_label, const char *config_dir,
                      node_config **out, char *msg, size_t msg_size);

/* Free a configuration and everything it owns. NULL is ignored. */
void node_config_free(node_config *config);

#endif /* SMART_HOST_NODE_CONFIG_H */
