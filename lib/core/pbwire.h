/* Minimal protobuf wire-format writer, for the few messages core code emits
 * itself (google.rpc.Status with error details) without generated code. */
#ifndef DAPR_CORE_PBWIRE_H
#define DAPR_CORE_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

void dapr__pb_varint(dapr__buf_t *b, uint64_t v);
/* field with wire type 0 (varint) */
void dapr__pb_uint(dapr__buf_t *b, uint32_t field, uint64_t v);
/* field with wire type 2 (length-delimited): bytes, strings, sub-messages */
void dapr__pb_bytes(dapr__buf_t *b, uint32_t field, const void *p, size_t n);
void dapr__pb_str(dapr__buf_t *b, uint32_t field, const char *s);
/* map<string,string> entry */
void dapr__pb_map_entry(dapr__buf_t *b, uint32_t field, const char *k, const char *v);

#endif
