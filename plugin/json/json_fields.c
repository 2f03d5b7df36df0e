/* json_fields.c — strict readers of JSON object fields, each error naming the field by its
 * full path; see json_fields.h. */
#include "json/json_fields.h"

#include "error.h"

#include <stdio.h>
#include <string.h>

/* Appends the n bytes at `s` at out[*at] as far as `size` leaves room (a byte kept for the NUL);
 * *at counts them all, as snprintf counts. */
static void append(char *out, size_t size, size_t *at, const char *s, size_t n)
{
    if (*at + 1 < size) {
        size_t room = size - 1 - *at;
        memcpy(out + *at, s, n < room ? n : room);
    }
    *at += n;
}

static int finish(char *out, size_t size, size_t at)
{
    if (size > 0)
        out[at < size ? at : size - 1] = '\0';
    return (int)at;
}

/* The paths are made for every item a contract lists (most never named in a message), so
 * they are copied as snprintf would write them, without its cost. */
int jf_path(char *out, size_t size, const char *path, const char *key)
{
    size_t at = 0;
    if (path && *path) {
        append(out, size, &at, path, strlen(path));
        append(out, size, &at, ".", 1);
    }
    append(out, size, &at, key, strlen(key));
    return finish(out, size, at);
}

int jf_index(char *out, size_t size, const char *path, size_t index)
{
    char digits[24];
    size_t n = sizeof digits;
    digits[--n] = ']';
    do
        digits[--n] = (char)('0' + index % 10);
    while ((index /= 10) > 0);
    digits[--n] = '[';
    size_t at = 0;
    append(out, size, &at, path, strlen(path));
    append(out, size, &at, digits + n, sizeof digits - n);
    return finish(out, size, at);
}

const char *jf_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

int jf_object_fields(const json_t *obj, const char *path, const char *const allowed[],
                     json_t *values[], smart_error *err)
{
    if (!json_is_object(obj))
        return error_set(err, SMART_EINVAL, "%s: must be an object (got %s)",
                         path && *path ? path : "(top level)", jf_type_name(obj));
    if (values)
        for (size_t i = 0; allowed[i]; i++)
            values[i] = NULL;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)obj, key, value) {
        size_t i = 0;
        /* The first byte first: most keys of the lists differ there, and strcmp is a call. */
        while (allowed[i] && !(allowed[i][0] == key[0] && strcmp(allowed[i], key) == 0))
            i++;
        if (!allowed[i]) {
            char where[JF_PATH_MAX];
            jf_path(where, sizeof where, path, key);
            return error_set(err, SMART_EINVAL, "%s: unknown field", where);
        }
        if (values)
            values[i] = value;
    }
    return 0;
}

int jf_object(const json_t *obj, const char *path, const char *const allowed[], smart_error *err)
{
    return jf_object_fields(obj, path, allowed, NULL, err);
}

/* Writes the field's path into `where` (JF_PATH_MAX bytes) and returns it: only when a
 * message needs it, so reading a good field formats nothing. */
static const char *where_of(char *where, const char *path, const char *key)
{
    jf_path(where, JF_PATH_MAX, path, key);
    return where;
}

/* The key's value as found (NULL when absent); fails when required and missing. */
static int lookup(json_t *found, const char *path, const char *key, bool required, json_t **value,
                  char *where, smart_error *err)
{
    *value = found;
    if (!*value && required)
        return error_set(err, SMART_EINVAL, "%s: missing required field",
                         where_of(where, path, key));
    return 0;
}

static int wrong_type(const char *where, const char *want, const json_t *got, smart_error *err)
{
    return error_set(err, SMART_EINVAL, "%s: must be %s (got %s)", where, want, jf_type_name(got));
}

typedef enum { K_STRING, K_INTEGER, K_NUMBER, K_BOOLEAN, K_ARRAY } kind;

static bool is_kind(const json_t *v, kind k)
{
    switch (k) {
    case K_STRING: return json_is_string(v);
    case K_INTEGER: return json_is_integer(v);
    case K_NUMBER: return json_is_number(v);
    case K_BOOLEAN: return json_is_boolean(v);
    default: return json_is_array(v);
    }
}

/* Looks the key up and checks its kind (`want` names it for the message). *value is NULL when
 * the key is absent and not required. */
