/*
 * test_ledger_stream.c — verification in batches of lines checked, then chained (ledger.c,
 * check_batch, verify_batch), over a file read in blocks, names the same first bad record as
 * one record after another would, wherever in a batch or a block it falls; ledger_verify_file_each
 * visits every intact record once, in order, with its hash, module and action, and stops at a
 * visitor's refusal.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check_main.h"
#include "ledger/ledger.h"

#define RECORDS 10000

static char dir[256];
static char path[PATH_MAX];
static char *pristine; /* the ledger's bytes as written */
static size_t pristine_len;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/smart-ledger-stream-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    ledger *l;
    ledger_torn_tail torn;
    char msg[512], details[400];
    /* Long enough records that the file (some 5 MB) is read in more than one block. */
    snprintf(details, sizeof details, "a record of the stream test, %0300d", 0);
    ck_assert_int_eq(ledger_open(path, &l, &torn, msg, sizeof msg), 0);
    for (int i = 0; i < RECORDS; i++) {
        char meta[64];
        int n = snprintf(meta, sizeof meta, "{\"i\":%d}", i);
        ledger_record record = {
            .time_ms = 1739433600000 + i * 1000,
            .node_id = "NODE-LP-001",
            .module = i % 7 ? "smart-maintenance" : "smart-host",
            .action = i % 7 ? "test.record" : "test.other",
            .target = "EQ-1",
            .details = details,
            .user_id = "system",
            .metadata_json = meta,
            .metadata_len = (size_t)n,
        };
        ck_assert_int_eq(ledger_append(l, &record, msg, sizeof msg), 0);
    }
    ck_assert_int_eq(ledger_flush(l, msg, sizeof msg), 0);
    ledger_close(l);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    pristine_len = (size_t)ftell(f);
    rewind(f);
    pristine = malloc(pristine_len + 1);
    ck_assert_uint_eq(fread(pristine, 1, pristine_len, f), pristine_len);
    fclose(f);
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(pristine);
}

/* The offset of record `seq`'s line in `text`. */
static size_t line_of(const char *text, int seq)
{
    size_t at = 0;
    for (int i = 1; i < seq; i++)
        at = (size_t)((const char *)memchr(text + at, '\n', pristine_len - at) - text) + 1;
    return at;
}

static void write_text(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* Verifies the file and the buffer, and checks both name `seq` (line `seq`) as the first bad
 * record, with `why`. */
static void expect_bad(const char *text, size_t len, int seq, const char *why)
{
    write_text(text, len);
    ledger_verify_result r, b;
    char msg[512];
    ck_assert_int_eq(ledger_verify_file(path, &r, msg, sizeof msg), 0);
    ledger_verify_buffer(text, len, &b);
    const ledger_verify_result *both[] = {&r, &b};
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(!both[i]->ok, "record %d: passed", seq);
        ck_assert_uint_eq(both[i]->bad_seq, (uint64_t)seq);
        ck_assert_uint_eq(both[i]->bad_line, (uint64_t)seq);
        ck_assert_uint_eq(both[i]->records, (uint64_t)seq - 1);
        ck_assert_msg(strstr(both[i]->why, why) != NULL, "record %d: %s", seq, both[i]->why);
    }
    ck_assert_str_eq(r.head_hash, b.head_hash);
}

/* Record positions around the batches (4096 lines) and their halves. */
static const int POSITIONS[] = {1,    2,    63,   64,   2047, 2048, 2049,
                                4095, 4096, 4097, 6144, 9999, 10000};
#define POSITION_COUNT (int)(sizeof POSITIONS / sizeof POSITIONS[0])

START_TEST(a_changed_record_is_named_wherever_it_falls)
{
    for (int k = 0; k < POSITION_COUNT; k++) {
        char *text = malloc(pristine_len);
        memcpy(text, pristine, pristine_len);
        char *at = strstr(text + line_of(text, POSITIONS[k]), "stream test");
        at[0] = 'S'; /* "Stream": the record's bytes no longer have its hash */
        expect_bad(text, pristine_len, POSITIONS[k], "hash mismatch");
        free(text);
    }
}
END_TEST

/* yajl takes an object followed by an unterminated string as complete, and vertical tab and form
 * feed for whitespace (plugin/yajl_gaps/yajl_gaps.h); such a line is no record for jansson, so verification
 * must refuse it, whatever its hash says. */
START_TEST(what_yajl_alone_takes_after_a_record_is_refused)
{
    const char *tails[] = {"\"", "\"x", "  \"x}", "\v", "\f "};
    for (int k = 0; k < POSITION_COUNT; k++) {
        const char *tail = tails[k % 5];
        size_t tail_len = strlen(tail);
        char *text = malloc(pristine_len + tail_len);
        size_t end = line_of(pristine, POSITIONS[k] + 1) - 1; /* at the record's '\n' */
        memcpy(text, pristine, end);
        memcpy(text + end, tail, tail_len);
        memcpy(text + end + tail_len, pristine + end, pristine_len - end);
        expect_bad(text, pristine_len + tail_len, POSITIONS[k], "not valid JSON");
        free(text);
    }
}
END_TEST

