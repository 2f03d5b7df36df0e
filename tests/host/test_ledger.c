/*
 * test_ledger.c — the ledger's hash chain: append and verify, tamper detection naming the
 * right record, torn-tail recovery on reopen, continuation across restarts.
 */
#include "check_main.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "ledger_records.h"

#include <openssl/evp.h>

static char dir[256];
static char path[PATH_MAX];

static void make_dir(void)
{
    ledger_test_dir_make(dir, sizeof dir, "smart-ledger-test");
    snprintf(path, sizeof path, "%s/var/ledger.jsonl", dir); /* var/ does not exist yet */
}

static void remove_dir(void)
{
    ledger_test_dir_remove(dir);
}

static void append_records(ledger *l, int count, const char *details)
{
    ledger_test_append(l, count, details, "{\"i\":1}");
}

/* Create a ledger at `path` holding `count` records. */
static void write_ledger(int count, const char *details)
{
    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), 0);
    ck_assert(!torn.found);
    append_records(l, count, details);
    ledger_close(l);
}

static char *read_all(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static void write_all(const char *file, const char *data, size_t len)
{
    FILE *f = fopen(file, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Offsets of the start of each line; returns the line count. */
static int line_starts(const char *data, size_t len, size_t starts[], int max)
{
    int n = 0;
    for (size_t i = 0; i < len && n < max; i++)
        if (i == 0 || data[i - 1] == '\n')
            starts[n++] = i;
    return n;
}

static ledger_verify_result verify(void)
{
    ledger_verify_result r;
    char msg[512];
    ck_assert_int_eq(ledger_verify_file(path, &r, msg, sizeof msg), 0);
    return r;
}

START_TEST(intact_chain_verifies)
{
    make_dir();
    write_ledger(5, "Calibrated.");
    ledger_verify_result r = verify();
    ck_assert(r.ok);
    ck_assert_uint_eq(r.records, 5);
    size_t len;
    const char *data = read_all(path, &len);
    ck_assert_uint_eq(r.good_bytes, len);
    /* Fields in the fixed order, genesis prev_hash on the first record. */
    ck_assert_int_eq(strncmp(data,
                             "{\"seq\":1,\"time\":\"2025-02-13T08:00:00.000Z\",\"node_id\":"
                             "\"NODE-LP-001\",\"module\":\"smart-host\",\"action\":",
                             94),
                     0);
    ck_assert_ptr_nonnull(strstr(data, "\"prev_hash\":\"0000000000000000000000000000000000000"
                                       "000000000000000000000000000\",\"hash\":\""));
    remove_dir();
}
END_TEST

START_TEST(empty_ledger_verifies)
{
    make_dir();
    write_ledger(0, "x");
    ledger_verify_result r = verify();
    ck_assert(r.ok);
    ck_assert_uint_eq(r.records, 0);
    ck_assert_str_eq(r.head_hash,
                     "0000000000000000000000000000000000000000000000000000000000000000");
    remove_dir();
}
END_TEST

START_TEST(flipped_byte_names_its_record)
{
    make_dir();
    write_ledger(5, "Calibrated.");
    size_t len, starts[8];
    char *data = read_all(path, &len);
    ck_assert_int_eq(line_starts(data, len, starts, 8), 5);
    char *details = strstr(data + starts[2], "Calibrated.");
    details[0] = 'c';
    write_all(path, data, len);
    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.bad_seq, 3);
    ck_assert_uint_eq(r.bad_line, 3);
    ck_assert_str_eq(r.why, "hash mismatch");
    char msg[600];
    ledger_describe_failure("L", &r, msg, sizeof msg);
    ck_assert_str_eq(msg, "ledger L: record seq 3 (line 3): hash mismatch");
    remove_dir();
}
END_TEST

START_TEST(deleted_line_is_found)
{
    make_dir();
    write_ledger(5, "Calibrated.");
    size_t len, starts[8];
    char *data = read_all(path, &len);
    line_starts(data, len, starts, 8);
    /* Drop line 3. */
    memmove(data + starts[2], data + starts[3], len - starts[3]);
    write_all(path, data, len - (starts[3] - starts[2]));
    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.bad_line, 3);
    ck_assert_uint_eq(r.bad_seq, 4);
    ck_assert_str_eq(r.why, "seq is 4, expected 3");
    ck_assert_uint_eq(r.records, 2);
    remove_dir();
}
END_TEST

START_TEST(swapped_lines_are_found)
{
    make_dir();
    write_ledger(4, "Calibrated.");
    size_t len, starts[8];
    char *data = read_all(path, &len);
    line_starts(data, len, starts, 8);
    size_t len2 = starts[2] - starts[1], len3 = starts[3] - starts[2];
    char swapped[1 << 16];
    memcpy(swapped, data, starts[1]);
    memcpy(swapped + starts[1], data + starts[2], len3);
    memcpy(swapped + starts[1] + len3, data + starts[1], len2);
    memcpy(swapped + starts[3], data + starts[3], len - starts[3]);
    write_all(path, swapped, len);
    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.bad_line, 2);
    ck_assert_uint_eq(r.bad_seq, 3);
    ck_assert_str_eq(r.why, "seq is 3, expected 2");
    remove_dir();
}
END_TEST

