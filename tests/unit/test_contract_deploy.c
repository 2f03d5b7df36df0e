/* Deploying contracts through the module's ABI: what a contracts directory may hold that is
 * not a contract (a dangling symlink, an unreadable file, a directory, a FIFO, a socket), two
 * files under one contract id, and a contract calibration dated after the clock. Each is a
 * refused deployment: at start the module still loads (never SMART_EIO, which is for a failing
 * store) and records and alerts the refusal, on a rescan the set in force stays and the station
 * runs on;
 * the file refused travels as data into the record, the output and the alert. */
#include "check_main.h"
#include "fake_host.h"
#include "lp_station.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static fake_host h;
static size_t refused_at_start; /* refusals recorded by starts, besides the rescans' */

/* A contract with one item per `ids` (NULL-terminated); `baseline` is the first item's
 * last_calibration.calibration_date, or NULL for none. Malloc'd. */
static char *contract_text(const char *contract_id, int version, const char *const *ids,
                           const char *baseline)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"smart_contract_id\":\"%s\",\"contract_type\":\"SmartMaintenance\","
            "\"version\":%d,\"station_type\":\"LP\",\"equipment_list\":[",
            contract_id, version);
    for (size_t i = 0; ids[i]; i++) {
        fprintf(f,
                "%s{\"equipment_id\":\"%s\",\"description\":\"an item\","
                "\"equipment_type\":\"thermometer\",\"calibration_interval_days\":180",
                i ? "," : "", ids[i]);
        if (i == 0 && baseline)
            fprintf(f,
                    ",\"last_calibration\":{\"calibration_date\":\"%s\","
                    "\"certificate_number\":\"HUB-1\",\"provider\":\"Lab\"}",
                    baseline);
        fputc('}', f);
    }
    fputs("]}", f);
    ck_assert_int_eq(fclose(f), 0);
    return text;
}

static const char *const lp_items[] = {"LP01-THM-01", "LP01-UVA-01", NULL};

static void write_contract(const char *file, const char *contract_id, int version,
                           const char *const *ids, const char *baseline)
{
    char *text = contract_text(contract_id, version, ids, baseline);
    fake_host_write_contract(&h, file, text);
    free(text);
}

static char *contracts_path(const char *file)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/contracts/%s", h.dir, file);
    return path;
}

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The thermometer's days remaining, as the set in force has it. */
static json_int_t thermometer_days(void)
{
    send_ok(&h, "status.query", "{\"equipment_id\":\"LP01-THM-01\"}");
    json_t *thm = fake_host_item(fake_host_last_output(&h, "status"), "LP01-THM-01");
    ck_assert_ptr_nonnull(thm);
    return json_integer_value(json_object_get(thm, "days_remaining"));
}

/* The last contract.rejected output, ledger record and alert each name `file` (and `other`
 * when not NULL) and give a reason that starts with `reason`; the station runs on. */
static void assert_rejected(size_t count, const char *file, const char *other, const char *reason)
{
    json_t *out = fake_host_last_output(&h, "contract.rejected");
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(str(out, "contract_file"), file);
    ck_assert_msg(starts_with(str(out, "reason"), reason), "reason '%s', expected '%s...'",
                  str(out, "reason"), reason);
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), count + refused_at_start);
    ck_assert_int_eq(fake_host_count_alerts(&h, "contract_rejected"), count + refused_at_start);
    json_t *record = NULL, *alert = NULL;
    size_t i;
    json_t *v;
    json_array_foreach (h.ledger, i, v)
        if (strcmp(str(v, "action"), "contract.rejected") == 0)
            record = v;
    json_array_foreach (h.alerts, i, v)
        if (strcmp(str(v, "alert_type"), "contract_rejected") == 0)
            alert = v;
    ck_assert_str_eq(str(record, "target"), file);
    ck_assert_str_eq(str(json_object_get(record, "metadata"), "contract_file"), file);
    ck_assert_str_eq(str(alert, "contract_file"), file);
    if (other) {
        ck_assert_str_eq(str(out, "other_file"), other);
        ck_assert_str_eq(str(json_object_get(record, "metadata"), "other_file"), other);
        ck_assert_str_eq(str(alert, "other_file"), other);
    } else {
        ck_assert_ptr_null(json_object_get(out, "other_file"));
    }
}

/* A start whose set is refused with a reason starting with `message`: the module still loads
 * (never ungated), records and alerts the refusal once, and is stopped again. */
static void assert_start_refused(const char *message)
{
    size_t records = fake_host_count_ledger(&h, "contract.rejected");
    size_t alerts = fake_host_count_alerts(&h, "contract_rejected");
    start_ok(&h);
    refused_at_start++;
    ck_assert_int_eq(fake_host_count_ledger(&h, "contract.rejected"), records + 1);
    ck_assert_int_eq(fake_host_count_alerts(&h, "contract_rejected"), alerts + 1);
    json_t *record = json_array_get(h.ledger, json_array_size(h.ledger) - 1);
    size_t i;
    json_t *v;
    json_array_foreach (h.ledger, i, v)
        if (strcmp(str(v, "action"), "contract.rejected") == 0)
            record = v;
    ck_assert_msg(starts_with(str(record, "details"), message), "got '%s', expected '%s...'",
                  str(record, "details"), message);
    fake_host_stop(&h);
}

