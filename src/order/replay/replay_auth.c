/*
 * replay_auth: bearer token check (see replay_auth.h).
 */
#include "replay/replay_auth.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

int replay_auth_equal(const char *configured, size_t clen, const char *given, size_t glen)
{
    /* Every byte of given is compared (against the configured token, wrapped),
     * and the lengths are folded in: no early exit on the first difference. */
    volatile unsigned char acc = (unsigned char)(clen != glen);
    if (clen == 0)
        return 0;
    for (size_t i = 0; i < glen; i++)
        acc |= (unsigned char)(configured[i % clen] ^ given[i]);
    return acc == 0;
}

replay_auth_result replay_auth_check(const char *configured, const char *header)
{
    if (!configured || !*configured)
        return REPLAY_AUTH_DISABLED;
    if (!header)
        return REPLAY_AUTH_MISSING;
    /* RFC 6750: "Bearer" (any case), one or more spaces, the token. */
    if (strncasecmp(header, "Bearer ", 7) != 0)
        return REPLAY_AUTH_MISSING;
    const char *tok = header + 7;
    while (*tok == ' ')
        tok++;
    size_t glen = strnlen(tok, REPLAY_AUTH_TOKEN_MAX + 1);
    while (glen > 0 && tok[glen - 1] == ' ')
        glen--;
    if (glen == 0)
        return REPLAY_AUTH_MISSING;
    if (glen > REPLAY_AUTH_TOKEN_MAX)
        return REPLAY_AUTH_WRONG;
    return replay_auth_equal(configured, strlen(configured), tok, glen) ? REPLAY_AUTH_OK
                                                                        : REPLAY_AUTH_WRONG;
}
