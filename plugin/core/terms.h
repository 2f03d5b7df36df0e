/* terms.h — a contract's terms as the rules read them: tolerances, procedures and their steps,
 * the items and the contract they come from. Plain values, built by contract/ (contract.h) and
 * immutable from then on; strings are the contract's own (one block, `strings`, copied from its
 * parsed document once it is read) and live as long as the contract set.
 *
 * The core never reads JSON: the members typed `struct json_t` (jansson's json_t, declared
 * here only as an incomplete type so the core builds without jansson) are the contract layer's,
 * for contract/ and the handlers, and the core does not look into them. */
#ifndef SMART_TERMS_H
#define SMART_TERMS_H

#include "core/calibration.h"
#include "core/dates.h"
#include "core/decimal.h"

#include <stdbool.h>
#include <stddef.h>

struct json_t;
struct contract_strings;

typedef struct tolerance {
    const char *parameter;
    const char *unit;
    bool has_min, has_max;
    double min, max;   /* nominal ± plus_minus is stored as min and max (the nearest doubles) */
    decimal low, high; /* the same limits, exact: what values are judged against */
    bool has_nominal;  /* a calibration point; an item may have several per parameter */
    double nominal;
    const struct json_t *references; /* ids or equipment types accepted as the reference standard of
                                 its calibration (strings), or NULL: see readiness.h */
} tolerance;

typedef struct contract contract;

/* How long a passed check stays valid. */
typedef enum check_frequency {
    FREQ_PER_SHIFT, /* until the next shift starts (contract shift_starts) */
    FREQ_HOURS,     /* `every` hours after it was done */
    FREQ_DAYS       /* through the end of the (local) day it was done, plus every - 1 days */
} check_frequency;

/* One step of a maintenance procedure: a reading with optional limits, or an attestation. */
typedef struct check_step {
    const char *step_id;
    const char *description;
    bool is_reading; /* input_type "number"; otherwise "checkbox" */
    const char *unit;
    const char *reference_value; /* free text, recorded; limits are what is machine-checked */
    bool has_min, has_max;
    double min, max;
    decimal low, high; /* min and max as written, exact: what readings are judged against */
    /* The hub's checklist form: limits read from reference_value (core/reference_value.h) may
     * exclude their bound; a number step whose text states no limit the module can check needs
     * an attestation (attestations[step_id]) that the reading meets it. */
    bool min_excluded, max_excluded;
    bool needs_attestation;
    char reference_reading[160]; /* how reference_value was read, "" when not the hub's form */
    char step_number[16];        /* the hub's `step`, as text: the step's id */
} check_step;

/* A maintenance procedure (a daily UV-A check, a bath concentration check, ...). */
typedef struct procedure {
    const char *procedure_id;
    const char *title;
    const struct json_t *equipment; /* ids (of this contract's items) it applies to */
    check_frequency frequency;
    int every;                  /* hours (FREQ_HOURS) or days (FREQ_DAYS) */
    const char *frequency_text; /* "per_shift", "daily", "weekly", "every_n_hours", ... */
    char frequency_label[32];   /* for people: "per-shift", "daily", "every 8 hours", ... */
    bool required_before_test;
    bool out_of_service_on_fail;
    bool needs_reference; /* a check must name the reference instrument it was made with */
    const struct json_t
        *references; /* ids or equipment types accepted as that instrument, or NULL */
    check_step *steps;
    size_t step_count;
    const contract *owner;
} procedure;

#define CONTRACT_MAX_SHIFTS 8
#define ITEM_MAX_PROCEDURES 8

/* One piece of equipment as a contract defines it. Strings live as long as the set (the
 * contract's `strings`). */
typedef struct contract_item {
    const char *equipment_id;
    const char *description;
    const char *equipment_type;
    cal_terms terms;
    tolerance *tolerances;
    size_t tolerance_count;
    bool has_baseline; /* the calibration the hub knew of when it issued the contract */
    date_value baseline_date;
    const char *baseline_date_text;
    const char *baseline_certificate;
    const char *baseline_provider;
    bool return_requires_verification; /* a passed check or calibration after a tag-out */
    bool station_checklist; /* the hub's checklist: a station procedure, no calibration; its
                               id is the contract's, and every test on the station needs it */
    const procedure *procedures[ITEM_MAX_PROCEDURES]; /* the procedures that apply to it */
    size_t procedure_count;
    const contract *owner;
} contract_item;

struct contract {
    char *file; /* file name within the contracts directory */
    const char *contract_id;
    const char *station_type;
    long long version;  /* json_int_t, which is long long (contract.c reads it with jf_int) */
    char sha256[65];    /* of the file's bytes, lowercase hex */
    char signed_by[17]; /* the hub key id that signed it (contract/signature.h), or "" */
    contract_item *items;
    size_t item_count;
    procedure *procedures;
    size_t procedure_count;
    int shift_starts[CONTRACT_MAX_SHIFTS]; /* minutes after local midnight, ascending */
    size_t shift_count;
    bool job_window_warns;   /* a lapse before a job's planned end warns instead of blocking */
    struct json_t *document; /* the parsed file, owned, while it is read; NULL once it is valid */
    struct contract_strings *strings; /* every string of the terms above and below, owned
                                       * (contract.c), once the document is freed; the JSON lists
                                       * of the terms (references, equipment) then hold a
                                       * reference each */
    /* The hub's forms. In `strings` unless said otherwise. */
    const char *contract_type; /* "SmartMaintenance", or another type skipped (other_type) */
    bool other_type;           /* SmartSafety, SmartInventory, ...: skipped, never refused */
    const char *status;        /* draft, validated, deployed, active, deprecated, or NULL */
    bool in_force;             /* no status, deployed or active */
    const char *not_in_force;  /* why not (static text), or NULL */
    bool has_version;          /* an integer version; otherwise `version` is the order by date */
    char order_text[64];       /* "version 3", "deployed_date 2025-02-01" */
    bool station_from_folder;  /* names no station type: the station whose folder it is in */
    char *text; /* the file's bytes as read (text_len of them, NUL after), owned, kept until
                   the set is adopted and its files stored (for a later start whose directory
                   is refused), then dropped (contract_set_drop_texts): NULL */
    size_t text_len;
};

#endif
