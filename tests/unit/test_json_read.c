/* The contract JSON reader (plugin/json/json_read.c, yajl) against jansson's json_loadb:
 * the same tree for what both take, jansson's exact message for what it refuses, including the
 * inputs yajl alone would read otherwise; and a loaded set keeps its terms, not the parse trees
 * of its files. */
#include "contract/contract.h"
#include "json/json_fields.h"
#include "json/json_read.h"

#include "check_main.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads `text` (len bytes) both ways and checks they agree: equal trees, or the same refusal. */
static void assert_as_jansson(const char *text, size_t len)
{
    json_error_t ours, theirs;
    json_t *a = jr_read(text, len, &ours);
    json_t *b = json_loadb(text, len, JSON_REJECT_DUPLICATES, &theirs);
    ck_assert_msg(!a == !b, "%.*s: reader %s, jansson %s (%s)", (int)(len < 60 ? len : 60), text,
                  a ? "took it" : ours.text, b ? "took it" : "refused", theirs.text);
    if (a) {
        ck_assert_msg(json_equal(a, b), "%.*s: another tree", (int)(len < 60 ? len : 60), text);
    } else {
        ck_assert_str_eq(ours.text, theirs.text);
        ck_assert_int_eq(ours.line, theirs.line);
        ck_assert_int_eq(ours.column, theirs.column);
    }
    json_decref(a);
    json_decref(b);
}

#define AS_JANSSON(literal) assert_as_jansson(literal, sizeof literal - 1)

START_TEST(what_both_take_reads_the_same)
{
    AS_JANSSON("{}");
    AS_JANSSON("[]");
    AS_JANSSON("{\"a\": [1, -0, 2.5, 1e3, -1E-2, true, false, null, \"x\"], \"b\": {\"c\": {}}}");
    AS_JANSSON("{\"µW/cm²\": \"≥ 1000 µW/cm²\"}");
    AS_JANSSON("{\"intensity, µW/cm²\": \"at least 1000 µW/cm², read at 38 cm\"}");
    AS_JANSSON("{\"pair\": \"\\ud83d\\ude00\", \"esc\": \"\\\\ud800 \\n\\t\\\"\"}");
    AS_JANSSON(" \r\n\t{\"a\":1} \n");
    AS_JANSSON("{\"big\": 9223372036854775807, \"small\": -9223372036854775808}");
    AS_JANSSON("{\"tiny\": 1e-400}");
    /* Key order is kept, as jansson keeps it (a contract's first unknown key is named). */
    const char *text = "{\"z\": 1, \"a\": 2, \"m\": 3}";
    json_error_t e;
    json_t *doc = jr_read(text, strlen(text), &e);
    ck_assert_ptr_nonnull(doc);
    char *dumped = json_dumps(doc, JSON_COMPACT);
    ck_assert_str_eq(dumped, "{\"z\":1,\"a\":2,\"m\":3}");
    free(dumped);
    json_decref(doc);
}
END_TEST

START_TEST(what_jansson_refuses_is_refused_with_its_message)
{
    AS_JANSSON("");
    AS_JANSSON("   ");
    AS_JANSSON("{");
    AS_JANSSON("{\"a\": 1,}");
    AS_JANSSON("{\"a\": 1} {}");
    AS_JANSSON("{\"a\": 1, \"a\": 2}");
    AS_JANSSON("{\"a\": {\"b\": 1, \"b\": 1}}");
    /* a key twice with containers as values, the first one's freed when the second replaces it */
    AS_JANSSON("{\"a\": {\"x\": [1, {\"y\": 2}]}, \"b\": 2, \"a\": [3]}");
    AS_JANSSON("{\"a\": [1], \"a\": {\"b\": 1}}");
    AS_JANSSON("{\"\xc3\xa9\": 1, \"\xc3\xa9\": 2}"); /* a key checked as UTF-8, twice */
    /* bytes above 0x7f within the first eight, past them, and last, in strings and keys (read
     * eight at a time) */
    AS_JANSSON("{\"a\": \"seventeen chars \xff\"}");
    AS_JANSSON("{\"a\": \"abcdefgh\xffijklmnop\"}");
    AS_JANSSON("{\"a\": \"abc\xff\"}");
    AS_JANSSON("{\"a long key of 18\xff\": 1}");
    AS_JANSSON("{\"abcdefghij\xc0\x80\": 1}");
    AS_JANSSON("5");
    AS_JANSSON("\"text\"");
    AS_JANSSON("{\"a\": 01}");
    AS_JANSSON("{\"a\": 99999999999999999999}");
    AS_JANSSON("{\"a\": -99999999999999999999}");
    AS_JANSSON("{\"a\": 1e400}");
    AS_JANSSON("{\"a\": \"\\u0000\"}");
    AS_JANSSON("{\"\\u0000\": 1}");
    AS_JANSSON("{\"a\": \"\\ud800\"}");
    AS_JANSSON("{\"a\": \"\\udc00x\"}");
    AS_JANSSON("{\"a\": \"\xc0\x80\"}");     /* an overlong NUL */
    AS_JANSSON("{\"a\": \"\xed\xa0\x80\"}"); /* a surrogate, in UTF-8 */
    AS_JANSSON("{\"\xff\": 1}");
    AS_JANSSON("{\"a\":\f1}"); /* yajl's white space, not jansson's */
    AS_JANSSON("{\"a\":\v1}");
    AS_JANSSON("{\"a\": \"tab\there\"}");
    AS_JANSSON("\xef\xbb\xbf{}"); /* a byte order mark */
    AS_JANSSON("{\"a\": 1}\n// comment");
    AS_JANSSON("{\"a\": tru}");
    /* yajl takes a root followed by an open string as complete (plugin/yajl_gaps/yajl_gaps.h) */
    AS_JANSSON("{\"a\": 1}\"");
    AS_JANSSON("{\"a\": 1} \"x}");
    AS_JANSSON("[1]\"x");
}
END_TEST

