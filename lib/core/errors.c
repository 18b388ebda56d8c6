#include "errors.h"

#include <stdarg.h>
#include <string.h>

#include "alloc.h"
#include "pbwire.h"

static const dapr__errdef_t defs[] = {
#define DAPR__ERRCAT_ROW(id, code, http, grpc, reason, rtype) {code, http, grpc, reason, rtype},
    DAPR__ERRCAT(DAPR__ERRCAT_ROW)
#undef DAPR__ERRCAT_ROW
};

const dapr__errdef_t *dapr__errdef(dapr__errid_t id)
{
    return (unsigned)id < DAPR_ERR__COUNT ? &defs[id] : &defs[DAPR_ERR_INTERNAL];
}

dapr__apierr_t *dapr__apierr_new(dapr__errid_t id, const char *fmt, ...)
{
    dapr__apierr_t *e = dapr__calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->id = id;
    dapr__buf_t b = DAPR__BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    dapr__buf_vprintf(&b, fmt, ap);
    va_end(ap);
    dapr__buf_cstr(&b);
    e->message = b.oom ? NULL : dapr__buf_steal(&b, NULL);
    if (!e->message) {
        dapr__buf_free(&b);
        dapr__free(e);
        return NULL;
    }
    return e;
}

void dapr__apierr_md(dapr__apierr_t *e, const char *k, const char *v)
{
    if (!e || e->n_md >= DAPR__APIERR_MAX_MD)
        return;
    char *dk = dapr__strdup(k), *dv = dapr__strdup(v ? v : "");
    if (!dk || !dv) {
        dapr__free(dk);
        dapr__free(dv);
        return;
    }
    e->md_key[e->n_md] = dk;
    e->md_val[e->n_md++] = dv;
}

void dapr__apierr_resource(dapr__apierr_t *e, const char *name)
{
    if (!e)
        return;
    dapr__free(e->resource_name);
    e->resource_name = dapr__strdup(name);
}

void dapr__apierr_violation(dapr__apierr_t *e, const char *field, const char *desc)
{
    if (!e)
        return;
    dapr__free(e->violation_field);
    dapr__free(e->violation_desc);
    e->violation_field = dapr__strdup(field);
    e->violation_desc = dapr__strdup(desc);
}

void dapr__apierr_free(dapr__apierr_t *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_md; i++) {
        dapr__free(e->md_key[i]);
        dapr__free(e->md_val[i]);
    }
    dapr__free(e->message);
    dapr__free(e->resource_name);
    dapr__free(e->violation_field);
    dapr__free(e->violation_desc);
    dapr__free(e);
}

static void jstr(dapr__buf_t *b, const char *s) { dapr__buf_json_str(b, s, strlen(s), 1); }

