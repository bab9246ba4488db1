/*
 * store_pg_probe: store_probe() (store.h) on PostgreSQL: every waiter's
 * question in one statement, so a tick costs one round trip however many
 * requests wait. The arrays arrive as JSON (store.c builds them) and come
 * back as (kind, index, value) rows: the index into the caller's array, so
 * nothing is matched by text on the way back. Not prepared: it runs a few
 * times a second at most, and a plan per run is cheaper than a statement on
 * every connection that never waits.
 */
#include "store/store_pg_int.h"

#include <stdlib.h>

static const char store_pg_probe_sql[] =
    "SELECT 0, q.n - 1, 0::bigint FROM json_array_elements_text($1::json) WITH ORDINALITY"
    " AS q(id, n) WHERE EXISTS (SELECT 1 FROM orders o WHERE o.order_id = q.id)"
    " UNION ALL"
    " SELECT 1, p.n - 1, c.next_offset FROM json_array_elements_text($3::json) WITH ORDINALITY"
    " AS p(part, n) JOIN consumed_offsets c ON c.topic = $2::text"
    " AND c.partition = p.part::integer";

static int64_t store_pg_probe_int(const PGresult *r, int row, int col)
{
    char *end = NULL;
    long long v = strtoll(PQgetvalue(r, row, col), &end, 10);
    return end && *end == '\0' && !PQgetisnull(r, row, col) ? (int64_t)v : -1;
}

store_status store_pg_probe(store *base, const char *topic, const char *ids_json,
                            const char *parts_json,
                            void (*row)(void *arg, int kind, int64_t index, int64_t value),
                            void *arg, char *err, size_t errlen)
{
    store_pg *s = (store_pg *)base;
    store_status st = store_pg_ensure(s, err, errlen);
    if (st != STORE_OK)
        return st;
    const char *vals[] = {ids_json, topic, parts_json};
    PGresult *r = PQexecParams(s->conn, store_pg_probe_sql, 3, NULL, vals, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || (PQntuples(r) > 0 && PQnfields(r) != 3)) {
        st = store_pg_fail(s, r, "probe", err, errlen);
    } else {
        for (int i = 0; i < PQntuples(r); i++)
            row(arg, (int)store_pg_probe_int(r, i, 0), store_pg_probe_int(r, i, 1),
                store_pg_probe_int(r, i, 2));
    }
    PQclear(r);
    return st;
}