/* Deeper than jansson's limit (2048) is refused with its message; at the limit it is taken. */
START_TEST(nesting_is_judged_as_jansson_judges_it)
{
    for (size_t depth = 2047; depth <= 2050; depth++) {
        size_t len = 2 * depth;
        char *text = malloc(len);
        ck_assert_ptr_nonnull(text);
        memset(text, '[', depth);
        memset(text + depth, ']', depth);
        assert_as_jansson(text, len);
        free(text);
    }
}
END_TEST

/* A contract refused for its JSON names the file, line and column, in jansson's words. */
START_TEST(a_bad_file_keeps_its_message)
{
    const char *text =
        "{\n  \"smart_contract_id\": \"LP-X\",\n  \"smart_contract_id\": \"LP-Y\"\n}";
    contract c;
    smart_error err = {0};
    ck_assert_int_eq(contract_parse("LP-X.json", text, strlen(text), &c, &err), SMART_ECONTRACT);
    json_error_t jerr;
    json_t *doc = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_ptr_null(doc);
    char want[512];
    snprintf(want, sizeof want, "LP-X.json:%d:%d: not valid JSON: %s", jerr.line, jerr.column,
             jerr.text);
    ck_assert_str_eq(err.text, want);
}
END_TEST

/* A set in force holds its contracts' terms, their strings its own: no parse tree. */
START_TEST(a_loaded_set_keeps_no_document)
{
    char dir[] = "/tmp/test-contract-json-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/LP-A.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"smart_contract_id\": \"LP-A\", \"contract_type\": \"SmartMaintenance\", "
          "\"version\": 1, \"station_type\": \"LP\", \"equipment_list\": [{\"equipment_id\": "
          "\"LP-A-1\", \"description\": \"UV-A lamp\", \"equipment_type\": \"uv_lamp\", "
          "\"tolerances\": [{\"parameter\": \"irradiance\", \"unit\": \"uW/cm2\", \"min\": 1000, "
          "\"reference_standards\": [\"radiometer\"]}]}], \"procedures\": [{\"procedure_id\": "
          "\"LP-UV\", \"title\": \"UV check\", \"equipment\": [\"LP-A-1\"], \"frequency\": "
          "\"daily\", \"reference_instruments\": [\"radiometer\"], \"checklist_steps\": "
          "[{\"step_id\": \"s1\", \"description\": \"read it\", \"input_type\": \"number\", "
          "\"unit\": \"uW/cm2\", \"min\": 1000}]}]}",
          f);
    fclose(f);
    contract_set set;
    contract_refusal why = {0};
    ck_assert_msg(contract_set_load(dir, "LP", &set, &why) == 0, "%s", why.error.text);
    unlink(path);
    rmdir(dir);
    ck_assert_int_eq(set.contract_count, 1);
    const contract *c = &set.contracts[0];
    ck_assert_ptr_null(c->document);
    ck_assert_ptr_nonnull(c->strings);
    ck_assert_str_eq(c->contract_id, "LP-A");
    const contract_item *it = contract_set_find(&set, "LP-A-1");
    ck_assert_ptr_nonnull(it);
    ck_assert_str_eq(it->description, "UV-A lamp");
    ck_assert_str_eq(it->tolerances[0].unit, "uW/cm2");
    ck_assert_str_eq(json_string_value(json_array_get(it->tolerances[0].references, 0)),
                     "radiometer");
    const procedure *p = it->procedures[0];
    ck_assert_str_eq(p->procedure_id, "LP-UV");
    ck_assert_str_eq(p->steps[0].step_id, "s1");
    ck_assert_str_eq(json_string_value(json_array_get(p->equipment, 0)), "LP-A-1");
    ck_assert_str_eq(json_string_value(json_array_get(p->references, 0)), "radiometer");
    contract_set_release(&set);
}
END_TEST