START_TEST(foreign_record_breaks_prev_hash)
{
    make_dir();
    write_ledger(2, "First ledger.");
    size_t len;
    char first[1 << 16];
    const char *first_data = read_all(path, &len);
    memcpy(first, first_data, len);
    size_t first_len = len;
    unlink(path);
    write_ledger(2, "Second ledger.");
    size_t starts[4];
    char *second = read_all(path, &len);
    line_starts(second, len, starts, 4);
    /* Line 1 of the first ledger, then line 2 of the second: each hash is intact. */
    size_t starts_first[4];
    line_starts(first, first_len, starts_first, 4);
    char mixed[1 << 16];
    memcpy(mixed, first, starts_first[1]);
    memcpy(mixed + starts_first[1], second + starts[1], len - starts[1]);
    write_all(path, mixed, starts_first[1] + len - starts[1]);
    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.bad_seq, 2);
    ck_assert_str_eq(r.why, "prev_hash does not match the hash of seq 1");
    remove_dir();
}
END_TEST

START_TEST(torn_tail_is_moved_aside_and_chain_continues)
{
    make_dir();
    write_ledger(3, "Calibrated.");
    size_t len;
    char *data = read_all(path, &len);
    char torn_bytes[] = "{\"seq\":4,\"time\":\"2025-02-13T08:00:03.000Z\",\"node_id\":\"NO";
    char with_tail[1 << 16];
    memcpy(with_tail, data, len);
    memcpy(with_tail + len, torn_bytes, sizeof torn_bytes - 1);
    write_all(path, with_tail, len + sizeof torn_bytes - 1);

    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_str_eq(r.why, "truncated line (no newline)");
    ck_assert_uint_eq(r.bad_seq, 4);

    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), 0);
    ck_assert(torn.found);
    ck_assert_uint_eq(torn.seq, 4);
    ck_assert_uint_eq(torn.bytes, sizeof torn_bytes - 1);
    char expected[PATH_MAX + 16];
    snprintf(expected, sizeof expected, "%s.torn-4", path);
    ck_assert_str_eq(torn.moved_to, expected);
    size_t moved_len;
    ck_assert_str_eq(read_all(expected, &moved_len), torn_bytes);
    ck_assert_uint_eq(ledger_record_count(l), 3);
    append_records(l, 2, "After the crash.");
    ledger_close(l);
    r = verify();
    ck_assert(r.ok);
    ck_assert_uint_eq(r.records, 5);
    remove_dir();
}
END_TEST

/* A complete last line (newline and all) that fails its hash was changed, not torn: refused,
 * and the file left as it is. */
