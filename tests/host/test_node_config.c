/*
 * test_node_config.c — NODE.json validation: every error names the file and the field;
 * relative paths resolve against the file's directory.
 */
#include "check_main.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/node_config.h"

#define VALID                                                                                      \
    "{\"node_id\": \"NODE-LP-001\", \"station_type\": \"LP\", \"ledger\": \"var/ledger.jsonl\","   \
    " \"alerts\": \"/abs/alerts.jsonl\", \"modules\": ["                                           \
    "{\"path\": \"smart-maintenance.so\", \"config\": {\"contracts_dir\": \"contracts\"}},"        \
    "{\"path\": \"../lib/other.so\"}]}"

static void fails_with(const char *text, const char *expected)
{
    node_config *config = NULL;
    char msg[512] = "";
    int rc =
        node_config_parse(text, strlen(text), "node.json", "/etc/node", &config, msg, sizeof msg);
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_ptr_null(config);
    ck_assert_str_eq(msg, expected);
}

START_TEST(valid_configuration)
{
    node_config *c = NULL;
    char msg[512] = "";
    ck_assert_int_eq(
        node_config_parse(VALID, strlen(VALID), "node.json", "/etc/node", &c, msg, sizeof msg), 0);
    ck_assert_str_eq(c->node_id, "NODE-LP-001");
    ck_assert_str_eq(c->station_type, "LP");
    ck_assert_str_eq(c->ledger_path, "/etc/node/var/ledger.jsonl");
    ck_assert_str_eq(c->alerts_path, "/abs/alerts.jsonl");
    ck_assert_str_eq(c->config_dir, "/etc/node");
    ck_assert_uint_eq(c->module_count, 2);
    ck_assert_str_eq(c->modules[0].path, "smart-maintenance.so"); /* searched at load time */
    ck_assert_str_eq(c->modules[0].config_json, "{\"contracts_dir\":\"contracts\"}");
    ck_assert_str_eq(c->modules[1].path, "/etc/node/../lib/other.so");
    ck_assert_str_eq(c->modules[1].config_json, "{}");
    ck_assert_uint_eq(c->modules[1].config_len, 2);
    node_config_free(c);
}
END_TEST

START_TEST(missing_fields_are_named)
{
    fails_with("{\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\",\"modules\":[]}",
               "node.json: node_id: missing");
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"modules\":[]}",
               "node.json: alerts: missing");
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\"}",
               "node.json: modules: missing");
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":[{\"config\":{}}]}",
               "node.json: modules[0].path: missing");
}
END_TEST

START_TEST(wrong_types_are_named)
{
    fails_with("{\"node_id\":\"N\",\"station_type\":5,\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":[]}",
               "node.json: station_type: must be a string");
    fails_with("{\"node_id\":\"\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":[]}",
               "node.json: node_id: must not be empty");
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":{}}",
               "node.json: modules: must be an array");
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":[{\"path\":\"a.so\"},\"b.so\"]}",
               "node.json: modules[1]: must be an object");
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":[{\"path\":\"a.so\",\"config\":[]}]}",
               "node.json: modules[0].config: must be an object");
    fails_with("[1,2]", "node.json: the configuration must be a JSON object");
}
END_TEST

START_TEST(unknown_keys_are_named)
{
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":[],\"ledgr\":\"x\"}",
               "node.json: ledgr: unknown key");
    fails_with("{\"node_id\":\"N\",\"station_type\":\"LP\",\"ledger\":\"l\",\"alerts\":\"a\","
               "\"modules\":[{\"path\":\"a.so\",\"confg\":{}}]}",
               "node.json: modules[0].confg: unknown key");
}
END_TEST

START_TEST(syntax_errors_name_the_position)
{
    node_config *c = NULL;
    char msg[512] = "";
    const char *text = "{\"node_id\": \"N\",\n \"node_id\": \"M\"}";
    ck_assert_int_eq(node_config_parse(text, strlen(text), "node.json", "/", &c, msg, sizeof msg),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "node.json: line 2"));
    text = "{\"node_id\": ";
    ck_assert_int_eq(node_config_parse(text, strlen(text), "node.json", "/", &c, msg, sizeof msg),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(msg, "node.json: line 1"));
}
END_TEST

START_TEST(load_resolves_against_the_file_directory)
{
    char dir[] = "/tmp/smart-node-config-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/node.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(VALID, f);
    ck_assert_int_eq(fclose(f), 0);
    node_config *c = NULL;
    char msg[512] = "";
    ck_assert_int_eq(node_config_load(path, &c, msg, sizeof msg), 0);
    char expected[PATH_MAX + 32];
    snprintf(expected, sizeof expected, "%s/var/ledger.jsonl", dir);
    ck_assert_str_eq(c->ledger_path, expected);
    ck_assert_str_eq(c->config_dir, dir);
    ck_assert_str_eq(c->file_path, path);
    node_config_free(c);
    unlink(path);
    ck_assert_int_eq(node_config_load(path, &c, msg, sizeof msg), -ENOENT);
    ck_assert_ptr_nonnull(strstr(msg, "cannot open"));
    rmdir(dir);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("node_config");
    TCase *tc = tcase_create("validation");
    tcase_add_test(tc, valid_configuration);
    tcase_add_test(tc, missing_fields_are_named);
    tcase_add_test(tc, wrong_types_are_named);
    tcase_add_test(tc, unknown_keys_are_named);
    tcase_add_test(tc, syntax_errors_name_the_position);
    tcase_add_test(tc, load_resolves_against_the_file_directory);
    suite_add_tcase(suite, tc);
    return suite;
}
