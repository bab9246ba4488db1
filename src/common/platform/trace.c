/*
 * trace: see trace.h. Per-spec details worth a note:
 * - Upper-case hex is invalid (the spec's grammar is lower-case only), so an
 *   id is never silently normalised into another one.
 * - Unknown flags are not forwarded: only "sampled" is defined by the version
 *   we write, so the span we start keeps that bit alone.
 * - The generator is thread-local: HTTP threads and the consumer thread each
 *   seed their own once and never share state (no lock, no atomics).
 */
#include "platform/trace.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static _Thread_local uint64_t trace_state[4];
static _Thread_local int trace_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64: spreads one seed word into the four words of the state. */
static uint64_t trace_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void trace_seed(void)
{
    uint64_t seed[4];
    if (getrandom(seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        /* no entropy yet (early boot): the clock, pid and a stack address */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                     ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&ts;
        for (int i = 0; i < 4; i++)
            seed[i] = trace_splitmix(&x);
    }
    memcpy(trace_state, seed, sizeof trace_state);
    if (!(trace_state[0] | trace_state[1] | trace_state[2] | trace_state[3]))
        trace_state[0] = 1; /* the one state xoshiro cannot leave */
    trace_seeded = 1;
}

uint64_t trace_rand64(void)
{
    if (!trace_seeded)
        trace_seed();
    uint64_t *s = trace_state;
    uint64_t out = rotl(s[1] * 5, 7) * 9; /* xoshiro256** */
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* n bytes from 2n lowercase hex characters; -1 on any other character. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

int trace_parse(const char *s, size_t len, trace_ctx *out)
{
    uint8_t version;
    if (!s || len < TRACE_PARENT_LEN || unhex(s, &version, 1) != 0 || version == 0xff)
        return -1;
    if (version == 0 && len != TRACE_PARENT_LEN)
        return -1;
    if (version != 0 && len > TRACE_PARENT_LEN && s[TRACE_PARENT_LEN] != '-')
        return -1;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return -1;
    trace_ctx t;
    if (unhex(s + 3, t.trace_id, sizeof t.trace_id) != 0 ||
        unhex(s + 36, t.span_id, sizeof t.span_id) != 0 || unhex(s + 53, &t.flags, 1) != 0)
        return -1;
    if (all_zero(t.trace_id, sizeof t.trace_id) || all_zero(t.span_id, sizeof t.span_id))
        return -1;
    *out = t;
    return 0;
}

static void fill_random(uint8_t *b, size_t n)
{
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t x = trace_rand64();
            size_t k = n - i < 8 ? n - i : 8;
            memcpy(b + i, &x, k);
        }
    } while (all_zero(b, n)); /* an all-zero id is invalid (never in practice) */
}

void trace_start(const trace_ctx *parent, trace_ctx *out)
{
    if (parent) {
        memcpy(out->trace_id, parent->trace_id, sizeof out->trace_id);
        out->flags = parent->flags & TRACE_FLAG_SAMPLED;
    } else {
        fill_random(out->trace_id, sizeof out->trace_id);
        out->flags = TRACE_FLAG_SAMPLED;
    }
    fill_random(out->span_id, sizeof out->span_id);
}

static char *put_hex(char *p, const uint8_t *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    return p;
}

void trace_format(const trace_ctx *t, char out[TRACE_PARENT_LEN + 1])
{
    char *p = out;
    *p++ = '0';
    *p++ = '0';
    *p++ = '-';
    p = put_hex(p, t->trace_id, sizeof t->trace_id);
    *p++ = '-';
    p = put_hex(p, t->span_id, sizeof t->span_id);
    *p++ = '-';
    p = put_hex(p, &t->flags, 1);
    *p = '\0';
}
