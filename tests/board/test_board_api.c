/*
 * test_board_api.c — GET /api/ledger/recent on a station whose ledger does not exist yet: the
 * board starts before the host opens (on a new station, creates) the ledger, and the first
 * requests answered 500 ("cannot read the ledger: No such file or directory"). Until a batch
 * is durable, a missing ledger is an empty list (schemas/board-ledger.schema.json); once one
 * is, a missing ledger is still an error; a ledger written is read as before.
 */
#include "check_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board/board_api.h"

static char dir[64];
static char path[128];
static board_state *state;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/smart-board-api-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    ck_assert_int_eq(board_state_new(path, 0, &state), 0);
}

static void teardown(void)
{
    board_state_free(state);
    unlink(path);
    rmdir(dir);
}

/* The answer to GET /api/ledger/recent: its status, and its body in `body` (freed by the
 * caller). */
static int recent(strbuf *body)
{
    board_answer a;
    ck_assert_int_eq(board_state_answer(state, "/api/ledger/recent", NULL, 0, body, &a), 0);
    return a.status;
}

START_TEST(no_ledger_yet_is_an_empty_list)
{
    strbuf body = STRBUF_INIT;
    ck_assert_int_eq(recent(&body), 200);
    ck_assert_str_eq(body.data, "{\"seq\":0,\"records\":[]}");
    strbuf_free(&body);
}
END_TEST

START_TEST(a_ledger_gone_after_a_durable_batch_is_an_error)
{
    static const char line[] = "{\"topic\":\"alert\",\"data\":{}}\n";
    board_msg *out[2] = {NULL, NULL};
    ck_assert_int_eq(board_state_durable(state, line, sizeof line - 1, 3, 0, 0, 0, out), 0);
    strbuf body = STRBUF_INIT;
    ck_assert_int_eq(recent(&body), 500);
    ck_assert_ptr_nonnull(strstr(body.data, "cannot read the ledger"));
    strbuf_free(&body);
}
END_TEST

START_TEST(a_ledger_written_is_read)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"seq\":1,\"action\":\"host.started\"}\n", f);
    fclose(f);
    strbuf body = STRBUF_INIT;
    ck_assert_int_eq(recent(&body), 200);
    ck_assert_str_eq(body.data,
                     "{\"seq\":0,\"records\":[{\"seq\":1,\"action\":\"host.started\"}]}");
    strbuf_free(&body);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("board_api");
    TCase *tc = tcase_create("ledger_recent");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, no_ledger_yet_is_an_empty_list);
    tcase_add_test(tc, a_ledger_gone_after_a_durable_batch_is_an_error);
    tcase_add_test(tc, a_ledger_written_is_read);
    suite_add_tcase(s, tc);
    return s;
}
