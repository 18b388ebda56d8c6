/* The subset of CEL (Common Expression Language) that Dapr pub/sub routing
 * rules use: `event.type == "widget"`, `event.data.price > 100`,
 * `event.source.startsWith("/orders") && has(event.data.region)`.
 *
 * Covered: identifiers, field selection (`a.b`), indexing (`m["k"]`, `l[0]`);
 * literals (int, uint `1u`, hex, double, strings with escapes, raw r'..',
 * triple-quoted, true/false/null, lists `[1, 'a']`); operators
 * `?: || && == != < <= > >= in + - * / % ! -` with CEL precedence;
 * `has(x.f)`, `size(x)` / `x.size()`, `s.startsWith(t)`, `s.endsWith(t)`,
 * `s.contains(t)`. Semantics follow cel-go: errors are values that `false &&`
 * and `true ||` absorb from either side; `==` across kinds is false, numbers
 * compare across int/uint/double; integer overflow and division by zero are
 * errors. One deliberate difference: arithmetic mixing int/uint/double
 * promotes to double instead of failing, because JSON `2` and `2.0` decode to
 * different kinds here (in daprd every JSON number is a double).
 *
 * Refused at compile time with the column and the name: every other function
 * or macro (matches, exists, all, map, filter, int(), ...), map and message
 * literals, bytes literals, reserved words, expressions longer than
 * DAPR__CEL_MAX_LEN bytes or nested deeper than DAPR__CEL_MAX_DEPTH. */
#ifndef DAPR_CORE_CEL_H
#define DAPR_CORE_CEL_H

#include <jansson.h>
#include <stddef.h>

#define DAPR__CEL_MAX_LEN 4096
#define DAPR__CEL_MAX_DEPTH 64

typedef struct dapr__cel dapr__cel_t;

/* Compile `src` (NUL-terminated, borrowed; nothing of it is kept). Returns
 * NULL on failure with a one-line reason in err ("column 12: unsupported
 * function 'matches'", the column being the 1-based byte offset in src;
 * "out of memory" on OOM). err may be NULL; the text is cut to errlen. */
dapr__cel_t *dapr__cel_compile(const char *src, char *err, size_t errlen);

/* Evaluate with the variables in `vars` (borrowed JSON object: identifier ->
 * value, e.g. {"event": {...}}; NULL means none). Returns 1 (true), 0 (false),
 * or DAPR_EINVAL with the reason in err when evaluation fails (no such key,
 * type mismatch, overflow, result not a bool), DAPR_ENOMEM on OOM. Errors are
 * not `false`. Uses no state besides its arguments: one compiled expression
 * may be evaluated from several threads at once. */
int dapr__cel_eval(const dapr__cel_t *e, const json_t *vars, char *err, size_t errlen);

/* Accepts NULL. */
void dapr__cel_free(dapr__cel_t *e);

#endif
