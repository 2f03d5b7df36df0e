/* contract_yaml.h — SmartMaintenance contracts written in YAML, as the MaintenanceHub deploys
 * them (*.yaml, *.yml). A YAML contract is read into the same JSON document a *.json contract
 * is, then checked by the same validator (contract_parse_document), so both forms obey exactly
 * the rules of the JSON contract format; only the reading and the error locations differ.
 *
 * Reading YAML (strict; anything else is refused with `<file>:<line>:<column>: why`):
 * - one document per file; mappings become objects, sequences arrays;
 * - keys are strings (a plain key that reads as a number, boolean or null is refused) and
 *   appear once per mapping;
 * - no anchors, aliases or merge keys; no tags other than the standard !!str !!int !!float
 *   !!bool !!null !!map !!seq (and the non-specific `!`);
 * - quoted and block scalars are strings; a plain scalar is
 *     null    for ~, null, Null, NULL and an empty value,
 *     boolean for true, True, TRUE, false, False, FALSE,
 *     integer for [-+]?(0|[1-9][0-9]*) within 64 bits,
 *     real    for [-+]?([0-9]+.[0-9]*|.[0-9]+)([eE][-+][0-9]+)? (finite),
 *     and a string otherwise (so `calibration_date: 2024-08-07` is the string "2024-08-07").
 *   A plain scalar that YAML 1.1 (the hub's reader) and YAML 1.2 read differently, or that JSON
 *   cannot hold, is refused rather than guessed: yes/no/on/off, 010, 0x1F, 0o17, 1_000, 14:00
 *   and 6:00 (base 60 in 1.1), 1e5, .inf, .nan. Quote it if it is text. 06:00, which no
 *   version reads as a number, is the text it looks like (PyYAML's safe_dump writes it so).
 *
 * The seed's flat baseline (also read in JSON, by contract.c). On an item of equipment_list the
 * hub may write
 *     last_calibration_date: 2024-08-07          (required when either of the others is given)
 *     calibration_certificate: NCL-2024-08-0211   (optional: "not given in the contract")
 *     calibration_provider: Northbridge Calibration Ltd   (optional)
 * instead of the JSON format's
 *     last_calibration: {calibration_date: ..., certificate_number: ..., provider: ...}
 * The flat keys are replaced by that object; the provider defaults to
 * CONTRACT_YAML_DEFAULT_PROVIDER. An item with both forms is refused. Every other key, value and
 * rule is exactly the JSON format's (checklist_steps stay inside procedures, and so on).
 *
 * Locations. Validation messages ("equipment_list[2].calibration_interval_days: must be ...")
 * gain the line of the value: `LP-HUB.yaml:14: equipment_list[2].calibration_interval_days:
 * must be ...`; a field of the flat baseline is named as written (last_calibration_date, ...).
 * A missing field is located at the object that lacks it.
 *
 * Everything runs on the caller's thread, allocates per call and keeps no global state. */
#ifndef SMART_CONTRACT_YAML_H
#define SMART_CONTRACT_YAML_H

#include "smart_plugin.h"

#include <jansson.h>
#include <stddef.h>

#define CONTRACT_YAML_DEFAULT_PROVIDER "recorded by MaintenanceHub"

/* Where each value of a YAML contract was written: JSON path (the validator's syntax:
 * `equipment_list[2].calibration_interval_days`, top-level keys bare, "" for the document) to
 * its 1-based line. Opaque; built by contract_yaml_to_json, one per contract. */
typedef struct yaml_line_map yaml_line_map;

/* Reads the YAML `text` (len bytes, the contents of `file`, a name used in messages) into a
 * JSON document in the contract format (with the flat baseline mapped, see above). On success
 * returns 0, *out owns the new document (json_decref it) and, when `lines` is not NULL, *lines
 * owns its line map (yaml_line_map_free it). On failure returns SMART_ECONTRACT (or
 * SMART_ENOMEM) with err holding `<file>:<line>:<column>: why` (or `<file>:<line>: path: why`
 * for the flat baseline), and *out and *lines untouched. */
int contract_yaml_to_json(const char *file, const char *text, size_t len, json_t **out,
                          yaml_line_map **lines, smart_error *err);

/* The 1-based line of the value at `path`, or 0 when the map has no such path. */
int yaml_line_of(const yaml_line_map *map, const char *path);

/* The line of the value at `path` or, when there is none (a missing field), of the nearest
 * enclosing value that exists; 0 when none does. */
int yaml_line_near(const yaml_line_map *map, const char *path);

/* How the hub wrote the value at `path` when it differs from the JSON path (the flat baseline:
 * "equipment_list[0].last_calibration.calibration_date" was written
 * "equipment_list[0].last_calibration_date"), or NULL. Borrowed from the map. */
const char *yaml_written_as(const yaml_line_map *map, const char *path);

/* Frees the map; NULL is fine. */
void yaml_line_map_free(yaml_line_map *map);

#endif
