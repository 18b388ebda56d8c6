#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dapr/common.h"
#include "strutil.h"

json_t *dapr__json_get(const json_t *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    json_t *v = json_object_get(obj, key);
    if (v)
        return v;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)obj, k, val)
    {
        if (!dapr__strcasecmp(k, key))
            return val;
    }
    return NULL;
}

json_t *dapr__json_decode(const void *data, size_t len, json_error_t *err)
{
    return json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, err);
}

int dapr__json_write_double(dapr__buf_t *out, double d)
{
    if (!isfinite(d))
        return DAPR_EINVAL;
    if (d == 0) {
        return dapr__buf_puts(out, signbit(d) ? "-0" : "0");
    }
    /* shortest precision that round-trips */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    double a = fabs(d);
    if (a < 1e-6 || a >= 1e21) {
        /* Go: 'e' format with at least two exponent digits, no '+0' padding
         * beyond two: 1e+21, 1e-07 */
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        char *e = strchr(tmp, 'e');
        char mant[32];
        size_t ml = (size_t)(e - tmp);
        memcpy(mant, tmp, ml);
        mant[ml] = 0;
        /* trim zeros in mantissa fraction */
        if (strchr(mant, '.')) {
            while (ml && mant[ml - 1] == '0')
                mant[--ml] = 0;
            if (ml && mant[ml - 1] == '.')
                mant[--ml] = 0;
        }
        int exp = atoi(e + 1);
        return dapr__buf_printf(out, "%se%c%02d", mant, exp < 0 ? '-' : '+', abs(exp));
    }
    /* 'f' format with the digits found above */
    int exp10 = (int)floor(log10(a));
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
    exp10 = atoi(strchr(tmp, 'e') + 1);
    int decimals = prec - 1 - exp10;
    if (decimals < 0)
        decimals = 0;
    snprintf(tmp, sizeof(tmp), "%.*f", decimals, d);
    if (strchr(tmp, '.')) {
        size_t l = strlen(tmp);
        while (tmp[l - 1] == '0')
            tmp[--l] = 0;
        if (tmp[l - 1] == '.')
            tmp[--l] = 0;
    }
    return dapr__buf_puts(out, tmp);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int dapr__json_go_encode(const json_t *v, dapr__buf_t *out)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return dapr__buf_puts(out, "null");
    case JSON_TRUE: return dapr__buf_puts(out, "true");
    case JSON_FALSE: return dapr__buf_puts(out, "false");
    case JSON_INTEGER: return dapr__buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL: return dapr__json_write_double(out, json_real_value(v));
    case JSON_STRING:
        return dapr__buf_json_str(out, json_string_value(v), json_string_length(v), 1);
    case JSON_ARRAY: {
        dapr__buf_putc(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                dapr__buf_putc(out, ',');
            if (dapr__json_go_encode(json_array_get(v, i), out))
                return DAPR_ENOMEM;
        }
        return dapr__buf_putc(out, ']');
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        const char **keys = n ? dapr__malloc(n * sizeof(*keys)) : NULL;
        if (n && !keys)
            return DAPR_ENOMEM;
        size_t i = 0;
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) keys[i++] = k;
        if (n)
            qsort(keys, n, sizeof(*keys), cmp_keys);
        dapr__buf_putc(out, '{');
        int rc = 0;
        for (i = 0; i < n && !rc; i++) {
            if (i)
                dapr__buf_putc(out, ',');
            dapr__buf_json_str(out, keys[i], strlen(keys[i]), 1);
            dapr__buf_putc(out, ':');
            rc = dapr__json_go_encode(json_object_get(v, keys[i]), out);
        }
        dapr__free(keys);
        dapr__buf_putc(out, '}');
        return rc ? rc : (out->oom ? DAPR_ENOMEM : 0);
    }
    }
    return DAPR_EINVAL;
}