static int lookup_kind(json_t *found, const char *path, const char *key, bool required, kind k,
                       const char *want, json_t **value, char *where, smart_error *err)
{
    int rc = lookup(found, path, key, required, value, where, err);
    if (rc == 0 && *value && !is_kind(*value, k))
        return wrong_type(where_of(where, path, key), want, *value, err);
    return rc;
}

int jf_string_of(json_t *found, const char *path, const char *key, bool required, const char **out,
                 smart_error *err)
{
    char where[JF_PATH_MAX];
    json_t *v;
    *out = NULL;
    int rc = lookup_kind(found, path, key, required, K_STRING, "a string", &v, where, err);
    if (rc || !v)
        return rc;
    if (json_string_length(v) == 0)
        return error_set(err, SMART_EINVAL, "%s: must not be empty", where_of(where, path, key));
    *out = json_string_value(v);
    return 0;
}

int jf_text_of(json_t *found, const char *path, const char *key, bool required, size_t max_len,
               const char **out, smart_error *err)
{
    int rc = jf_string_of(found, path, key, required, out, err);
    if (rc == 0 && *out && strlen(*out) > max_len) {
        char where[JF_PATH_MAX];
        jf_path(where, sizeof where, path, key);
        return error_set(err, SMART_EINVAL, "%s: longer than %zu characters", where, max_len);
    }
    return rc;
}

static bool is_id(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool is_id_value(const json_t *v)
{
    return json_is_string(v) && is_id(json_string_value(v), json_string_length(v));
}

/* The error for a value that is not an identifier (see is_id_value). */
static int not_an_id(const json_t *v, const char *where, smart_error *err)
{
    if (!json_is_string(v))
        return wrong_type(where, "a string", v, err);
    return error_set(err, SMART_EINVAL,
                     "%s: '%.80s' is not an identifier (1 to 64 of A-Z a-z 0-9 . _ -)", where,
                     json_string_value(v));
}

int jf_id_of(json_t *found, const char *path, const char *key, bool required, const char **out,
             smart_error *err)
{
    char where[JF_PATH_MAX];
    json_t *v;
    *out = NULL;
    int rc = lookup(found, path, key, required, &v, where, err);
    if (rc || !v)
        return rc;
    if (!is_id_value(v))
        return not_an_id(v, where_of(where, path, key), err);
    *out = json_string_value(v);
    return 0;
}

int jf_int_of(json_t *found, const char *path, const char *key, bool required, json_int_t min,
              json_int_t max, json_int_t *out, smart_error *err)
{
    char where[JF_PATH_MAX];
    json_t *v;
    int rc = lookup_kind(found, path, key, required, K_INTEGER, "an integer", &v, where, err);
    if (rc || !v)
        return rc;
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        if (max == JF_INT_MAX)
            return error_set(err, SMART_EINVAL,
                             "%s: must be an integer >= %" JSON_INTEGER_FORMAT
                             " (got %" JSON_INTEGER_FORMAT ")",
                             where_of(where, path, key), min, n);
        return error_set(err, SMART_EINVAL,
                         "%s: must be between %" JSON_INTEGER_FORMAT " and %" JSON_INTEGER_FORMAT
                         " (got %" JSON_INTEGER_FORMAT ")",
                         where_of(where, path, key), min, max, n);
    }
    *out = n;
    return 0;
}

int jf_number_of(json_t *found, const char *path, const char *key, bool required, double *out,
                 bool *present, smart_error *err)
{
    char where[JF_PATH_MAX];
    json_t *v;
    *present = false;
    int rc = lookup_kind(found, path, key, required, K_NUMBER, "a number", &v, where, err);
    if (rc || !v)
        return rc;
    *out = json_number_value(v);
    *present = true;
    return 0;
}

int jf_bool_of(json_t *found, const char *path, const char *key, bool required, bool *out,
               smart_error *err)
{
    char where[JF_PATH_MAX];
    json_t *v;
    int rc = lookup_kind(found, path, key, required, K_BOOLEAN, "true or false", &v, where, err);
    if (rc || !v)
        return rc;
    *out = json_is_true(v);
    return 0;
}

