/*
 * replay_auth: the operator token that guards the replay endpoints
 * (DLQ_REPLAY_TOKEN, sent as "Authorization: Bearer <token>").
 *
 * The comparison takes the same time whatever the bytes of the configured
 * token (it depends on the length of what was sent only), so the token
 * cannot be guessed byte by byte from response times. Nothing here logs.
 */
#ifndef REPLAY_AUTH_H
#define REPLAY_AUTH_H

#include <stddef.h>

typedef enum {
    REPLAY_AUTH_OK = 0,
    REPLAY_AUTH_DISABLED, /* no token configured: 403 */
    REPLAY_AUTH_MISSING,  /* no (or no Bearer) Authorization header: 401 */
    REPLAY_AUTH_WRONG     /* a Bearer token that is not the configured one: 401 */
} replay_auth_result;

#define REPLAY_AUTH_TOKEN_MAX 4096 /* longer Authorization values are refused as wrong */

/* configured: DLQ_REPLAY_TOKEN ("" or NULL: disabled); header: Authorization or NULL. */
replay_auth_result replay_auth_check(const char *configured, const char *header);

/* Constant-time (in the configured token) equality of two byte strings. */
int replay_auth_equal(const char *configured, size_t clen, const char *given, size_t glen);

#endif
