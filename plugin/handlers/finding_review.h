/* finding_review.h — one record resting on a reference found out of tolerance as found, as
 * oot.impact's chain lists it: the jobs that rested on that record, and, where the finding's
 * size is known, its readings re-judged with it (core/finding_size.h).
 *
 * On the loop thread, with the module instance; every function returns 0, SMART_ENOMEM or
 * SMART_EIO (the store failed). */
#ifndef SMART_FINDING_REVIEW_H
#define SMART_FINDING_REVIEW_H

#include "maintenance.h"

/* The jobs a finding lists for review (issue 14: an item used by some 15,000 tests made one
 * oot.impact, or a failed check's review, longer than the 1 MiB a line may hold, and the host
 * refused it while the calibration or check was kept: the review was lost). Every job of the
 * finding is kept here in order, and its answer's own lists (oot.impact's clientpos and each
 * chain entry's, maintenance.checked's review) show only the first REVIEW_JOBS_INLINE of them;
 * a list cut short says how many it has (clientpo_count). When one was cut, the complete list
 * follows the answer as review.jobs records and output events (review_jobs_emit), pages of at
 * most REVIEW_PAGE_BYTES of jobs, so the ledger holds every job and no line passes 1 MiB. A
 * finding's answer with no list cut is as it was. Owned by the handler making the finding;
 * review_jobs_release frees it. */
#define REVIEW_JOBS_INLINE 1000
#define REVIEW_IDS_INLINE  1000 /* ClientPO (or item) ids an alert lists per array */
#define REVIEW_PAGE_BYTES  (768 * 1024)

typedef struct review_jobs {
    jw rows;      /* every job, comma-separated: {clientpo_id, decided_at, list[, chain_index]} */
    size_t *ends; /* where each row ends in rows */
    size_t count; /* jobs in rows */
    size_t cap;   /* room in ends */
    size_t shown; /* jobs written into the answer's own lists */
    bool failed;  /* out of memory */
} review_jobs;

/* One list of the answer being written: its elements (`text`, borrowed) and its counts. */
typedef struct review_list_out {
    jw *text;
    size_t listed, total;
} review_list_out;

/* A job of the finding, in the list named `list` ("clientpos", "chain" with its chain_index,
 * "review"): kept in `jobs`, and written into `out` while fewer than REVIEW_JOBS_INLINE jobs
 * of the finding are. 0 or SMART_ENOMEM. */
int review_jobs_add(review_jobs *jobs, review_list_out *out, const char *list, int64_t chain_index,
                    const char *clientpo_id, int64_t decided_at_ms);

/* After a list's closing bracket: `"clientpo_count":N` when it was cut short. */
void review_list_close(jw *w, const review_list_out *out);

/* Whether a list of the finding was cut short (its pages must follow). */
bool review_jobs_cut(const review_jobs *jobs);

/* The member the answer carries when a list was cut: "review_pages": {topic, pages, jobs,
 * listed}. Nothing when none was. */
void review_jobs_write_pages_member(jw *w, const review_jobs *jobs);

/* When a list was cut: the pages, each a review.jobs ledger record (target `target`) and
 * output event {of, IDENT..., page, pages, jobs: [...]}, `ident` holding members without
 * braces that name the finding ("equipment_id":..., "certificate_number":...). 0 or the
 * host's error. */
int review_jobs_emit(maintenance *m, const review_jobs *jobs, const char *of, const jw *ident,
                     const char *target, smart_error *err);

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

void review_jobs_release(review_jobs *jobs);

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
 * each ClientPO id also noted in `chain_ids`, each job
 * kept in `jobs` as chain entry `chain_index`'s (the list cut short past its share), and the
 * re-judgement: with `finding` NULL (the size is not known for it: it rests on the reference
 * through another record) or no reading re-judgeable, "finding_size": null and
 * "would_have_failed": null with "not_rejudged" saying why; otherwise `rejudged` (each reading
 * with its correction, the limit in force and whether it would have failed) and
 * "would_have_failed". *failed is set when it would have failed, `why` (why_size bytes) then
 * saying so: "would have failed: uv_a_irradiance 1050 uW/cm2 corrected to 954.545, outside min
 * 1000 uW/cm2, by the finding of MT01-RAD-01 (certificate ...)". */
int finding_review_check(maintenance *m, const reference_finding *finding, const char *item,
                         const char *procedure_id, int64_t at_ms, jw *entry, id_set *chain_ids,
                         review_jobs *jobs, int64_t chain_index, bool *failed, char *why,
                         size_t why_size, smart_error *err);

/* The same for the calibration of `item` with `certificate`, counted from since_ms (the start
 * of its day) until the item's next calibration was recorded; its results (as left, or as
 * found where none is left) are re-judged against the value the reference really gave; `why`
 * names the first result that would have failed ("uv_a_irradiance 1000 uW/cm2 corrected to
 * 1090.91, outside 950 to 1050 uW/cm2"). *until_ms is when the item's next calibration was
 * recorded (INT64_MAX when none): the end of what rested on this one. */
int finding_review_calibration(maintenance *m, const reference_finding *finding, const char *item,
                               const char *certificate, int64_t since_ms, jw *entry,
                               id_set *chain_ids, review_jobs *jobs, int64_t chain_index,
                               bool *failed, char *why, size_t why_size, int64_t *until_ms,
                               smart_error *err);

#endif
