/* Due times, periods and TTLs of actor timers and reminders (spec §8.1), as
 * Dapr 1.16 parses them: Go durations ("1m", "0h0m3s0ms"), ISO 8601
 * durations ("PT10S", "P1DT2H", "P2W") with an optional repetition prefix
 * ("R5/PT1S"), and RFC 3339 instants. Pure code, no I/O. */
#ifndef DAPR_CORE_DURATION_H
#define DAPR_CORE_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* ISO 8601 duration "P[nY][nM][nW][nD][T[nH][nM][n[.f]S]]" → ns (years 365
 * days, months 30 days, as Dapr). With allow_repeat, "R<n>/<duration>" sets
 * *repeats to n; otherwise (or without the prefix) *repeats is -1.
 * repeats may be NULL when allow_repeat is false. DAPR_EINVAL when bad. */
int dapr__iso_duration_parse(const char *s, bool allow_repeat, int64_t *ns, int *repeats);

/* RFC 3339 "2006-01-02T15:04:05[.frac](Z|±hh:mm)" → Unix ns. DAPR_EINVAL. */
int dapr__rfc3339_parse(const char *s, int64_t *unix_ns);

/* A timer's or reminder's schedule, from the strings a caller gives. */
typedef struct dapr__schedule {
    int64_t first_ns;   /* Unix ns of the first firing */
    int64_t period_ns;  /* 0: fire once */
    int repeats;        /* firings left; -1 unlimited */
    int64_t expire_ns;  /* Unix ns after which it stops; 0 none */
} dapr__schedule_t;

/* Parse due time (ISO duration, Go duration or RFC 3339; empty = now),
 * period (Go duration or ISO duration with R<n>/; empty = once) and ttl
 * (ISO duration, Go duration or RFC 3339; empty = none) relative to now.
 * On DAPR_EINVAL *why names the bad field and reason (static text). */
int dapr__schedule_parse(const char *due, const char *period, const char *ttl, int64_t now_ns,
                         dapr__schedule_t *out, const char **why);

/* After a firing at `at_ns`: whether another is due, and when (*next_ns). */
bool dapr__schedule_next(dapr__schedule_t *s, int64_t at_ns, int64_t *next_ns);

#endif
