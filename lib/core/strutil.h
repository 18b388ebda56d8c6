/* Small string helpers and the parsers of Dapr's value formats. */
#ifndef DAPR_CORE_STRUTIL_H
#define DAPR_CORE_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII case folding (header names and the like), whatever the locale. */
static inline int dapr__ascii_lower(unsigned char ch)
{
    return (unsigned)(ch - 'A') < 26u ? ch + 32 : ch;
}

/* strcasecmp in ASCII; inline: header lookups call it for every header. */
static inline int dapr__strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = dapr__ascii_lower((unsigned char)*a), cb = dapr__ascii_lower((unsigned char)*b);
        if (ca != cb || !ca)
            return ca - cb;
    }
}

bool dapr__strieq_n(const char *a, size_t alen, const char *b);
bool dapr__starts_with(const char *s, const char *prefix);

/* Go time.ParseDuration ("1h2m3.5s", "300ms", "-2us"); *ns out. A bare
 * number is refused unless allow_bare_seconds, then it is seconds.
 * Returns 0 or DAPR_EINVAL. */
int dapr__parse_duration(const char *s, bool allow_bare_seconds, int64_t *ns);
/* Kubernetes resource quantity ("4Mi", "512Ki", "2M", "1000"); bytes out. */
int dapr__parse_quantity(const char *s, int64_t *bytes);
/* Truthy/falsy as Dapr's metadata helpers: 1 t true y yes on / 0 f false n
 * no off (any case). Returns 0 or DAPR_EINVAL. */
int dapr__parse_bool(const char *s, bool *out);
/* Whole-string signed decimal integer. */
int dapr__parse_int(const char *s, int64_t *out);

/* Percent-decode n bytes of s into out (at least n+1 bytes); '+' is kept
 * unless plus_is_space. Returns decoded length, or -1 on a bad escape. */
long dapr__url_unescape(const char *s, size_t n, char *out, bool plus_is_space);
/* Go's path.Clean for a rooted path, into out (n + 2 bytes): "//", "."
 * and ".." collapsed (never above the root), no trailing '/', a leading
 * '/' always. Returns the length. */
size_t dapr__path_clean(const char *in, size_t n, char *out);

/* RFC 3339 UTC time with nanoseconds ("2024-05-01T10:00:00.123456789Z")
 * of a realtime clock reading; out needs 40 bytes. */
void dapr__format_time_rfc3339(char *out, size_t outlen, int64_t unix_ns, bool nanos);
int64_t dapr__now_unix_ns(void);

/* A random RFC 4122 v4 UUID into out (37 bytes). */
void dapr__uuid4(char out[37]);

#endif
