/*
 * cart_api: the HTTP handlers of cart-service and the glue from Kafka's
 * delivery reports back to the waiting HTTP calls.
 *
 * POST /create-order and PUT /update-order validate, build the event, encode
 * it (Confluent wire format) and queue it; the 201/200 is sent from the
 * delivery report, so a 2xx always means "acknowledged by all in-sync
 * replicas". The same request produces the same event content (cart_gen.h,
 * cart_idem.h), so a client may retry a create whose outcome it did not
 * learn. A pending write lives in a pooled struct (no allocation per
 * request in steady state) that the delivery report gets back as its opaque.
 *
 * Threads (HTTP_THREADS): every HTTP thread has its own cart_thread (codec,
 * encode frame, answer writer, pending pool); the producer is shared and its
 * delivery reports run on thread 0's loop. A report for a call of another
 * thread is handed to that thread (http_call_complete: one wake-up per batch
 * of reports), which renders and sends the answer and recycles the slot, so
 * a pool is only ever touched by its own thread.
 */
#ifndef CART_API_H
#define CART_API_H

#include "event/avro_codec.h"
#include "cart_bootstrap.h"
#include "cart_config.h"
#include "cart_producer.h"
#include "platform/http.h"
#include "cart_gen.h"

#include <stdatomic.h>
#include <stddef.h>

typedef struct cart_pending cart_pending;

typedef struct {
    const cart_config *cfg;
    cart_producer *producer; /* set after cart_app_init */
    cart_bootstrap *boot;
    atomic_long pending;      /* writes waiting for a delivery report, all threads */
    atomic_int shutting_down; /* new writes get 503 */
    int http_gone;            /* server freed: reports only release their call (thread 0) */
} cart_app;

/* One HTTP thread's own state (http_config.thread_init / thread_free). */
typedef struct {
    int index;    /* 0: the thread that serves the delivery reports */
    codec *codec; /* a codec is not thread-safe: one per thread */
    cart_pending *free_pending;
    size_t nfree;
    jsonw out;      /* reused response writer */
    order_event ev; /* the event being built, then encoded into frame */
    uint8_t frame[CODEC_MAX_ENCODED];
} cart_thread;

void cart_app_init(cart_app *a, const cart_config *cfg, cart_bootstrap *boot);
void *cart_thread_init(void *app, int index, char *err, size_t errlen);
void cart_thread_free(void *thread_ctx);

/* The route table: /create-order, /update-order, /health. */
const http_route *cart_routes(size_t *n);

/*
 * Whether a failed delivery is one a retry of the same request can fix
 * (answered 503 with Retry-After), as opposed to a refusal (400) or the
 * unexpected (500). A retried create is safe either way (cart_gen.h).
 */
int cart_error_retryable(rd_kafka_resp_err_t e);

/* cart_producer callbacks (on thread 0's loop); app is the cart_app. */
void cart_on_delivery(void *msg_opaque, rd_kafka_resp_err_t err, int maybe_written,
                      const char *topic, int32_t partition, int64_t offset, void *app);
void cart_on_brokers_down(const char *reason, void *app);

#endif