START_TEST(complete_last_line_failing_its_hash_is_refused)
{
    make_dir();
    write_ledger(3, "Calibrated.");
    size_t len, starts[4];
    char *data = read_all(path, &len);
    line_starts(data, len, starts, 4);
    strstr(data + starts[2], "Calibrated.")[0] = 'X';
    write_all(path, data, len);
    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), LEDGER_EBROKEN);
    ck_assert_ptr_null(l);
    ck_assert(!torn.found);
    ck_assert_msg(strstr(msg, "record seq 3 (line 3): hash mismatch; the line is complete, so "
                              "this is not a torn write") != NULL,
                  "%s", msg);
    char *before = malloc(len);
    ck_assert_ptr_nonnull(before);
    memcpy(before, data, len);
    size_t after_len;
    char *after = read_all(path, &after_len); /* the same static buffer as `data` */
    ck_assert_uint_eq(after_len, len);
    ck_assert(memcmp(after, before, len) == 0);
    free(before);
    remove_dir();
}
END_TEST

/* The hash of any record on disk, by seq, as the module's witness check asks for it; records
 * not yet flushed are not on disk and not found. */
START_TEST(hash_at_reads_records_on_disk)
{
    make_dir();
    write_ledger(3, "Witnessed.");
    size_t len, starts[4];
    char *data = read_all(path, &len);
    line_starts(data, len, starts, 4);
    ledger *l;
    ledger_torn_tail torn;
    char msg[512], hash[LEDGER_HASH_HEX_LEN + 1];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), 0);
    uint64_t last = 99;
    for (uint64_t seq = 1; seq <= 3; seq++) {
        ck_assert_int_eq(ledger_hash_at(l, seq, hash, &last, msg, sizeof msg), 0);
        ck_assert_uint_eq(last, 3);
        size_t end = seq < 3 ? starts[seq] - 1 : len - 1;
        ck_assert(memcmp(hash, data + end - 2 - LEDGER_HASH_HEX_LEN, LEDGER_HASH_HEX_LEN) == 0);
    }
    ck_assert_str_eq(hash, ledger_head_hash(l));
    ledger_record record = {.time_ms = 1739433700000,
                            .node_id = "NODE-LP-001",
                            .module = "smart-host",
                            .action = "test.record",
                            .target = "EQ-1",
                            .details = "Not yet flushed.",
                            .user_id = "system"};
    ck_assert_int_eq(ledger_append(l, &record, msg, sizeof msg), 0);
    ck_assert_int_eq(ledger_hash_at(l, 4, hash, &last, msg, sizeof msg), -ERANGE);
    ck_assert_uint_eq(last, 3);
    ck_assert_msg(strstr(msg, "ends at record seq 3, before seq 4") != NULL, "%s", msg);
    ck_assert_int_eq(ledger_flush(l, msg, sizeof msg), 0);
    ck_assert_int_eq(ledger_hash_at(l, 4, hash, &last, msg, sizeof msg), 0);
    ck_assert_uint_eq(last, 4);
    ck_assert_str_eq(hash, ledger_head_hash(l));
    ck_assert_int_eq(ledger_hash_at(l, 0, hash, NULL, msg, sizeof msg), -EINVAL);
    ledger_close(l);
    remove_dir();
}
END_TEST

START_TEST(reopen_continues_seq_and_prev_hash)
{
    make_dir();
    write_ledger(3, "Before restart.");
    ledger_verify_result before = verify();
    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), 0);
    ck_assert_uint_eq(ledger_record_count(l), 3);
    ck_assert_str_eq(ledger_head_hash(l), before.head_hash);
    append_records(l, 2, "After restart.");
    ledger_close(l);
    ledger_verify_result after = verify();
    ck_assert(after.ok);
    ck_assert_uint_eq(after.records, 5);
    size_t len;
    const char *data = read_all(path, &len);
    char expected[200];
    snprintf(expected, sizeof expected, "{\"seq\":4,");
    ck_assert_ptr_nonnull(strstr(data, expected));
    snprintf(expected, sizeof expected, "\"prev_hash\":\"%s\"", before.head_hash);
    ck_assert_ptr_nonnull(strstr(data, expected));
    remove_dir();
}
END_TEST

