/*
 * test_ledger_mark.c — start-up from the "<ledger>.verified" mark (ledger_mark.h): a true mark
 * is used (only what follows it is verified), a mark that lies in any way (offset, hash, seq,
 * beyond the end, another file, not a mark) gives the same start or refusal as a verification
 * from the start, a record changed before the mark is still caught by ledger_verify_file; and
 * the streaming verifier (records longer than its read block, a key twice inside metadata) and
 * ledger_hash_at reading back over many blocks.
 */
#include "check_main.h"
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "ledger/ledger_mark.h"
#include "ledger_records.h"

static char dir[256];
static char path[PATH_MAX];

static void make_dir(void)
{
    ledger_test_dir_make(dir, sizeof dir, "smart-ledger-mark-test");
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
}

static void remove_dir(void)
{
    ledger_test_dir_remove(dir);
}

static ledger *open_ok(void)
{
    ledger *l;
    ledger_torn_tail torn;
    char msg[1024];
    int rc = ledger_open(path, &l, &torn, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s", msg);
    ck_assert(!torn.found);
    return l;
}

/* A ledger of `count` records, opened once more so that its mark is at record `count`. */
static void grow(int count)
{
    ledger *l = open_ok();
    ledger_test_append(l, count, "Calibrated.", "{\"i\":1}");
    ledger_close(l);
    l = open_ok();
    ck_assert_uint_eq(ledger_verified_from(l, NULL), 1);
    ledger_close(l);
}

static ledger_verify_result verify(void)
{
    ledger_verify_result r;
    char msg[512];
    ck_assert_int_eq(ledger_verify_file(path, &r, msg, sizeof msg), 0);
    return r;
}

static ledger_mark read_mark(void)
{
    ledger_mark m;
    char why[512];
    ck_assert_msg(ledger_mark_read(path, &m, why, sizeof why) == 0, "%s", why);
    return m;
}

static void write_mark(const ledger_mark *m)
{
    char msg[512];
    ck_assert_int_eq(ledger_mark_write(path, m, msg, sizeof msg), 0);
}

/* Change one byte of the ledger in place (same file, same length). */
static void poke(long offset, char c)
{
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, &c, 1, offset), 1);
    close(fd);
}

static char *slurp(size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *data = malloc(*len + 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, *len, f), *len);
    data[*len] = '\0';
    fclose(f);
    return data;
}

/* Offset of the first byte of line `n` (1-based). */
static long line_offset(int n)
{
    size_t len;
    char *data = slurp(&len);
    long at = 0;
    for (int line = 1; line < n; line++)
        at = strchr(data + at, '\n') - data + 1;
    free(data);
    return at;
}

START_TEST(mark_is_written_and_used)
{
    make_dir();
    grow(10);
    ledger_mark m = read_mark();
    ck_assert_uint_eq(m.seq, 10);
    ck_assert_uint_eq(m.start, (uint64_t)line_offset(10));
    ck_assert_uint_eq(m.end, (uint64_t)line_offset(11));
    ledger_verify_result full = verify();
    ck_assert_str_eq(m.hash, full.head_hash);

    ledger *l = open_ok();
    const char *why;
    ck_assert_uint_eq(ledger_verified_from(l, &why), 11);
    ck_assert_str_eq(why, "verified from the mark");
    ck_assert_uint_eq(ledger_record_count(l), 10);
    ck_assert_str_eq(ledger_head_hash(l), full.head_hash);
    ledger_test_append(l, 2, "After.", NULL);
    ledger_close(l);
    ck_assert(verify().ok);
    ck_assert_uint_eq(verify().records, 12);
    /* The next start verifies only the two records after the mark, and moves it. */
    l = open_ok();
    ck_assert_uint_eq(ledger_verified_from(l, NULL), 11);
    ledger_close(l);
    ck_assert_uint_eq(read_mark().seq, 12);
    remove_dir();
}
END_TEST

/* Each lie: the start is the one a verification from the start gives. */
static void check_lie_is_ignored(ledger_mark lie, const char *expect_why)
{
    ledger_verify_result full = verify();
    write_mark(&lie);
    ledger *l = open_ok();
    const char *why;
    ck_assert_uint_eq(ledger_verified_from(l, &why), 1);
    ck_assert_msg(strstr(why, expect_why) != NULL, "%s", why);
    ck_assert_uint_eq(ledger_record_count(l), full.records);
    ck_assert_str_eq(ledger_head_hash(l), full.head_hash);
    ledger_close(l);
    /* And the mark is now the true one again. */
    ledger_mark now = read_mark();
    ck_assert_uint_eq(now.seq, full.records);
    ck_assert_str_eq(now.hash, full.head_hash);
}

