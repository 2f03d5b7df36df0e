/* finding_review.h — one record resting on a reference found out of tolerance as found, as
 * oot.impact's chain lists it: the jobs that rested on that record, and, where the finding's
 * size is known, its readings re-judged with it (core/finding_size.h).
 *
 * On the loop thread, with the module instance; every function returns 0, SMART_ENOMEM or
 * SMART_EIO (the store failed), review_pages_emit also the host's error. */
#ifndef SMART_FINDING_REVIEW_H
#define SMART_FINDING_REVIEW_H

#include "maintenance.h"

/* What a finding lists for review, bounded in its answer and complete in its pages (issue 14:
 * an item used by some 15,000 tests, or a reference used in some 3,000 checks, made one
 * oot.impact, or a failed check's review, longer than the 1 MiB a line may hold; the host
 * refused it while the calibration or check was kept, and the review was lost).
 *
 * Every job (a test allowed: oot.impact's clientpos and each chain entry's, a failed check's
 * review) and every record (oot.impact's verified_with_it checks and calibrations, its chain
 * entries) of the finding is kept here in order. The answer's own lists show only the first
 * REVIEW_JOBS_INLINE jobs of the finding, and the first REVIEW_RECORDS_INLINE records of each
 * list of records; a list cut short says how many it has (clientpo_count, check_count,
 * calibration_count, chain_count). When one was cut, everything follows the answer as
 * review.page ledger records and output events (review_pages_emit): all the jobs, then all the
 * records, at most REVIEW_PAGE_BYTES of them a page, so that the ledger holds every one and no
 * line passes 1 MiB. A finding with no list cut is answered as it was, with no pages. Owned by
 * the handler making the finding; review_pages_release frees it. */
#define REVIEW_JOBS_INLINE    1000
#define REVIEW_RECORDS_INLINE 200
#define REVIEW_IDS_INLINE     1000 /* ClientPO (or item) ids an alert lists per array */
#define REVIEW_PAGE_BYTES     (768 * 1024)

/* One series of rows: their text, comma-separated, and where each ends. */
typedef struct review_rows {
    jw text;
    size_t *ends;
    size_t count, cap;
} review_rows;

typedef struct review_pages {
    review_rows jobs;    /* {list, clientpo_id, decided_at[, chain_index]} */
    review_rows records; /* {list[, chain_index], record} */
    size_t jobs_shown;   /* jobs written into the answer's own lists */
    bool cut;            /* a list of the answer was cut short */
    bool failed;         /* out of memory */
} review_pages;

/* One list of the answer being written: its elements (`text`, borrowed) and its counts. */
typedef struct review_list_out {
    jw *text;
    size_t listed, total;
} review_list_out;

/* A job of the finding, in the list named `list` ("clientpos", "chain" with its chain_index,
 * "review"): kept, and written into `out` while fewer than REVIEW_JOBS_INLINE jobs of the
 * finding are. 0 or SMART_ENOMEM. */
int review_pages_add_job(review_pages *pages, review_list_out *out, const char *list,
                         int64_t chain_index, const char *clientpo_id, int64_t decided_at_ms);

/* A record of the finding (`record`, one JSON object's text) in the list named `list`
 * ("checks", "calibrations", "chain" with its chain_index): kept, and appended to `out` while
 * it holds fewer than REVIEW_RECORDS_INLINE. 0 or SMART_ENOMEM. */
int review_pages_add_record(review_pages *pages, review_list_out *out, const char *list,
                            int64_t chain_index, const char *record, size_t len);

/* After a list's closing bracket: `"KEY":N` (clientpo_count, chain_count, ...) when it was cut
 * short. */
void review_list_close(jw *w, const char *key, const review_list_out *out);

/* The member the answer carries when a list was cut: "review_pages": {topic, pages, jobs,
 * records}. Nothing when none was. */
void review_pages_write_member(jw *w, const review_pages *pages);

