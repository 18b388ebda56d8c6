/* JSON helpers over jansson: case-insensitive field lookup (Go's
 * encoding/json matches struct fields that way) and an encoder that writes a
 * value the way Go's json.Marshal would (compact, object keys sorted, HTML
 * characters escaped, floats in shortest round-trip form), so stored values
 * read back exactly as from Dapr. */
#ifndef DAPR_CORE_JSON_H
#define DAPR_CORE_JSON_H

#include <jansson.h>

#include "buf.h"

/* Exact match first, then ASCII case-insensitive. Borrowed reference. */
json_t *dapr__json_get(const json_t *obj, const char *key);
int dapr__json_go_encode(const json_t *v, dapr__buf_t *out);
/* Decode a whole buffer (any JSON value); NULL + err text on failure. */
json_t *dapr__json_decode(const void *data, size_t len, json_error_t *err);
/* Write a double as Go does (strconv 'g'-like shortest, exponent rules). */
int dapr__json_write_double(dapr__buf_t *out, double d);

#endif