START_TEST(lying_marks_are_not_used)
{
    make_dir();
    grow(10);
    ledger_mark truth = read_mark();
    ledger_mark lie = truth;
    lie.start += 1; /* not a line's start */
    check_lie_is_ignored(lie, "no record line");
    lie = truth;
    lie.end -= 1; /* not a line's end */
    check_lie_is_ignored(lie, "no record line");
    lie = truth;
    lie.start = (uint64_t)line_offset(4); /* several lines */
    check_lie_is_ignored(lie, "no record line");
    lie = truth;
    lie.hash[0] = lie.hash[0] == 'a' ? 'b' : 'a';
    check_lie_is_ignored(lie, "another hash");
    lie = truth;
    lie.seq = 9; /* the right record, the wrong seq */
    check_lie_is_ignored(lie, "seq is 10, expected 9");
    lie = truth;
    lie.start = truth.end;
    lie.end = truth.end + 500;
    check_lie_is_ignored(lie, "is not inside");
    lie = truth;
    lie.ino += 1;
    check_lie_is_ignored(lie, "another file");
    lie = truth;
    lie.start = 0;
    lie.end = truth.end; /* the whole file as one "record" */
    check_lie_is_ignored(lie, "no record line");
    /* Not a mark at all. */
    char mark_path[PATH_MAX + 16];
    snprintf(mark_path, sizeof mark_path, "%s.verified", path);
    FILE *f = fopen(mark_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"seq\":\"ten\"}\n", f);
    fclose(f);
    ledger *l = open_ok();
    const char *why;
    ck_assert_uint_eq(ledger_verified_from(l, &why), 1);
    ck_assert_ptr_nonnull(strstr(why, "not a well-formed mark"));
    ledger_close(l);
    /* No mark. */
    ck_assert_int_eq(unlink(mark_path), 0);
    l = open_ok();
    ck_assert_uint_eq(ledger_verified_from(l, NULL), 1);
    ledger_close(l);
    remove_dir();
}
END_TEST

/* An earlier true position is a true mark: verification goes on from there. */
START_TEST(earlier_true_mark_is_used)
{
    make_dir();
    grow(10);
    ledger_mark m = read_mark();
    size_t len;
    char *data = slurp(&len);
    m.seq = 5;
    m.start = (uint64_t)line_offset(5);
    m.end = (uint64_t)line_offset(6);
    const char *h = strstr(data + m.start, "\"hash\":\"") + 8;
    memcpy(m.hash, h, LEDGER_HASH_HEX_LEN);
    free(data);
    write_mark(&m);
    ledger *l = open_ok();
    ck_assert_uint_eq(ledger_verified_from(l, NULL), 6);
    ck_assert_str_eq(ledger_head_hash(l), verify().head_hash);
    ledger_close(l);
    remove_dir();
}
END_TEST

/* A lying mark over a ledger broken before it: refused with the message a verification from
 * the start gives. */
START_TEST(lying_mark_over_broken_chain_is_refused)
{
    make_dir();
    grow(10);
    ledger_mark truth = read_mark();
    poke(line_offset(3) + 2, 'x'); /* {"xeq": record 3 no longer hashes */
    ledger *l;
    ledger_torn_tail torn;
    char expected[1024], msg[1024];
    ledger_verify_result full = verify();
    ck_assert(!full.ok);
    ledger_describe_failure(path, &full, expected, sizeof expected);
    ck_assert_ptr_nonnull(strstr(expected, "record seq 3 (line 3): hash mismatch"));
    ledger_mark lies[3] = {truth, truth, truth};
    lies[0].hash[5] ^= 1;
    lies[1].end += 1;
    lies[2].start += 3;
    for (int i = 0; i < 3; i++) {
        write_mark(&lies[i]);
        ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), LEDGER_EBROKEN);
        ck_assert_ptr_null(l);
        ck_assert_str_eq(msg, expected);
    }
    remove_dir();
}
END_TEST

/* What a true mark does not cover: a record changed before it is not looked at by the start
 * (that is the point of the mark) but `ledger verify` (ledger_verify_file) still finds it. */
START_TEST(record_changed_before_the_mark_is_found_by_verify)
{
    make_dir();
    grow(10);
    poke(line_offset(3) + 2, 'x');
    ledger *l = open_ok();
    ck_assert_uint_eq(ledger_verified_from(l, NULL), 11);
    ledger_close(l);
    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.bad_line, 3);
    ck_assert_str_eq(r.why, "hash mismatch");
    ck_assert_uint_eq(r.records, 2);
    remove_dir();
}
END_TEST

/* After a true mark, the records that follow are verified as before: a changed one refused, a
 * torn last line moved aside. */
START_TEST(records_after_the_mark_are_verified)
{
    make_dir();
    grow(10);
    ledger *l = open_ok();
    ledger_test_append(l, 5, "Calibrated.", NULL);
    ledger_close(l);
    long at = line_offset(13);
    poke(at + 2, 'x');
    ledger_torn_tail torn;
    char msg[1024];
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), LEDGER_EBROKEN);
    ck_assert_msg(strstr(msg, "record seq 13 (line 13): hash mismatch") != NULL, "%s", msg);
    poke(at + 2, 's');
    /* A torn last line. */
    size_t len;
    char *data = slurp(&len);
    ck_assert_int_eq(truncate(path, (off_t)len - 7), 0);
    free(data);
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), 0);
    ck_assert(torn.found);
    ck_assert_uint_eq(torn.seq, 15);
    ck_assert_uint_eq(ledger_verified_from(l, NULL), 11);
    ck_assert_uint_eq(ledger_record_count(l), 14);
    ledger_close(l);
    ck_assert(verify().ok);
    remove_dir();
}
END_TEST

