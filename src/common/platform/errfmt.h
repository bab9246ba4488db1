/*
 * errfmt: the one way a module reports an error text into its caller's
 * buffer (the `char *err, size_t errlen` pair every fallible call takes).
 * The text is cut to the buffer, never overflows it, and a NULL or empty
 * buffer is allowed (the caller did not ask for a reason).
 */
#ifndef ERRFMT_H
#define ERRFMT_H

#include <stddef.h>

/* printf-style into err[0..errlen); always returns -1, so `return errfmt(...)` reads as a failure.
 */
int errfmt(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