typedef struct seen {
    size_t count;
    char ids[8][32];
} seen;

static int note_element(void *ctx, size_t index, json_t *element)
{
    seen *s = ctx;
    ck_assert_int_eq(index, s->count);
    const char *id = json_string_value(json_object_get(element, "id"));
    snprintf(s->ids[s->count++], sizeof s->ids[0], "%s",
             id                         ? id
             : json_is_integer(element) ? "int"
                                        : "?");
    return 0;
}

/* Each element of the streamed array is handed over complete and in order, then left as null;
 * an array of the same name deeper down is not streamed. */
START_TEST(the_streamed_array_is_handed_over_element_by_element)
{
    const char *text = "{\"a\": {\"list\": [{\"id\": \"deep\"}]}, \"list\": [{\"id\": \"x\", "
                       "\"t\": [1, {\"u\": 2}]}, 7, {\"id\": \"y\"}], \"z\": 1}";
    seen s = {0};
    json_error_t e;
    json_t *doc = jr_read_streaming(text, strlen(text), "list", note_element, &s, &e);
    ck_assert_msg(doc != NULL, "%s", e.text);
    ck_assert_int_eq(s.count, 3);
    ck_assert_str_eq(s.ids[0], "x");
    ck_assert_str_eq(s.ids[1], "int");
    ck_assert_str_eq(s.ids[2], "y");
    char *dumped = json_dumps(doc, JSON_COMPACT);
    ck_assert_str_eq(dumped,
                     "{\"a\":{\"list\":[{\"id\":\"deep\"}]},\"list\":[null,null,null],\"z\":1}");
    free(dumped);
    json_decref(doc);
    /* The streamed array's key twice: refused with jansson's message, after the first's elements
     * (its tree freed when the second replaced it). */
    const char *twice = "{\"list\": [{\"id\": \"x\"}], \"list\": [{\"id\": \"y\"}]}";
    seen again = {0};
    json_error_t theirs;
    ck_assert(!json_loadb(twice, strlen(twice), JSON_REJECT_DUPLICATES, &theirs));
    ck_assert(!jr_read_streaming(twice, strlen(twice), "list", note_element, &again, &e));
    ck_assert_str_eq(e.text, theirs.text);
    ck_assert_int_eq(again.count, 1);
}
END_TEST

/* A contract whose items are read as the file is (a set) is judged as one read whole
 * (contract_parse): the same first error and the same list of problems, items after header
 * fields in the list whatever their order in the file, a duplicate id among them, and the
 * contract's warning period, written after the items, given to those without their own. */