typedef enum { DANGLING, UNREADABLE, DIRECTORY, FIFO, SOCKET, NO_PERMISSION } entry_kind;

/* Puts an entry named `name` that is not a readable contract into the contracts directory. */
static void make_entry(entry_kind kind, const char *name)
{
    char *path = contracts_path(name);
    switch (kind) {
    case DANGLING: ck_assert_int_eq(symlink("no-such-contract.json", path), 0); break;
    /* A regular file no process can read, even as root: its own memory at address 0. */
    case UNREADABLE: ck_assert_int_eq(symlink("/proc/self/mem", path), 0); break;
    case DIRECTORY: ck_assert_int_eq(mkdir(path, 0755), 0); break;
    case FIFO: ck_assert_int_eq(mkfifo(path, 0644), 0); break;
    case SOCKET: {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        ck_assert_int_ge(fd, 0);
        ck_assert_uint_lt(strlen(path), sizeof addr.sun_path);
        strcpy(addr.sun_path, path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
        close(fd);
        break;
    }
    case NO_PERMISSION:
        write_contract(name, "LP-CAL-077", 1, (const char *const[]){"LP07-THM-01", NULL}, NULL);
        ck_assert_int_eq(chmod(path, 0), 0);
        break;
    }
}

static void remove_entry(entry_kind kind, const char *name)
{
    char *path = contracts_path(name);
    ck_assert_int_eq(kind == DIRECTORY ? rmdir(path) : unlink(path), 0);
}

/* Each kind of entry, on a rescan and at start. Without non-blocking opens the FIFO case hangs
 * in open(): the test case's timeout then fails it. */
START_TEST(an_entry_that_is_not_a_readable_file_is_a_refused_deployment)
{
    static const struct {
        entry_kind kind;
        const char *name, *why;
    } cases[] = {
        {DANGLING, "gone.json", "gone.json: cannot open: a symbolic link to a missing file"},
        {UNREADABLE, "mem.json", "mem.json: cannot read: Input/output error"},
        {DIRECTORY, "dir.json", "dir.json: is a directory; a contract is a regular file"},
        {FIFO, "fifo.json", "fifo.json: is a FIFO; a contract is a regular file"},
        {SOCKET, "sock.yaml", "sock.yaml: cannot open: No such device or address"},
        {NO_PERMISSION, "locked.json", "locked.json: cannot open: Permission denied"},
    };
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    refused_at_start = 0; /* also without a fork per test (CK_FORK=no) */
    write_contract("LP-CAL-001.json", "LP-CAL-001", 1, lp_items, "2024-11-15");
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 90);
    size_t rejected = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].kind == NO_PERMISSION && geteuid() == 0)
            continue; /* root reads a file of mode 000; UNREADABLE stands in for it */
        /* A rescan: refused, the set in force stays, the station runs on. */
        make_entry(cases[i].kind, cases[i].name);
        send_ok(&h, "contract.deployed", "{\"reason\":\"hub push\"}");
        assert_rejected(++rejected, cases[i].name, NULL, cases[i].why);
        ck_assert_int_eq(thermometer_days(), 90);
        /* At start: init refused as a contract, not as a failing store. */
        fake_host_stop(&h);
        assert_start_refused(cases[i].why);
        remove_entry(cases[i].kind, cases[i].name);
        start_ok(&h);
        ck_assert_int_eq(thermometer_days(), 90);
    }
    fake_host_destroy(&h);
}
END_TEST

/* Two files under one contract id: before, both loaded (each overwriting the other's adopted
 * version), and the next start, nothing changed, refused them. */
START_TEST(two_files_under_one_contract_id_are_refused_naming_both)
{
    /* Named in file-name order: the later file is the one refused, the earlier the other. */
    static const char why[] = "LP-CAL-001.json: smart_contract_id: 'LP-CAL-001' is also the id "
                              "of LP-CAL-001-copy.json; a contract id names one file";
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    refused_at_start = 0; /* also without a fork per test (CK_FORK=no) */
    write_contract("LP-CAL-001.json", "LP-CAL-001", 1, lp_items, "2024-11-15");
    write_contract("LP-CAL-001-copy.json", "LP-CAL-001", 2,
                   (const char *const[]){"LP02-THM-01", NULL}, NULL);
    /* At start, and at the start after it, nothing changed: the same refusal. */
    for (int round = 0; round < 2; round++)
        assert_start_refused(why);
    ck_assert_int_eq(unlink(contracts_path("LP-CAL-001-copy.json")), 0);
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 90);

    /* On a rescan: refused naming both, the set in force stays. */
    write_contract("LP-CAL-001-copy.json", "LP-CAL-001", 2,
                   (const char *const[]){"LP02-THM-01", NULL}, NULL);
    send_ok(&h, "contract.deployed", "{}");
    assert_rejected(1, "LP-CAL-001.json", "LP-CAL-001-copy.json", why);
    ck_assert_int_eq(thermometer_days(), 90);
    fake_host_stop(&h);
    assert_start_refused(why);
    ck_assert_int_eq(unlink(contracts_path("LP-CAL-001-copy.json")), 0);
    /* Nothing changed since the last start that worked: this one works alike. */
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 90);
    fake_host_stop(&h);
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 90);
    fake_host_destroy(&h);
}
END_TEST