START_TEST(broken_middle_refuses_to_open)
{
    make_dir();
    write_ledger(5, "Calibrated.");
    size_t len, starts[8];
    char *data = read_all(path, &len);
    line_starts(data, len, starts, 8);
    strstr(data + starts[2], "Calibrated.")[0] = 'X';
    write_all(path, data, len);
    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), LEDGER_EBROKEN);
    ck_assert_ptr_null(l);
    ck_assert_ptr_nonnull(strstr(msg, "record seq 3 (line 3): hash mismatch"));
    /* Nothing was changed: no torn file, same bytes. */
    size_t after_len;
    read_all(path, &after_len);
    ck_assert_uint_eq(after_len, len);
    remove_dir();
}
END_TEST

START_TEST(append_refuses_bad_strings)
{
    make_dir();
    ledger *l;
    ledger_torn_tail torn;
    char msg[512];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), 0);
    ledger_record record = {.time_ms = 0,
                            .node_id = "N",
                            .module = "m",
                            .action = "a",
                            .target = "t",
                            .details = "bad \xff utf-8",
                            .user_id = "u"};
    ck_assert_int_eq(ledger_append(l, &record, msg, sizeof msg), -EINVAL);
    ck_assert_str_eq(msg, "details: not valid UTF-8");
    record.details = NULL;
    ck_assert_int_eq(ledger_append(l, &record, msg, sizeof msg), -EINVAL);
    record.details = "quotes \" and \\ and \xc3\xa9 and a tab\t";
    ck_assert_int_eq(ledger_append(l, &record, msg, sizeof msg), 0);
    ck_assert_uint_eq(ledger_record_count(l), 1);
    ck_assert_int_eq(ledger_flush(l, msg, sizeof msg), 0);
    ledger_close(l);
    ledger_verify_result r = verify();
    ck_assert(r.ok);
    ck_assert_uint_eq(r.records, 1);
    remove_dir();
}
END_TEST

/* One record line sealed as the ledger seals it: `prefix` (a record up to its prev_hash, which
 * the caller wrote) then ,"hash":"<SHA-256 of prefix>"} and a newline, into out. */
static size_t seal_record(const char *prefix, char *out, size_t size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    ck_assert_int_eq(EVP_Digest(prefix, strlen(prefix), digest, &n, EVP_sha256(), NULL), 1);
    int len = snprintf(out, size, "%s,\"hash\":\"", prefix);
    for (unsigned int i = 0; i < n; i++)
        len += snprintf(out + len, size - (size_t)len, "%02x", digest[i]);
    len += snprintf(out + len, size - (size_t)len, "\"}\n");
    ck_assert_int_lt(len, (int)size);
    return (size_t)len;
}

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* Verification reads each record with simdjson's check first and yajl's scan for what it does
 * not take: on records near the edges of what a record may be, both ways give the same result
 * (verdict, seq, message, position), and the verdicts are the scan's. */