/* When a list was cut: the pages, each a review.page ledger record (target `target`) and
 * output event {of, IDENT..., page, pages, jobs_total, records_total, jobs: [...],
 * records: [...]}, `ident` holding members without braces that name the finding
 * ("equipment_id":..., "certificate_number":...). 0 or the host's error. */
int review_pages_emit(maintenance *m, const review_pages *pages, const char *of, const jw *ident,
                      const char *target, smart_error *err);

void review_pages_release(review_pages *pages);

/* Ids each noted once, in the order first noted: `list` (an array of strings) for the text,
 * `seen` (an object used as a set) so that noting one costs the same however many are there
 * (a finding may name some 15,000 ClientPOs). Both owned; zero-initialised is empty. */
typedef struct id_set {
    json_t *list;
    json_t *seen;
} id_set;

/* Notes `id` unless noted. 0 or SMART_ENOMEM. */
int id_set_add(id_set *set, const char *id);
size_t id_set_size(const id_set *set);
void id_set_release(id_set *set);

/* Writes `"key":[...]` with at most REVIEW_IDS_INLINE of the ids of `ids`, and
 * `"key_total":N` after it when there are more. */
void review_write_ids(jw *w, const char *key, const id_set *ids);

/* The size of a finding: the as-found values of the calibration that found the reference out
 * of tolerance (its results as given, borrowed for the review). */
typedef struct reference_finding {
    const char *reference_id;
    const char *certificate;
    const json_t *results;            /* [{parameter, nominal?, unit?, as_found?, as_left?}] */
    const equipment_state *reference; /* for the unit of a result that gives none; may be NULL */
} reference_finding;

/* Room for the `why` of a record that would have failed. */
#define FINDING_WHY_MAX 400

/* A check of `procedure` on `item` performed at at_ms, made with the reference: writes into
 * `entry` (a chain entry's members, without braces) `clientpos`, the tests allowed with the item
 * from at_ms until its next check of that procedure ({clientpo_id, decided_at}, oldest first),
 * each ClientPO id also noted in `chain_ids`, each job kept in `jobs` as chain entry
 * `chain_index`'s (the list cut short past the finding's share: review_pages), and the
 * re-judgement: with `finding` NULL (the size is not known for it: it rests on the reference
 * through another record) or no reading re-judgeable, "finding_size": null and
 * "would_have_failed": null with "not_rejudged" saying why; otherwise `rejudged` (each reading
 * with its correction, the limit in force and whether it would have failed) and
 * "would_have_failed". *failed is set when it would have failed, `why` (why_size bytes) then
 * saying so: "would have failed: uv_a_irradiance 1050 uW/cm2 corrected to 954.545, outside min
 * 1000 uW/cm2, by the finding of MT01-RAD-01 (certificate ...)". */
int finding_review_check(maintenance *m, const reference_finding *finding, const char *item,
                         const char *procedure_id, int64_t at_ms, jw *entry, id_set *chain_ids,
                         review_pages *jobs, int64_t chain_index, bool *failed, char *why,
                         size_t why_size, smart_error *err);

/* The same for the calibration of `item` with `certificate`, counted from since_ms (the start
 * of its day) until the item's next calibration was recorded; its results (as left, or as
 * found where none is left) are re-judged against the value the reference really gave; `why`
 * names the first result that would have failed ("uv_a_irradiance 1000 uW/cm2 corrected to
 * 1090.91, outside 950 to 1050 uW/cm2"). *until_ms is when the item's next calibration was
 * recorded (INT64_MAX when none): the end of what rested on this one. */
int finding_review_calibration(maintenance *m, const reference_finding *finding, const char *item,
                               const char *certificate, int64_t since_ms, jw *entry,
                               id_set *chain_ids, review_pages *jobs, int64_t chain_index,
                               bool *failed, char *why, size_t why_size, int64_t *until_ms,
                               smart_error *err);

#endif