START_TEST(items_read_as_the_file_is_are_judged_as_before)
{
    static const char *const texts[] = {
        "{\"equipment_list\": [{\"equipment_id\": \"LP-1\", \"description\": \"a\", "
        "\"equipment_type\": \"t\"}, {\"equipment_id\": \"LP-2\", \"description\": \"b\", "
        "\"equipment_type\": \"t\", \"warning_period_days\": 3}], \"smart_contract_id\": \"LP-W\", "
        "\"contract_type\": \"SmartMaintenance\", \"version\": 1, \"station_type\": \"LP\", "
        "\"warning_period_days\": 21}",
        "{\"equipment_list\": [{\"equipment_id\": \"LP-1\", \"description\": 5}, "
        "{\"equipment_id\": \"LP-1\", \"description\": \"a\", \"equipment_type\": \"t\"}, "
        "{\"equipment_id\": \"LP-3\", \"description\": \"a\", \"equipment_type\": \"t\", "
        "\"calibration_interval_days\": 0}, 4, {\"equipment_id\": \"LP-3\", \"description\": "
        "\"c\", \"equipment_type\": \"t\"}], \"smart_contract_id\": \"LP-P\", "
        "\"contract_type\": \"Other\", \"bogus\": 1, \"version\": 0}",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        contract whole;
        smart_error err = {0};
        int want = contract_parse("LP-W.json", texts[k], strlen(texts[k]), &whole, &err);
        const char *names[] = {"LP-W.json"};
        const char *bytes[] = {texts[k]};
        size_t lens[] = {strlen(texts[k])};
        contract_set set;
        contract_refusal *why = calloc(1, sizeof *why);
        ck_assert_ptr_nonnull(why);
        int got = contract_set_load_texts(names, bytes, lens, 1, "LP", &set, why);
        ck_assert_int_eq(got, want);
        if (want == 0) {
            ck_assert_int_eq(set.contracts[0].item_count, whole.item_count);
            for (size_t i = 0; i < whole.item_count; i++) {
                ck_assert_str_eq(set.contracts[0].items[i].equipment_id,
                                 whole.items[i].equipment_id);
                ck_assert_int_eq(set.contracts[0].items[i].terms.warning_days,
                                 whole.items[i].terms.warning_days);
            }
            ck_assert_int_eq(whole.items[0].terms.warning_days, 21);
            ck_assert_int_eq(whole.items[1].terms.warning_days, 3);
            contract_release(&whole);
            contract_set_release(&set);
        } else {
            ck_assert_str_eq(why->error.text, err.text);
            /* Read whole, then validated: the problems without the file's name before each. */
            contract_problems listed = {0};
            contract whole_again;
            smart_error again = {0};
            json_error_t jerr;
            json_t *doc = jr_read(texts[k], strlen(texts[k]), &jerr);
            ck_assert_ptr_nonnull(doc);
            ck_assert_int_eq(contract_parse_document_all("LP-W.json", doc, texts[k],
                                                         strlen(texts[k]), &whole_again, &again,
                                                         &listed),
                             want);
            ck_assert_int_ge(why->problems.found, 5);
            ck_assert_int_eq(why->problems.found, listed.found);
            ck_assert_int_eq(why->problems.count, listed.count);
            for (size_t i = 0; i < listed.count; i++) {
                char named[CONTRACT_PROBLEM_LEN + 16];
                snprintf(named, sizeof named, "LP-W.json: %s", listed.text[i]);
                named[CONTRACT_PROBLEM_LEN - 1] = '\0';
                ck_assert_str_eq(why->problems.text[i], named);
            }
        }
        free(why);
    }
}
END_TEST

/* The paths named in messages (json_fields.c writes them without snprintf): what snprintf
 * writes, cut short as snprintf cuts it, with its count. */
START_TEST(field_paths_are_written_as_snprintf_writes_them)
{
    const char *paths[] = {"", "equipment_list[12]", "equipment_list[3].tolerances",
                           "a_rather_long_path_that_fills_most_of_the_buffer.and_more_of_it"};
    const char *keys[] = {"tolerances", "", "last_calibration"};
    size_t indexes[] = {0, 7, 10, 99999, 18446744073709551615u};
    for (size_t size = 0; size <= 90; size++)
        for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
            char got[96], want[96];
            for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
                memset(got, 'x', sizeof got), memset(want, 'x', sizeof want);
                int n = jf_path(got, size, paths[p], keys[k]);
                int m = *paths[p] ? snprintf(want, size, "%s.%s", paths[p], keys[k])
                                  : snprintf(want, size, "%s", keys[k]);
                ck_assert_int_eq(n, m);
                ck_assert(memcmp(got, want, sizeof got) == 0);
            }
            ck_assert_int_eq(jf_path(got, sizeof got, NULL, "key"), 3);
            ck_assert_str_eq(got, "key");
            for (size_t i = 0; i < sizeof indexes / sizeof *indexes; i++) {
                memset(got, 'x', sizeof got), memset(want, 'x', sizeof want);
                int n = jf_index(got, size, paths[p], indexes[i]);
                int m = snprintf(want, size, "%s[%zu]", paths[p], indexes[i]);
                ck_assert_int_eq(n, m);
                ck_assert(memcmp(got, want, sizeof got) == 0);
            }
        }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("contract json");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, what_both_take_reads_the_same);
    tcase_add_test(tc, what_jansson_refuses_is_refused_with_its_message);
    tcase_add_test(tc, nesting_is_judged_as_jansson_judges_it);
    tcase_add_test(tc, a_bad_file_keeps_its_message);
    tcase_add_test(tc, a_loaded_set_keeps_no_document);
    tcase_add_test(tc, the_streamed_array_is_handed_over_element_by_element);
    tcase_add_test(tc, items_read_as_the_file_is_are_judged_as_before);
    tcase_add_test(tc, field_paths_are_written_as_snprintf_writes_them);
    suite_add_tcase(s, tc);
    return s;
}