START_TEST(fast_check_reads_records_as_the_scan_does)
{
    static const struct {
        const char *seq, *module, *details, *metadata, *tail;
        const char *why;      /* NULL: intact */
        const char *user_key; /* NULL: user_id */
    } cases[] = {
        {"1", "m", "ok", "{\"i\":1}", "", NULL, NULL},
        {"0", "m", "ok", "{}", "", "field 'seq' has the wrong type", NULL},
        {"-1", "m", "ok", "{}", "", "field 'seq' has the wrong type", NULL},
        {"1.0", "m", "ok", "{}", "", "field 'seq' has the wrong type", NULL},
        {"\"1\"", "m", "ok", "{}", "", "field 'seq' has the wrong type", NULL},
        {"2", "m", "ok", "{}", "", "seq is 2, expected 1", NULL},
        {"9223372036854775808", "m", "ok", "{}", "", "not valid JSON", NULL},
        {"1", "m", "ok", "\"x\"", "", "field 'metadata' has the wrong type", NULL},
        {"1", "m", "ok", "{\"a\":1,\"a\":2}", "", "not valid JSON", NULL},
        {"1", "m", "ok", "{\"a\":{\"b\":1,\"b\":1}}", "", "not valid JSON", NULL},
        {"1", "m", "a\\u0000b", "{}", "", "not valid JSON", NULL},
        {"1", "m", "a\\ud800b", "{}", "", "not valid JSON", NULL},
        {"1", "m", "a\\ud83d\\ude00b", "{}", "", NULL, NULL},
        {"1", "m\\u0041", "ok", "{}", "", NULL, NULL},
        {"1", "a-module-name-longer-than-the-scan-keeps-of-a-module-name", "ok", "{}", "", NULL,
         NULL},
        /* Deeper than simdjson's check goes (64): the scan decides. */
        {"1", "m", "ok", "DEEP", "", "field 'metadata' has the wrong type", NULL},
        {"1", "m", "ok", "{\"d\":DEEP}", "", NULL, NULL},
        {"1", "m", "ok", "{}", ",\"extra\":1", "field 'extra' out of place (expected 'hash')",
         NULL},
        {"1", "m", "ok\"\v,\"x\":\"", "{}", "", "not valid JSON", NULL},
        /* A key that is the start of the field's name (user for user_id): not the field. */
        {"1", "m", "ok", "{}", "", "field 'user' out of place (expected 'user_id')", "user"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char metadata[256], prefix[1024], line[1200];
        const char *deep = strstr(cases[i].metadata, "DEEP");
        if (deep) { /* DEEP: 70 arrays, one in the other */
            char open[71], close[71];
            memset(open, '[', 70);
            memset(close, ']', 70);
            open[70] = close[70] = '\0';
            snprintf(metadata, sizeof metadata, "%.*s%s%s%s", (int)(deep - cases[i].metadata),
                     cases[i].metadata, open, close, deep + 4);
        } else {
            snprintf(metadata, sizeof metadata, "%s", cases[i].metadata);
        }
        snprintf(prefix, sizeof prefix,
                 "{\"seq\":%s,\"time\":\"2025-02-13T08:00:00.000Z\",\"node_id\":\"N\","
                 "\"module\":\"%s\",\"action\":\"a\",\"target\":\"T\",\"details\":\"%s\","
                 "\"%s\":\"system\",\"metadata\":%s,\"prev_hash\":\"" GENESIS "\"%s",
                 cases[i].seq, cases[i].module, cases[i].details,
                 cases[i].user_key ? cases[i].user_key : "user_id", metadata, cases[i].tail);
        size_t len = seal_record(prefix, line, sizeof line);
        ledger_verify_result fast, scanned;
        ledger_verify_buffer(line, len, &fast);
        ledger_verify_buffer_scan_only(line, len, &scanned);
        ck_assert_msg(memcmp(&fast, &scanned, sizeof fast) == 0,
                      "case %zu: fast ok=%d why '%s', scan ok=%d why '%s'", i, fast.ok, fast.why,
                      scanned.ok, scanned.why);
        if (cases[i].why == NULL)
            ck_assert_msg(fast.ok && fast.records == 1, "case %zu: %s", i, fast.why);
        else
            ck_assert_msg(!fast.ok && strcmp(fast.why, cases[i].why) == 0,
                          "case %zu: ok=%d why '%s'", i, fast.ok, fast.why);
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("ledger");
    TCase *tc = tcase_create("chain");
    tcase_add_test(tc, intact_chain_verifies);
    tcase_add_test(tc, empty_ledger_verifies);
    tcase_add_test(tc, flipped_byte_names_its_record);
    tcase_add_test(tc, deleted_line_is_found);
    tcase_add_test(tc, swapped_lines_are_found);
    tcase_add_test(tc, foreign_record_breaks_prev_hash);
    tcase_add_test(tc, torn_tail_is_moved_aside_and_chain_continues);
    tcase_add_test(tc, complete_last_line_failing_its_hash_is_refused);
    tcase_add_test(tc, hash_at_reads_records_on_disk);
    tcase_add_test(tc, reopen_continues_seq_and_prev_hash);
    tcase_add_test(tc, broken_middle_refuses_to_open);
    tcase_add_test(tc, append_refuses_bad_strings);
    tcase_add_test(tc, fast_check_reads_records_as_the_scan_does);
    suite_add_tcase(suite, tc);
    return suite;
}
