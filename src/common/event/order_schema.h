/* order_schema: the text of schemas/order-event.avsc, compiled in at build time. */
#ifndef ORDER_SCHEMA_H
#define ORDER_SCHEMA_H

extern const char order_schema_json[];

#endif