START_TEST(a_removed_record_breaks_the_chain_at_the_next)
{
    for (int k = 0; k < POSITION_COUNT - 1; k++) {
        int seq = POSITIONS[k];
        size_t from = line_of(pristine, seq), to = line_of(pristine, seq + 1);
        char *text = malloc(pristine_len);
        memcpy(text, pristine, from);
        memcpy(text + from, pristine + to, pristine_len - to);
        /* The line at `seq` is now record seq + 1: intact, but out of place. */
        write_text(text, pristine_len - (to - from));
        ledger_verify_result r;
        char msg[512];
        ck_assert_int_eq(ledger_verify_file(path, &r, msg, sizeof msg), 0);
        ck_assert(!r.ok);
        ck_assert_uint_eq(r.bad_line, (uint64_t)seq);
        ck_assert_uint_eq(r.records, (uint64_t)seq - 1);
        ck_assert_msg(strstr(r.why, "seq is") != NULL, "%s", r.why);
        free(text);
    }
}
END_TEST

/* Record `seq` of the pristine ledger with `from` replaced by `to` and its hash made to match
 * its bytes again: a record that passes the hash check and fails only the field scan. */
static char *forge(int seq, const char *from, const char *to, size_t *len)
{
    size_t at = line_of(pristine, seq), end = line_of(pristine, seq + 1);
    char line[4096];
    memcpy(line, pristine + at, end - at - 1);
    line[end - at - 1] = '\0';
    char *hit = strstr(line, from);
    ck_assert_ptr_nonnull(hit);
    char changed[4096];
    snprintf(changed, sizeof changed, "%.*s%s%s", (int)(hit - line), line, to, hit + strlen(from));
    char *hash_key = strstr(changed, ",\"hash\":\"");
    unsigned char digest[32];
    unsigned int n = 0;
    ck_assert(EVP_Digest(changed, (size_t)(hash_key - changed), digest, &n, EVP_sha256(), NULL));
    for (int i = 0; i < 32; i++)
        snprintf(hash_key + 9 + 2 * i, 3, "%02x", digest[i]);
    hash_key[9 + 64] = '"';
    size_t changed_len = strlen(changed);
    char *text = malloc(pristine_len + 64);
    memcpy(text, pristine, at);
    memcpy(text + at, changed, changed_len);
    text[at + changed_len] = '\n';
    memcpy(text + at + changed_len + 1, pristine + end, pristine_len - end);
    *len = at + changed_len + 1 + (pristine_len - end);
    return text;
}

START_TEST(each_field_is_of_its_type)
{
    static const struct {
        const char *from, *to, *why;
    } cases[] = {
        {"\"metadata\":{\"i\":", "\"metadata\":\"x\",\"m\":{\"i\":",
         "field 'metadata' has the wrong type"},
        {"\"details\":\"a record", "\"details\":{\"a\":1},\"d\":\"a record",
         "field 'details' has the wrong type"},
        {"\"user_id\":\"system\"", "\"user_id\":7", "field 'user_id' has the wrong type"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int k = 0; k < POSITION_COUNT; k++) {
            size_t len;
            char *text = forge(POSITIONS[k], cases[c].from, cases[c].to, &len);
            expect_bad(text, len, POSITIONS[k], cases[c].why);
            free(text);
        }
}
END_TEST

typedef struct visits {
    uint64_t count, host_records, stop_at;
    char last_hash[LEDGER_HASH_HEX_LEN + 1];
    bool in_order;
} visits;

static int count_visit(void *ctx, const ledger_visited *rec)
{
    visits *v = ctx;
    v->in_order &= rec->seq == v->count + 1 && rec->line[0] == '{' && rec->line[rec->len] == '\n';
    v->count++;
    v->host_records +=
        strcmp(rec->module, "smart-host") == 0 && strcmp(rec->action, "test.other") == 0;
    memcpy(v->last_hash, rec->hash, sizeof v->last_hash);
    return v->count == v->stop_at ? -ENOMEM : 0;
}

START_TEST(every_intact_record_is_visited_once_in_order)
{
    visits v = {.in_order = true};
    ledger_verify_result r;
    char msg[512];
    ck_assert_int_eq(ledger_verify_file_each(path, &r, count_visit, &v, msg, sizeof msg), 0);
    ck_assert(r.ok);
    ck_assert(v.in_order);
    ck_assert_uint_eq(v.count, RECORDS);
    ck_assert_uint_eq(v.host_records, (RECORDS + 6) / 7);
    ck_assert_str_eq(v.last_hash, r.head_hash);
    /* A visitor's refusal stops the walk and is returned. */
    visits stop = {.in_order = true, .stop_at = 3000};
    ck_assert_int_eq(ledger_verify_file_each(path, &r, count_visit, &stop, msg, sizeof msg),
                     -ENOMEM);
    ck_assert_uint_eq(stop.count, 3000);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("ledger_stream");
    TCase *tc = tcase_create("stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_changed_record_is_named_wherever_it_falls);
    tcase_add_test(tc, what_yajl_alone_takes_after_a_record_is_refused);
    tcase_add_test(tc, a_removed_record_breaks_the_chain_at_the_next);
    tcase_add_test(tc, each_field_is_of_its_type);
    tcase_add_test(tc, every_intact_record_is_visited_once_in_order);
    suite_add_tcase(s, tc);
    return s;
}
