/*
 * e2e_latency: end-to-end latency at a fixed rate. Creates orders through
 * cart-service at RATE per second for SECONDS, and for each 201 polls
 * order-service's /order-details (every POLL_MS) until the order is visible.
 * Latency = visible - 201 received. Prints p50/p99/max and counts.
 *
 * usage: e2e_latency CART_HOST CART_PORT ORDER_HOST ORDER_PORT RATE SECONDS PREFIX
 *
 * Open loop: requests are sent on schedule whatever the answers, over a pool
 * of keep-alive connections, all on one libevent loop.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL 64
#define POLL_MS 1

typedef struct {
    char id[80];
    double acked;
    int polls;
} pending;

static struct event_base *base;
static struct evhttp_connection *cart_pool[POOL], *order_pool[POOL];
static unsigned cart_rr, order_rr;
static long sent, acked, visible, create_errors, poll_errors, target;
static double t_start, duration;
static double *lat;
static long lat_n, lat_cap;
static const char *prefix;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void poll_order(pending *p);

static void poll_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    poll_order(arg);
}

static void poll_done(struct evhttp_request *req, void *arg)
{
    pending *p = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 200) {
        if (lat_n == lat_cap) {
            lat_cap = lat_cap ? lat_cap * 2 : 65536;
            double *nl = realloc(lat, (size_t)lat_cap * sizeof *lat);
            if (!nl) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
            lat = nl;
        }
        lat[lat_n++] = now_s() - p->acked;
        visible++;
        free(p);
        return;
    }
    if (code != 404 || ++p->polls > 20000) {
        poll_errors++;
        free(p);
        return;
    }
    struct timeval tv = {0, POLL_MS * 1000};
    event_base_once(base, -1, EV_TIMEOUT, poll_retry_cb, p, &tv);
}

static void poll_order(pending *p)
{
    char uri[128];
    snprintf(uri, sizeof uri, "/order-details?orderId=%s", p->id);
    struct evhttp_request *r = evhttp_request_new(poll_done, p);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", "localhost");
    if (evhttp_make_request(order_pool[order_rr++ % POOL], r, EVHTTP_REQ_GET, uri) != 0) {
        poll_errors++;
        free(p);
    }
}

static void create_done(struct evhttp_request *req, void *arg)
{
    pending *p = arg;
    if (!req || evhttp_request_get_response_code(req) != 201) {
        create_errors++;
        free(p);
        return;
    }
    acked++;
    p->acked = now_s();
    poll_order(p);
}

static void send_create(void)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) {
        create_errors++;
        return;
    }
    snprintf(p->id, sizeof p->id, "%s%ld", prefix, sent);
    struct evhttp_request *r = evhttp_request_new(create_done, p);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Host", "localhost");
    evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add_printf(evhttp_request_get_output_buffer(r),
                        "{\"orderId\":\"%s\",\"itemsCount\":3}", p->id);
    sent++;
    if (evhttp_make_request(cart_pool[cart_rr++ % POOL], r, EVHTTP_REQ_POST, "/create-order")) {
        create_errors++;
        free(p);
    }
}

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    struct event *self = arg;
    double el = now_s() - t_start;
    long due = el >= duration ? target : (long)(el * (double)target / duration);
    while (sent < due)
        send_create();
    if (sent >= target) {
        event_del(self);
        struct timeval grace = {15, 0};
        event_base_loopexit(base, &grace);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s CART_HOST CART_PORT ORDER_HOST ORDER_PORT RATE SECONDS PREFIX\n",
                argv[0]);
        return 2;
    }
    double rate = atof(argv[5]);
    duration = atof(argv[6]);
    prefix = argv[7];
    target = (long)(rate * duration);
    if (rate <= 0 || duration <= 0) {
        fprintf(stderr, "RATE and SECONDS must be > 0\n");
        return 2;
    }
    base = event_base_new();
    if (!base)
        return 1;
    for (int i = 0; i < POOL; i++) {
        cart_pool[i] = evhttp_connection_base_new(base, NULL, argv[1], (unsigned short)atoi(argv[2]));
        order_pool[i] =
            evhttp_connection_base_new(base, NULL, argv[3], (unsigned short)atoi(argv[4]));
        if (!cart_pool[i] || !order_pool[i])
            return 1;
    }
    struct event *t = event_new(base, -1, EV_PERSIST, tick, event_self_cbarg());
    if (!t)
        return 1;
    struct timeval every = {0, 1000};
    event_add(t, &every);
    t_start = now_s();
    event_base_dispatch(base);
    qsort(lat, (size_t)lat_n, sizeof *lat, cmp_double);
    double p50 = lat_n ? lat[lat_n / 2] : 0, p99 = lat_n ? lat[(long)((double)lat_n * 0.99)] : 0,
           mx = lat_n ? lat[lat_n - 1] : 0;
    printf("BENCH_RESULT sent=%ld acked=%ld visible=%ld create_errors=%ld poll_errors=%ld "
           "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           sent, acked, visible, create_errors, poll_errors, p50 * 1000, p99 * 1000, mx * 1000);
    return (create_errors || poll_errors || visible != sent) ? 1 : 0;
}
