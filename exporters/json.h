/* json: the JSON text pieces the console exporter (and later the OTLP/JSON
 * encoder) share: strings escaped per RFC 8259 with invalid UTF-8 replaced
 * by U+FFFD, hex ids, attribute values. Depends on buf.h and core/attr.h. */
#ifndef OTELP_EXPORTERS_JSON_H
#define OTELP_EXPORTERS_JSON_H

#include "core/attr.h"
#include "exporters/buf.h"

void json_string(struct buf *b, const char *s, size_t len);
void json_hex(struct buf *b, const uint8_t *bytes, size_t len);
/* A plain JSON value: string, true/false, integer, number, array. */
void json_attr_value(struct buf *b, const struct attr_value *v);
/* {"key":value,...} */
void json_attr_object(struct buf *b, const struct attr_list *l);

#endif
