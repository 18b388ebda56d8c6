/* ISO 8601 durations, RFC 3339 instants and actor schedules (core/duration.h). */
#include "core/duration.h"
#include "dapr/common.h"
#include "../testutil.h"

#define S 1000000000LL

static void iso(void)
{
    int64_t ns;
    int r;
    CHECK_EQ_INT(dapr__iso_duration_parse("PT10S", false, &ns, NULL), 0);
    CHECK_EQ_INT(ns, 10 * S);
    CHECK_EQ_INT(dapr__iso_duration_parse("P1DT2H3M4.5S", false, &ns, NULL), 0);
    CHECK_EQ_INT(ns, (86400 + 7200 + 180 + 4) * S + S / 2);
    CHECK_EQ_INT(dapr__iso_duration_parse("P2W", false, &ns, NULL), 0);
    CHECK_EQ_INT(ns, 14 * 86400 * S);
    CHECK_EQ_INT(dapr__iso_duration_parse("P1M", false, &ns, NULL), 0);
    CHECK_EQ_INT(ns, 30 * 86400 * S);
    CHECK_EQ_INT(dapr__iso_duration_parse("PT1M", false, &ns, NULL), 0);
    CHECK_EQ_INT(ns, 60 * S);
    CHECK_EQ_INT(dapr__iso_duration_parse("R5/PT1S", true, &ns, &r), 0);
    CHECK_EQ_INT(ns, S);
    CHECK_EQ_INT(r, 5);
    CHECK_EQ_INT(dapr__iso_duration_parse("PT1S", true, &ns, &r), 0);
    CHECK_EQ_INT(r, -1);
    CHECK_EQ_INT(dapr__iso_duration_parse("R5/PT1S", false, &ns, NULL), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__iso_duration_parse("P", false, &ns, NULL), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__iso_duration_parse("PT", false, &ns, NULL), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__iso_duration_parse("PT5H1D", false, &ns, NULL), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__iso_duration_parse("5s", false, &ns, NULL), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__iso_duration_parse("Rx/PT1S", true, &ns, &r), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__iso_duration_parse("PT-1S", false, &ns, NULL), DAPR_EINVAL);
}

static void rfc3339(void)
{
    int64_t t;
    CHECK_EQ_INT(dapr__rfc3339_parse("1970-01-01T00:00:00Z", &t), 0);
    CHECK_EQ_INT(t, 0);
    CHECK_EQ_INT(dapr__rfc3339_parse("2024-02-29T12:30:15.25Z", &t), 0);
    CHECK_EQ_INT(t, 1709209815LL * S + S / 4);
    CHECK_EQ_INT(dapr__rfc3339_parse("2024-02-29T14:30:15+02:00", &t), 0);
    CHECK_EQ_INT(t, 1709209815LL * S);
    CHECK_EQ_INT(dapr__rfc3339_parse("2024-02-29 14:30:15Z", &t), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__rfc3339_parse("2024-02-29T14:30:15", &t), DAPR_EINVAL);
    CHECK_EQ_INT(dapr__rfc3339_parse("2024-13-29T14:30:15Z", &t), DAPR_EINVAL);
}

static void schedule(void)
{
    dapr__schedule_t s;
    const char *why = NULL;
    int64_t now = 1000 * S, next;
    CHECK_EQ_INT(dapr__schedule_parse("", "", "", now, &s, &why), 0);
    CHECK_EQ_INT(s.first_ns, now);
    CHECK(!dapr__schedule_next(&s, now, &next));
    CHECK_EQ_INT(dapr__schedule_parse("0h0m3s0ms", "1m", "", now, &s, &why), 0);
    CHECK_EQ_INT(s.first_ns, now + 3 * S);
    CHECK_EQ_INT(s.period_ns, 60 * S);
    CHECK(dapr__schedule_next(&s, s.first_ns, &next));
    CHECK_EQ_INT(next, now + 63 * S);
    CHECK_EQ_INT(dapr__schedule_parse("PT2S", "R2/PT1S", "", now, &s, &why), 0);
    CHECK_EQ_INT(s.first_ns, now + 2 * S);
    CHECK(dapr__schedule_next(&s, s.first_ns, &next));
    CHECK(!dapr__schedule_next(&s, next, &next));
    CHECK_EQ_INT(dapr__schedule_parse("0", "1s", "3s", now, &s, &why), 0);
    CHECK_EQ_INT(s.expire_ns, now + 3 * S);
    CHECK(dapr__schedule_next(&s, now + 2 * S, &next));
    CHECK(!dapr__schedule_next(&s, now + 3 * S, &next));
    CHECK_EQ_INT(dapr__schedule_parse("1970-01-01T00:20:00Z", "", "", now, &s, &why), 0);
    CHECK_EQ_INT(s.first_ns, 1200 * S);
    CHECK_EQ_INT(dapr__schedule_parse("soon", "", "", now, &s, &why), DAPR_EINVAL);
    CHECK(why && strstr(why, "dueTime"));
    CHECK_EQ_INT(dapr__schedule_parse("", "often", "", now, &s, &why), DAPR_EINVAL);
    CHECK(why && strstr(why, "period"));
    CHECK_EQ_INT(dapr__schedule_parse("10s", "", "5s", now, &s, &why), DAPR_EINVAL);
}

int main(void)
{
    iso();
    rfc3339();
    schedule();
    return test_result();
}