/* A contract's last_calibration is evidence like a recorded one: dated after the clock it is
 * refused, at start and on a redeployment, naming the file and the field. */
START_TEST(a_contract_calibration_dated_after_now_is_refused)
{
    static const struct {
        const char *date, *why;
    } future[] = {
        {"2030-01-01", "2030-01-01 is in the future"},
        {"2099-12-31", "2099-12-31 is in the future"},
        /* Written on today's date in its own offset, but its instant is after now. */
        {"2025-02-13T20:00:00-12:00", "2025-02-13T20:00:00-12:00 is in the future"},
        {"2025-02-14T01:00:00+14:00", "2025-02-14T01:00:00+14:00 is in the future"},
    };
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    refused_at_start = 0; /* also without a fork per test (CK_FORK=no) */
    for (size_t i = 0; i < sizeof future / sizeof future[0]; i++) {
        char why[200];
        snprintf(why, sizeof why,
                 "LP-CAL-001.json: equipment_list[0].last_calibration.calibration_date: %s "
                 "(now 2025-02-13T07:00:00Z, 2025-02-13 at the station)",
                 future[i].why);
        write_contract("LP-CAL-001.json", "LP-CAL-001", 1, lp_items, future[i].date);
        assert_start_refused(why);
    }
    /* A calibration of today counts; a real one recorded today afterwards is accepted. */
    write_contract("LP-CAL-001.json", "LP-CAL-001", 1, lp_items, "2025-02-13");
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 180);
    fake_host_set_time(&h, "2025-02-13T09:30:00Z");
    send_ok(&h, "calibration.record",
            "{\"equipment_id\":\"LP01-THM-01\",\"calibration_date\":\"2025-02-13\","
            "\"certificate_number\":\"NCL-2025-02-0417\",\"provider\":\"Lab\","
            "\"technician\":\"J. Alvarez\"}");
    json_t *recorded = fake_host_last_output(&h, "calibration.recorded");
    ck_assert_ptr_nonnull(recorded);
    ck_assert_str_eq(str(recorded, "status"), "current");

    /* A redeployment with a future calibration: refused, the set in force stays. */
    for (size_t i = 0; i < sizeof future / sizeof future[0]; i++) {
        const char *const items[] = {"LP01-UVA-01", "LP01-THM-01", NULL};
        write_contract("LP-CAL-001.json", "LP-CAL-001", 2, items, future[i].date);
        send_ok(&h, "contract.deployed", "{}");
        char why[200];
        snprintf(why, sizeof why,
                 "LP-CAL-001.json: equipment_list[0].last_calibration.calibration_date: %s "
                 "(now 2025-02-13T09:30:00Z, 2025-02-13 at the station)",
                 future[i].why);
        assert_rejected(i + 1, "LP-CAL-001.json", NULL, why);
        send_ok(&h, "status.query", "{\"equipment_id\":\"LP01-UVA-01\"}");
        json_t *uva = fake_host_item(fake_host_last_output(&h, "status"), "LP01-UVA-01");
        ck_assert_str_eq(str(uva, "status"), "pending_calibration"); /* version 1 in force */
    }
    fake_host_destroy(&h);
}
END_TEST

/* A timestamp's calibration counts on the station's day of its instant, not on the date
 * written in its own offset: 06:00 at +14:00 on the 13th is the 12th at a UTC station. */
START_TEST(a_contract_calibration_counts_on_the_station_day_of_its_instant)
{
    fake_host_init(&h, "2025-02-13T07:00:00Z");
    refused_at_start = 0; /* also without a fork per test (CK_FORK=no) */
    write_contract("LP-CAL-001.json", "LP-CAL-001", 1, lp_items, "2025-02-13T06:00:00+14:00");
    start_ok(&h);
    ck_assert_int_eq(thermometer_days(), 179);
    fake_host_destroy(&h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("contract deployment");
    TCase *tc = tcase_create("through the ABI");
    tcase_set_timeout(tc, 30); /* a hang (a FIFO waited on) fails the case, never the suite */
    tcase_add_test(tc, an_entry_that_is_not_a_readable_file_is_a_refused_deployment);
    tcase_add_test(tc, two_files_under_one_contract_id_are_refused_naming_both);
    tcase_add_test(tc, a_contract_calibration_dated_after_now_is_refused);
    tcase_add_test(tc, a_contract_calibration_counts_on_the_station_day_of_its_instant);
    suite_add_tcase(s, tc);
    return s;
}