/* Records longer than the verifier's read block, and ledger_hash_at reading back over many of
 * its blocks. */
START_TEST(long_records_and_hash_at)
{
    make_dir();
    size_t big = 3 * 1024 * 1024;
    char *details = malloc(big + 1);
    ck_assert_ptr_nonnull(details);
    memset(details, 'd', big);
    details[big] = '\0';
    ledger *l = open_ok();
    ledger_test_append(l, 3, "short", NULL);
    ledger_test_append(l, 2, details, NULL);
    ledger_test_append(l, 300, "a record of a more ordinary length, repeated", NULL);
    ledger_close(l);
    free(details);
    ledger_verify_result r = verify();
    ck_assert(r.ok);
    ck_assert_uint_eq(r.records, 305);
    l = open_ok();
    size_t len;
    char *data = slurp(&len);
    for (uint64_t seq = 1; seq <= 305; seq++) {
        char hash[LEDGER_HASH_HEX_LEN + 1], msg[512];
        uint64_t last;
        ck_assert_int_eq(ledger_hash_at(l, seq, hash, &last, msg, sizeof msg), 0);
        ck_assert_uint_eq(last, 305);
        long at = 0;
        for (uint64_t line = 1; line < seq; line++)
            at = strchr(data + at, '\n') - data + 1;
        const char *h =
            strstr(strchr(data + at, '\n') - 2 - LEDGER_HASH_HEX_LEN - 8, "\"hash\":\"");
        ck_assert_int_eq(strncmp(hash, h + 8, LEDGER_HASH_HEX_LEN), 0);
    }
    free(data);
    ledger_close(l);
    remove_dir();
}
END_TEST

/* The field scan refuses what jansson refused: a key twice inside metadata, at any depth. */
START_TEST(duplicate_key_in_metadata_is_not_valid_json)
{
    make_dir();
    ledger *l = open_ok();
    ledger_test_append(l, 2, "fine", "{\"a\":{\"b\":1,\"c\":[{\"b\":2}],\"d\":3}}");
    ledger_test_append(l, 1, "twice", "{\"a\":{\"b\":1,\"c\":[{\"b\":2}],\"b\":3}}");
    ledger_close(l);
    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.bad_line, 3);
    ck_assert_str_eq(r.why, "not valid JSON");
    remove_dir();
}
END_TEST

/* ... and a lone UTF-16 surrogate, and values nested deeper than jansson reads (2048). */
START_TEST(lone_surrogate_and_deep_nesting_are_not_valid_json)
{
    static const char *const bad[] = {"{\"a\":\"\\ud800\"}", NULL};
    char *deep = malloc(8 * 2049 + 8);
    ck_assert_ptr_nonnull(deep);
    for (int depth = 2047; depth <= 2048; depth++) { /* with the record itself, 2048 and 2049 */
        make_dir();
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            n += (size_t)sprintf(deep + n, i + 1 < depth ? "{\"a\":" : "{\"a\":1");
        for (int i = 0; i < depth; i++)
            deep[n++] = '}';
        deep[n] = '\0';
        ledger *l = open_ok();
        ledger_test_append(l, 1, "deep", deep);
        ledger_close(l);
        ledger_verify_result r = verify();
        ck_assert_msg(r.ok == (depth == 2047), "depth %d: %s", depth, r.why);
        remove_dir();
    }
    free(deep);
    make_dir();
    ledger *l = open_ok();
    ledger_test_append(l, 1, "fine", "{\"a\":\"\\ud83d\\ude00\"}"); /* a pair is fine */
    ledger_test_append(l, 1, "lone", bad[0]);
    ledger_close(l);
    ledger_verify_result r = verify();
    ck_assert(!r.ok);
    ck_assert_uint_eq(r.bad_line, 2);
    ck_assert_str_eq(r.why, "not valid JSON");
    remove_dir();
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("ledger_mark");
    TCase *tc = tcase_create("mark");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mark_is_written_and_used);
    tcase_add_test(tc, lying_marks_are_not_used);
    tcase_add_test(tc, earlier_true_mark_is_used);
    tcase_add_test(tc, lying_mark_over_broken_chain_is_refused);
    tcase_add_test(tc, record_changed_before_the_mark_is_found_by_verify);
    tcase_add_test(tc, records_after_the_mark_are_verified);
    tcase_add_test(tc, long_records_and_hash_at);
    tcase_add_test(tc, duplicate_key_in_metadata_is_not_valid_json);
    tcase_add_test(tc, lone_surrogate_and_deep_nesting_are_not_valid_json);
    suite_add_tcase(suite, tc);
    return suite;
}