int dapr__apierr_json(const dapr__apierr_t *e, dapr__buf_t *b)
{
    const dapr__errdef_t *d = dapr__errdef(e->id);
    dapr__buf_puts(b, "{\"errorCode\":");
    jstr(b, d->code);
    dapr__buf_puts(b, ",\"message\":");
    jstr(b, e->message);
    if (d->reason) {
        dapr__buf_puts(b, ",\"details\":[");
        int first = 1;
        if (d->resource_type && e->resource_name) {
            dapr__buf_puts(b, "{\"@type\":\"type.googleapis.com/google.rpc.ResourceInfo\","
                              "\"resource_type\":");
            jstr(b, d->resource_type);
            dapr__buf_puts(b, ",\"resource_name\":");
            jstr(b, e->resource_name);
            dapr__buf_puts(b, ",\"owner\":\"\",\"description\":\"\"}");
            first = 0;
        }
        if (!first)
            dapr__buf_putc(b, ',');
        dapr__buf_puts(b, "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":");
        jstr(b, d->reason);
        dapr__buf_puts(b, ",\"domain\":\"dapr.io\"");
        if (e->n_md) {
            dapr__buf_puts(b, ",\"metadata\":{");
            for (size_t i = 0; i < e->n_md; i++) {
                if (i)
                    dapr__buf_putc(b, ',');
                jstr(b, e->md_key[i]);
                dapr__buf_putc(b, ':');
                jstr(b, e->md_val[i]);
            }
            dapr__buf_putc(b, '}');
        }
        dapr__buf_putc(b, '}');
        if (e->violation_field) {
            dapr__buf_puts(b, ",{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\","
                              "\"field_violations\":[{\"field\":");
            jstr(b, e->violation_field);
            dapr__buf_puts(b, ",\"description\":");
            jstr(b, e->violation_desc ? e->violation_desc : "");
            dapr__buf_puts(b, "}]}");
        }
        dapr__buf_putc(b, ']');
    }
    dapr__buf_putc(b, '}');
    return b->oom ? DAPR_ENOMEM : 0;
}

static void any(dapr__buf_t *out, const char *type, const dapr__buf_t *msg)
{
    dapr__buf_t a = DAPR__BUF_INIT;
    dapr__pb_str(&a, 1, type);
    dapr__pb_bytes(&a, 2, msg->data ? msg->data : "", msg->len);
    dapr__pb_bytes(out, 3, a.data ? a.data : "", a.len);
    if (a.oom || msg->oom)
        out->oom = 1;
    dapr__buf_free(&a);
}

int dapr__apierr_status_pb(const dapr__apierr_t *e, dapr__buf_t *out)
{
    const dapr__errdef_t *d = dapr__errdef(e->id);
    dapr__pb_uint(out, 1, (uint64_t)d->grpc);
    dapr__pb_str(out, 2, e->message);
    if (!d->reason)
        return out->oom ? DAPR_ENOMEM : 0;
    dapr__buf_t m = DAPR__BUF_INIT;
    if (d->resource_type && e->resource_name) {
        dapr__pb_str(&m, 1, d->resource_type);
        dapr__pb_str(&m, 2, e->resource_name);
        any(out, "type.googleapis.com/google.rpc.ResourceInfo", &m);
        dapr__buf_reset(&m);
    }
    dapr__pb_str(&m, 1, d->reason);
    dapr__pb_str(&m, 2, "dapr.io");
    for (size_t i = 0; i < e->n_md; i++)
        dapr__pb_map_entry(&m, 3, e->md_key[i], e->md_val[i]);
    any(out, "type.googleapis.com/google.rpc.ErrorInfo", &m);
    dapr__buf_reset(&m);
    if (e->violation_field) {
        dapr__buf_t v = DAPR__BUF_INIT;
        dapr__pb_str(&v, 1, e->violation_field);
        dapr__pb_str(&v, 2, e->violation_desc);
        dapr__pb_bytes(&m, 1, v.data ? v.data : "", v.len);
        dapr__buf_free(&v);
        any(out, "type.googleapis.com/google.rpc.BadRequest", &m);
    }
    dapr__buf_free(&m);
    return out->oom ? DAPR_ENOMEM : 0;
}

int dapr__errno_grpc(int code)
{
    switch (code) {
    case DAPR_OK: return DAPR_GRPC_OK;
    case DAPR_EINVAL: case DAPR_EPARSE: case DAPR_EETAG_INVALID: return DAPR_GRPC_INVALID_ARGUMENT;
    case DAPR_ENOTFOUND: return DAPR_GRPC_NOT_FOUND;
    case DAPR_EEXIST: return DAPR_GRPC_ALREADY_EXISTS;
    case DAPR_EETAG_MISMATCH: return DAPR_GRPC_ABORTED;
    case DAPR_ENOTSUP: return DAPR_GRPC_UNIMPLEMENTED;
    case DAPR_ETIMEDOUT: return DAPR_GRPC_DEADLINE_EXCEEDED;
    case DAPR_EUNAVAIL: case DAPR_ECLOSED: return DAPR_GRPC_UNAVAILABLE;
    case DAPR_ECANCELED: return DAPR_GRPC_CANCELLED;
    case DAPR_ETOOBIG: return DAPR_GRPC_RESOURCE_EXHAUSTED;
    case DAPR_EDENIED: return DAPR_GRPC_PERMISSION_DENIED;
    default: return DAPR_GRPC_INTERNAL;
    }
}

/* Public result-code helpers (include/dapr/common.h). */
const char *dapr_strerror(int code)
{
    switch (code) {
#define DAPR__ERRNO_TEXT(name, val, text) case (val): return text;
        DAPR_ERRNO_MAP(DAPR__ERRNO_TEXT)
#undef DAPR__ERRNO_TEXT
    default: return "unknown error";
    }
}

const char *dapr_err_name(int code)
{
    switch (code) {
#define DAPR__ERRNO_NAME(name, val, text) case (val): return "DAPR_" #name;
        DAPR_ERRNO_MAP(DAPR__ERRNO_NAME)
#undef DAPR__ERRNO_NAME
    default: return "DAPR_EUNKNOWN";
    }
}
