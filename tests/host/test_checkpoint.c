/*
 * test_checkpoint.c — the checkpointer's rule (ledger/checkpoint.c) on a simulated clock: a
 * checkpoint at least every interval while records are written, none while nothing is written,
 * one whenever asked; each covers the ledger's head, is checked by checkpoint_check with the
 * node's key, and refused with another key or a changed statement.
 */
#include "check_main.h"
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/checkpoint.h"
#include "ledger/ledger.h"

static char dir[256];
static char ledger_path[PATH_MAX];
static char key_path[PATH_MAX];
static msig_public_key pub;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/smart-checkpoint-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(ledger_path, sizeof ledger_path, "%s/ledger.jsonl", dir);
    char keys[300], id[MSIG_KEY_ID_TEXT_LEN + 1], msg[512];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    ck_assert_msg(checkpoint_keygen(keys, id, msg, sizeof msg) == 0, "%s", msg);
    snprintf(key_path, sizeof key_path, "%s/node.key", keys);
    char pub_path[PATH_MAX + 16];
    snprintf(pub_path, sizeof pub_path, "%s/node.pub", keys);
    smart_error err;
    ck_assert_int_eq(msig_public_key_load(pub_path, &pub, &err), 0);
    struct stat st;
    ck_assert_int_eq(stat(key_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* keygen never replaces a key */
    ck_assert_int_lt(checkpoint_keygen(keys, id, msg, sizeof msg), 0);
    ck_assert_ptr_nonnull(strstr(msg, "already exists"));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void append(ledger *l, int64_t time_ms)
{
    char msg[256];
    ledger_record r = {.time_ms = time_ms,
                       .node_id = "NODE-1",
                       .module = "test",
                       .action = "test.record",
                       .target = "-",
                       .details = "-",
                       .user_id = "system"};
    ck_assert_int_eq(ledger_append(l, &r, msg, sizeof msg), 0);
}

/* prepare at `now`; when a checkpoint comes, append it as the host does and check it. Returns
 * the seq it covers, or 0 when none was due. */
static uint64_t step(checkpointer *c, ledger *l, int64_t now)
{
    const char *entry;
    size_t len;
    char msg[512];
    int rc = checkpointer_prepare(c, l, now, &entry, &len, msg, sizeof msg);
    ck_assert_msg(rc >= 0, "%s", msg);
    if (rc == 0)
        return 0;
    checkpoint_claim claim;
    char why[300];
    ck_assert_msg(checkpoint_check(entry, len, &pub, &claim, why, sizeof why) == 0, "%s", why);
    ck_assert_uint_eq(claim.seq, ledger_record_count(l));
    ck_assert_str_eq(claim.head_hash, ledger_head_hash(l));
    ck_assert_str_eq(claim.node_id, "NODE-1");
    ledger_record r = {.time_ms = now,
                       .node_id = "NODE-1",
                       .module = "smart-host",
                       .action = CHECKPOINT_ACTION,
                       .target = "NODE-1",
                       .details = "-",
                       .user_id = "system",
                       .metadata_json = entry,
                       .metadata_len = len};
    ck_assert_int_eq(ledger_append(l, &r, msg, sizeof msg), 0);
    ck_assert_int_eq(ledger_flush(l, msg, sizeof msg), 0);
    ck_assert_int_eq(checkpointer_commit(c, msg, sizeof msg), 0);
    return claim.seq;
}

START_TEST(test_interval_on_simulated_clock)
{
    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(ledger_path, &l, &torn, msg, sizeof msg), 0);
    checkpointer *c;
    const int64_t t0 = 1739433600000;
    ck_assert_msg(
        checkpointer_open(key_path, "NODE-1", ledger_path, 60000, t0, l, &c, msg, sizeof msg) == 0,
        "%s", msg);
    append(l, t0);
    ck_assert_uint_eq(step(c, l, t0 + 30000), 0); /* records, but 30 s: not yet */
    ck_assert_uint_eq(step(c, l, t0 + 59999), 0);
    ck_assert_uint_eq(step(c, l, t0 + 60000), 1);  /* 60 s: seq 1 signed, record 2 its own */
    ck_assert_uint_eq(step(c, l, t0 + 200000), 0); /* nothing written since: nothing to sign */
    append(l, t0 + 200000);
    ck_assert_uint_eq(step(c, l, t0 + 200000), 3); /* 140 s since the last one */
    append(l, t0 + 201000);
    ck_assert_uint_eq(step(c, l, t0 + 201000), 0);
    checkpointer_request(c); /* asked for: at once */
    ck_assert_uint_eq(step(c, l, t0 + 201000), 5);
    checkpointer_request(c); /* asked for even with nothing new */
    ck_assert_uint_eq(step(c, l, t0 + 201000), 6);
    /* The checkpoints file holds one line per checkpoint, each checking out. */
    char cp[PATH_MAX + 16];
    snprintf(cp, sizeof cp, "%s.checkpoints", ledger_path);
    ck_assert_str_eq(checkpointer_file(c), cp);
    checkpointer_close(c);
    ledger_close(l);
    FILE *f = fopen(cp, "r");
    ck_assert_ptr_nonnull(f);
    char line[8192];
    uint64_t seqs[8], n = 0;
    while (fgets(line, sizeof line, f) != NULL && n < 8) {
        checkpoint_claim claim;
        char why[300];
        ck_assert_msg(checkpoint_check(line, strlen(line), &pub, &claim, why, sizeof why) == 0,
                      "%s", why);
        seqs[n++] = claim.seq;
    }
    fclose(f);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(seqs[0], 1);
    ck_assert_uint_eq(seqs[3], 6);
}
END_TEST

/* Another key, a changed statement, a changed plain field: each refused, saying why. */
START_TEST(test_check_refuses)
{
    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(ledger_path, &l, &torn, msg, sizeof msg), 0);
    checkpointer *c;
    ck_assert_int_eq(
        checkpointer_open(key_path, "NODE-1", ledger_path, 60000, 0, l, &c, msg, sizeof msg), 0);
    append(l, 0);
    checkpointer_request(c);
    const char *entry;
    size_t len;
    ck_assert_int_eq(checkpointer_prepare(c, l, 1000, &entry, &len, msg, sizeof msg), 1);
    char why[300];
    checkpoint_claim claim;
    msig_public_key other;
    msig_secret_key other_sec;
    ck_assert_int_eq(msig_keypair(&other, &other_sec, NULL), 0);
    ck_assert_int_eq(checkpoint_check(entry, len, &other, &claim, why, sizeof why), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "signed with key"));
    /* The other key's id but its own signature: the signature itself fails. */
    memcpy(other.key_id, pub.key_id, sizeof other.key_id);
    ck_assert_int_eq(checkpoint_check(entry, len, &other, &claim, why, sizeof why), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "signature does not verify"));
    json_t *e = json_loadb(entry, len, 0, NULL);
    json_object_set_new(e, "seq", json_integer(7));
    char *changed = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_int_eq(checkpoint_check(changed, strlen(changed), &pub, &claim, why, sizeof why),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "plain fields differ"));
    free(changed);
    const char *st = json_string_value(json_object_get(e, "statement"));
    char *st2 = strdup(st);
    *strstr(st2, "\"seq\":1") = ' '; /* a statement that is not the one signed */
    json_object_set_new(e, "statement", json_string(st2));
    free(st2);
    changed = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_int_eq(checkpoint_check(changed, strlen(changed), &pub, &claim, why, sizeof why),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "signature does not verify"));
    free(changed);
    json_decref(e);
    checkpointer_close(c);
    ledger_close(l);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_interval_on_simulated_clock);
    tcase_add_test(tc, test_check_refuses);
    suite_add_tcase(s, tc);
    return s;
}
