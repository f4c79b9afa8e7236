/*
 * samples/common/check.h: how the musl samples report their checks, one line each, which the tests read:
 *   PREFIX: NAME ok|FAIL DETAIL
 * A sample defines CHECK_PREFIX (e.g. "ring0") before including this file and returns failures != 0 at the end.
 */
#ifndef SAMPLE_CHECK_H
#define SAMPLE_CHECK_H
#include <stdarg.h>
#include <stdio.h>

static int failures;

static void check(const char *name, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(const char *name, int ok, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    printf("%s: %s %s %s\n", CHECK_PREFIX, name, ok ? "ok" : "FAIL", detail);
    fflush(stdout);
    if (!ok)
        failures++;
}
#endif
