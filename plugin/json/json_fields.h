/* json_fields.h — strict reading of JSON objects (contracts, event data, config) with errors
 * that name the field by its full path ("data.equipment[2]", "equipment_list[0].tolerances").
 *
 * Every reader returns 0 or SMART_EINVAL with err filled. Returned strings and arrays are
 * borrowed from the json_t they were read from and live as long as it does. */
#ifndef SMART_JSON_FIELDS_H
#define SMART_JSON_FIELDS_H

#include "core/dates.h"
#include "smart_plugin.h"

#include <jansson.h>
#include <stdbool.h>

#define JF_PATH_MAX 160
#define JF_INT_MAX  ((json_int_t)INT64_MAX)

/* Writes "path.key" (or "key" when path is empty) into out; returns snprintf's count (a path
 * cut short still names the field well enough for a message). */
int jf_path(char *out, size_t size, const char *path, const char *key);

/* Writes "path[index]" into out; returns snprintf's count. */
int jf_index(char *out, size_t size, const char *path, size_t index);

/* The name of a JSON value's type for messages: "string", "array", ... */
const char *jf_type_name(const json_t *value);

/* Fails when `obj` (at `path`) is not an object, or has a key not in `allowed` (a
 * NULL-terminated list). */
int jf_object(const json_t *obj, const char *path, const char *const allowed[], smart_error *err);

/* As jf_object, and values[i] is the value of the key allowed[i] (borrowed), NULL when absent:
 * the fields read in the one pass that checks the keys, where looking each up again hashed it
 * (a fifth of reading a contract's items). `values` has room for every name in `allowed`. */
int jf_object_fields(const json_t *obj, const char *path, const char *const allowed[],
                     json_t *values[], smart_error *err);

/* Each reader below has a twin jf_X_of taking the field's value (NULL when absent, as
 * jf_object_fields gives it) in place of obj: the same checks, the same messages. */

/* A non-empty string. When absent: an error if required, else *out = NULL and 0. */
int jf_string(const json_t *obj, const char *path, const char *key, bool required, const char **out,
              smart_error *err);

/* A non-empty string of at most max_len bytes (free text the store and messages carry). */
int jf_text(const json_t *obj, const char *path, const char *key, bool required, size_t max_len,
            const char **out, smart_error *err);

/* An identifier: 1 to 64 characters from [A-Za-z0-9._-]. */
int jf_id(const json_t *obj, const char *path, const char *key, bool required, const char **out,
          smart_error *err);

/* An integer within [min, max]. When absent and not required, *out is left unchanged. */
int jf_int(const json_t *obj, const char *path, const char *key, bool required, json_int_t min,
           json_int_t max, json_int_t *out, smart_error *err);

/* A number (integer or real). *present says whether it was there. */
int jf_number(const json_t *obj, const char *path, const char *key, bool required, double *out,
              bool *present, smart_error *err);

/* A boolean. When absent and not required, *out is left unchanged. */
int jf_bool(const json_t *obj, const char *path, const char *key, bool required, bool *out,
            smart_error *err);

/* A date or RFC 3339 timestamp, parsed into *out; *text gets the string as written. */
int jf_date(const json_t *obj, const char *path, const char *key, bool required, date_value *out,
            const char **text, smart_error *err);

#define JF_ID_ARRAY_MAX 256

/* An array of at most JF_ID_ARRAY_MAX identifiers (see jf_id), optionally non-empty, without
 * duplicates.
 * *out is the borrowed array, or NULL when absent and not required. */
int jf_id_array(const json_t *obj, const char *path, const char *key, bool required, bool non_empty,
                json_t **out, smart_error *err);

/* An array (any elements); *out NULL when absent and not required. */
int jf_array(const json_t *obj, const char *path, const char *key, bool required, json_t **out,
             smart_error *err);

int jf_string_of(json_t *value, const char *path, const char *key, bool required, const char **out,
                 smart_error *err);
int jf_text_of(json_t *value, const char *path, const char *key, bool required, size_t max_len,
               const char **out, smart_error *err);
int jf_id_of(json_t *value, const char *path, const char *key, bool required, const char **out,
             smart_error *err);
int jf_int_of(json_t *value, const char *path, const char *key, bool required, json_int_t min,
              json_int_t max, json_int_t *out, smart_error *err);
int jf_number_of(json_t *value, const char *path, const char *key, bool required, double *out,
                 bool *present, smart_error *err);
int jf_bool_of(json_t *value, const char *path, const char *key, bool required, bool *out,
               smart_error *err);
int jf_date_of(json_t *value, const char *path, const char *key, bool required, date_value *out,
               const char **text, smart_error *err);
int jf_id_array_of(json_t *value, const char *path, const char *key, bool required, bool non_empty,
                   json_t **out, smart_error *err);
int jf_array_of(json_t *value, const char *path, const char *key, bool required, json_t **out,
                smart_error *err);

#endif
