/*
 * e2e_latency: end-to-end latency at a fixed rate. Creates orders through
 * cart-service at RATE per second for SECONDS, and for each 201 asks
 * order-service for the order with the service's own read-your-writes wait
 * (`/order-details?orderId=..&after=P:O&waitMs=..`, P:O the partition and
 * offset of the 201): order-service answers when its consumer has committed
 * the event, so the figure is the system's, not a polling interval's.
 * Latency = the 200 received - the 201 received. Prints p50/p99/max of it,
 * of the create itself (sent -> 201) beside it, and counts.
 *
 * usage: e2e_latency CART_HOST CART_PORT ORDER_HOST ORDER_PORT RATE SECONDS PREFIX
 * E2E_TRACE=FILE also writes a line per order: id, wall-clock microseconds of
 * the create sent, its 201 and the read's 200 (to join with the services'
 * own timestamps when splitting the latency, bench/profile-notes.md).
 *
 * Open loop: requests are sent on schedule whatever the answers, over pools
 * of keep-alive connections, all on one libevent loop. A waiting request
 * holds its connection, so each read goes to a connection with nothing in
 * flight (a request queued behind another's wait would measure that wait).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL 256        /* creates in flight at most without queueing */
#define ORDER_POOL 1024 /* waiting reads in flight at most without queueing */
#define WAIT_MS 10000   /* the read's waitMs: far above any latency measured */

typedef struct {
    char id[80];
    double sent, acked;
    long long sent_us, acked_us;
    long partition, offset;
    int conn; /* the connection of the request in flight (cart_pool, then order_pool) */
} pending;

static struct event_base *base;
static struct evhttp_connection *cart_pool[POOL], *order_pool[ORDER_POOL];
static int cart_busy[POOL], order_busy[ORDER_POOL];
static unsigned cart_rr, order_rr;
static long sent, acked, visible, create_errors, poll_errors, target;
static double t_start, duration;
typedef struct {
    double *v;
    long n, cap;
} samples;
static samples lat, create_lat;
static const char *prefix;
static FILE *trace;

static long long wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_sample(samples *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        double *nv = realloc(s->v, (size_t)s->cap * sizeof *s->v);
        if (!nv) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        s->v = nv;
    }
    s->v[s->n++] = v;
}

static void read_done(struct evhttp_request *req, void *arg)
{
    pending *p = arg;
    order_busy[p->conn] = 0;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 200) {
        add_sample(&lat, now_s() - p->acked);
        visible++;
        if (trace)
            fprintf(trace, "%s %lld %lld %lld\n", p->id, p->sent_us, p->acked_us, wall_us());
    } else {
        if (poll_errors++ < 5)
            fprintf(stderr, "order-details %s after=%ld:%ld: HTTP %d\n", p->id, p->partition,
                    p->offset, code);
    }
    free(p);
}

/* A connection of the pool with no request in flight (round robin from the
 * last), else the next one; marked busy. */
static int pick_conn(int *busy, int n, unsigned *rr)
{
    int i = (int)(*rr % (unsigned)n);
    for (int k = 0; k < n; k++) {
        int j = (int)((*rr)++ % (unsigned)n);
        if (!busy[j]) {
            i = j;
            break;
        }
    }
    busy[i] = 1;
    return i;
}

static void read_order(pending *p)
{
    char uri[200];
    snprintf(uri, sizeof uri, "/order-details?orderId=%s&after=%ld:%ld&waitMs=%d", p->id,
             p->partition, p->offset, WAIT_MS);
    struct evhttp_request *r = evhttp_request_new(read_done, p);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", "localhost");
    p->conn = pick_conn(order_busy, ORDER_POOL, &order_rr);
    if (evhttp_make_request(order_pool[p->conn], r, EVHTTP_REQ_GET, uri) != 0) {
        order_busy[p->conn] = 0;
        poll_errors++;
        free(p);
    }
}

/* The 201's "partition" and "offset" (the last keys of cart-service's answer); 0 if found. */
static int ack_position(struct evhttp_request *req, long *partition, long *offset)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);
    char body[2048];
    if (n == 0 || n >= sizeof body)
        return -1;
    evbuffer_copyout(b, body, n);
    body[n] = '\0';
    const char *pp = strstr(body, "\"partition\":"), *op = strstr(body, "\"offset\":");
    if (!pp || !op)
        return -1;
    *partition = strtol(pp + strlen("\"partition\":"), NULL, 10);
    *offset = strtol(op + strlen("\"offset\":"), NULL, 10);
    return 0;
}

static void create_done(struct evhttp_request *req, void *arg)
{
    pending *p = arg;
    cart_busy[p->conn] = 0;
    if (!req || evhttp_request_get_response_code(req) != 201 ||
        ack_position(req, &p->partition, &p->offset) != 0) {
        create_errors++;
        free(p);
        return;
    }
    acked++;
    p->acked = now_s();
    p->acked_us = trace ? wall_us() : 0;
    add_sample(&create_lat, p->acked - p->sent);
    read_order(p);
}

static void send_create(void)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) {
        create_errors++;
        return;
    }
    snprintf(p->id, sizeof p->id, "%s%ld", prefix, sent);
    p->sent = now_s();
    p->sent_us = trace ? wall_us() : 0;
    struct evhttp_request *r = evhttp_request_new(create_done, p);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Host", "localhost");
    evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add_printf(evhttp_request_get_output_buffer(r),
                        "{\"orderId\":\"%s\",\"itemsCount\":3}", p->id);
    sent++;
    p->conn = pick_conn(cart_busy, POOL, &cart_rr);
    if (evhttp_make_request(cart_pool[p->conn], r, EVHTTP_REQ_POST, "/create-order")) {
        cart_busy[p->conn] = 0;
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

static void quantiles(samples *s, double *p50, double *p99, double *mx)
{
    qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_double);
    *p50 = s->n ? s->v[s->n / 2] : 0;
    *p99 = s->n ? s->v[(long)((double)s->n * 0.99)] : 0;
    *mx = s->n ? s->v[s->n - 1] : 0;
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
    const char *tf = getenv("E2E_TRACE");
    if (tf && *tf && !(trace = fopen(tf, "w"))) {
        perror(tf);
        return 2;
    }
    base = event_base_new();
    if (!base)
        return 1;
    for (int i = 0; i < POOL; i++)
        if (!(cart_pool[i] =
                  evhttp_connection_base_new(base, NULL, argv[1], (unsigned short)atoi(argv[2]))))
            return 1;
    for (int i = 0; i < ORDER_POOL; i++)
        if (!(order_pool[i] =
                  evhttp_connection_base_new(base, NULL, argv[3], (unsigned short)atoi(argv[4]))))
            return 1;
    struct event *t = event_new(base, -1, EV_PERSIST, tick, event_self_cbarg());
    if (!t)
        return 1;
    struct timeval every = {0, 1000};
    event_add(t, &every);
    t_start = now_s();
    event_base_dispatch(base);
    if (trace)
        fclose(trace);
    double p50, p99, mx, c50, c99, cmx;
    quantiles(&lat, &p50, &p99, &mx);
    quantiles(&create_lat, &c50, &c99, &cmx);
    printf("BENCH_RESULT sent=%ld acked=%ld visible=%ld create_errors=%ld poll_errors=%ld "
           "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f create_p50_ms=%.3f create_p99_ms=%.3f\n",
           sent, acked, visible, create_errors, poll_errors, p50 * 1000, p99 * 1000, mx * 1000,
           c50 * 1000, c99 * 1000);
    return (create_errors || poll_errors || visible != sent) ? 1 : 0;
}