int jf_date_of(json_t *found, const char *path, const char *key, bool required, date_value *out,
               const char **text, smart_error *err)
{
    char where[JF_PATH_MAX];
    json_t *v;
    *text = NULL;
    int rc = lookup_kind(found, path, key, required, K_STRING, "a date string", &v, where, err);
    if (rc || !v)
        return rc;
    char why[96];
    if (date_parse(json_string_value(v), out, why, sizeof why) != 0)
        return error_set(err, SMART_EINVAL, "%s: '%.40s' is not a valid date: %s",
                         where_of(where, path, key), json_string_value(v), why);
    *text = json_string_value(v);
    return 0;
}

int jf_array_of(json_t *found, const char *path, const char *key, bool required, json_t **out,
                smart_error *err)
{
    char where[JF_PATH_MAX];
    json_t *v;
    *out = NULL;
    int rc = lookup_kind(found, path, key, required, K_ARRAY, "an array", &v, where, err);
    if (rc || !v)
        return rc;
    *out = v;
    return 0;
}

int jf_id_array_of(json_t *found, const char *path, const char *key, bool required, bool non_empty,
                   json_t **out, smart_error *err)
{
    char where[JF_PATH_MAX], item[JF_PATH_MAX + 24];
    json_t *array;
    int rc = jf_array_of(found, path, key, required, &array, err);
    if (rc || !array) {
        *out = NULL;
        return rc;
    }
    size_t n = json_array_size(array);
    if (non_empty && n == 0)
        return error_set(err, SMART_EINVAL, "%s: must list at least one item",
                         where_of(where, path, key));
    if (n > JF_ID_ARRAY_MAX)
        return error_set(err, SMART_EINVAL, "%s: lists %zu items; at most %d",
                         where_of(where, path, key), n, JF_ID_ARRAY_MAX);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(array, i);
        if (!is_id_value(v)) {
            jf_index(item, sizeof item, where_of(where, path, key), i);
            return not_an_id(v, item, err);
        }
        /* Quadratic, but these lists name the handful of items one job uses. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(v), json_string_value(json_array_get(array, j))) == 0) {
                jf_index(item, sizeof item, where_of(where, path, key), i);
                return error_set(err, SMART_EINVAL, "%s: '%s' is listed twice", item,
                                 json_string_value(v));
            }
    }
    *out = array;
    return 0;
}

/* The readers by key: each looks the key up in obj. */
int jf_string(const json_t *obj, const char *path, const char *key, bool required, const char **out,
              smart_error *err)
{
    return jf_string_of(json_object_get(obj, key), path, key, required, out, err);
}

int jf_text(const json_t *obj, const char *path, const char *key, bool required, size_t max_len,
            const char **out, smart_error *err)
{
    return jf_text_of(json_object_get(obj, key), path, key, required, max_len, out, err);
}

int jf_id(const json_t *obj, const char *path, const char *key, bool required, const char **out,
          smart_error *err)
{
    return jf_id_of(json_object_get(obj, key), path, key, required, out, err);
}

int jf_int(const json_t *obj, const char *path, const char *key, bool required, json_int_t min,
           json_int_t max, json_int_t *out, smart_error *err)
{
    return jf_int_of(json_object_get(obj, key), path, key, required, min, max, out, err);
}

int jf_number(const json_t *obj, const char *path, const char *key, bool required, double *out,
              bool *present, smart_error *err)
{
    return jf_number_of(json_object_get(obj, key), path, key, required, out, present, err);
}

int jf_bool(const json_t *obj, const char *path, const char *key, bool required, bool *out,
            smart_error *err)
{
    return jf_bool_of(json_object_get(obj, key), path, key, required, out, err);
}

int jf_date(const json_t *obj, const char *path, const char *key, bool required, date_value *out,
            const char **text, smart_error *err)
{
    return jf_date_of(json_object_get(obj, key), path, key, required, out, text, err);
}

int jf_array(const json_t *obj, const char *path, const char *key, bool required, json_t **out,
             smart_error *err)
{
    return jf_array_of(json_object_get(obj, key), path, key, required, out, err);
}

int jf_id_array(const json_t *obj, const char *path, const char *key, bool required, bool non_empty,
                json_t **out, smart_error *err)
{
    return jf_id_array_of(json_object_get(obj, key), path, key, required, non_empty, out, err);
}
