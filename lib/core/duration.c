/* ISO 8601 durations, RFC 3339 instants and actor schedules (duration.h).
 * The fallback order follows Dapr's pkg/actors/internal/reminders parsing:
 * due times try ISO duration, Go duration, then RFC 3339; periods try Go
 * duration, then ISO duration with repetition. */
#include "duration.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dapr/common.h"
#include "strutil.h"

#define NS_S 1000000000LL

/* One "<number>[.<frac>]<unit>" component; the number is returned in ns
 * units of `unit_ns`. */
static int iso_component(const char **p, int64_t unit_ns, int64_t *acc)
{
    const char *s = *p;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || !isdigit((unsigned char)*s))
        return DAPR_EINVAL;
    *acc += (int64_t)(v * (double)unit_ns);
    *p = end + 1;
    return 0;
}

int dapr__iso_duration_parse(const char *s, bool allow_repeat, int64_t *ns, int *repeats)
{
    if (repeats)
        *repeats = -1;
    if (!s)
        return DAPR_EINVAL;
    if (allow_repeat && (s[0] == 'R' || s[0] == 'r')) {
        const char *slash = strchr(s, '/');
        char *end;
        long n = strtol(s + 1, &end, 10);
        if (!slash || end != slash || end == s + 1 || n < 0 || n > 1000000000L)
            return DAPR_EINVAL;
        if (repeats)
            *repeats = (int)n;
        s = slash + 1;
    }
    if (*s != 'P' && *s != 'p')
        return DAPR_EINVAL;
    s++;
    int64_t acc = 0;
    bool in_time = false, any = false;
    while (*s) {
        if (*s == 'T' || *s == 't') {
            if (in_time)
                return DAPR_EINVAL;
            in_time = true;
            s++;
            continue;
        }
        const char *u = s;
        while (*u && (isdigit((unsigned char)*u) || *u == '.'))
            u++;
        int64_t unit;
        switch (toupper((unsigned char)*u)) {
        case 'Y': unit = in_time ? -1 : 365 * 24 * 3600 * NS_S; break;
        case 'M': unit = in_time ? 60 * NS_S : 30 * 24 * 3600 * NS_S; break;
        case 'W': unit = in_time ? -1 : 7 * 24 * 3600 * NS_S; break;
        case 'D': unit = in_time ? -1 : 24 * 3600 * NS_S; break;
        case 'H': unit = in_time ? 3600 * NS_S : -1; break;
        case 'S': unit = in_time ? NS_S : -1; break;
        default: return DAPR_EINVAL;
        }
        if (unit < 0 || iso_component(&s, unit, &acc))
            return DAPR_EINVAL;
        any = true;
    }
    if (!any)
        return DAPR_EINVAL;
    *ns = acc;
    return 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return DAPR_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int dapr__rfc3339_parse(const char *s, int64_t *unix_ns)
{
    int Y, M, D, h, m, sec;
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':' || digits(s, 4, &Y) || digits(s + 5, 2, &M) ||
        digits(s + 8, 2, &D) || digits(s + 11, 2, &h) || digits(s + 14, 2, &m) ||
        digits(s + 17, 2, &sec) || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
        sec > 60)
        return DAPR_EINVAL;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int64_t scale = 100000000;
        p++;
        if (!isdigit((unsigned char)*p))
            return DAPR_EINVAL;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += scale > 0 ? (*p - '0') * scale : 0;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strlen(p) != 6 || p[3] != ':' || digits(p + 1, 2, &oh) || digits(p + 4, 2, &om))
            return DAPR_EINVAL;
        off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return DAPR_EINVAL;
    }
    if (*p)
        return DAPR_EINVAL;
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - off;
    *unix_ns = secs * NS_S + frac;
    return 0;
}

/* A point in time: ISO duration, Go duration (both from now) or RFC 3339. */
static int parse_when(const char *s, int64_t now, int64_t *at)
{
    int64_t d;
    if (!dapr__iso_duration_parse(s, false, &d, NULL) || !dapr__parse_duration(s, false, &d) ||
        !strcmp(s, "0")) {
        *at = now + (strcmp(s, "0") ? d : 0);
        return 0;
    }
    return dapr__rfc3339_parse(s, at);
}

int dapr__schedule_parse(const char *due, const char *period, const char *ttl, int64_t now_ns,
                         dapr__schedule_t *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    out->repeats = -1;
    out->first_ns = now_ns;
    if (due && *due && parse_when(due, now_ns, &out->first_ns)) {
        *why = "error parsing dueTime: unsupported time/duration format";
        return DAPR_EINVAL;
    }
    if (period && *period) {
        int64_t p;
        if (!dapr__parse_duration(period, false, &p) || !strcmp(period, "0")) {
            out->period_ns = strcmp(period, "0") ? p : 0;
        } else if (!dapr__iso_duration_parse(period, true, &p, &out->repeats)) {
            out->period_ns = p;
        } else {
            *why = "error parsing period: unsupported duration format";
            return DAPR_EINVAL;
        }
        if (out->period_ns < 0 || out->repeats == 0) {
            *why = out->repeats == 0 ? "error parsing period: repetitions must be positive"
                                     : "error parsing period: negative duration";
            return DAPR_EINVAL;
        }
    }
    if (ttl && *ttl) {
        if (parse_when(ttl, now_ns, &out->expire_ns)) {
            *why = "error parsing TTL: unsupported time/duration format";
            return DAPR_EINVAL;
        }
        if (out->expire_ns < out->first_ns) {
            *why = "error parsing TTL: TTL expires before the first firing";
            return DAPR_EINVAL;
        }
    }
    return 0;
}

bool dapr__schedule_next(dapr__schedule_t *s, int64_t at_ns, int64_t *next_ns)
{
    if (s->repeats > 0)
        s->repeats--;
    if (!s->period_ns || s->repeats == 0)
        return false;
    int64_t n = at_ns + s->period_ns;
    if (s->expire_ns && n > s->expire_ns)
        return false;
    *next_ns = n;
    return true;
}
