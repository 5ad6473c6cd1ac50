/*
 * bitear_status.h — status codes shared by every module of the bitear plugin.
 *
 * Contract: every bitear function that can fail returns a bitear_status_t.
 * BITEAR_OK (0) means success; every error is negative, so `if (st < 0)` is
 * the error check. The type is a fixed 32-bit integer (not an enum type), so its
 * size and ABI are the same on every compiler and in the Python ctypes binding
 * whatever the compiler's enum-size settings (-fshort-enums) are.
 *
 * The codes are listed once, in BITEAR_STATUS_LIST; the enum constants and
 * bitear_status_str() are both generated from that list, so they cannot drift
 * apart. Extend by appending a line with a new, unused negative value; never
 * renumber (host tools and logs see the numbers). model/frontend.py reads this
 * list to turn codes into names.
 */
#ifndef BITEAR_STATUS_H
#define BITEAR_STATUS_H

#include <stdint.h>

typedef int32_t bitear_status_t;

/* X(name, value, description) */
#define BITEAR_STATUS_LIST(X)                                              \
    X(BITEAR_OK,            0, "ok")                                        \
    X(BITEAR_ERR_NULL,     -1, "a required pointer argument is NULL")       \
    X(BITEAR_ERR_ARG,      -2, "an argument is out of its allowed range")   \
    X(BITEAR_ERR_SIZE,     -3, "a buffer or count has the wrong size")      \
    X(BITEAR_ERR_STATE,    -4, "object not initialised or in a bad state")  \
    X(BITEAR_ERR_OVERFLOW, -5, "a buffer or queue is full")                 \
    X(BITEAR_ERR_FORMAT,   -6, "malformed input (e.g. a protocol frame)")  \
    X(BITEAR_ERR_CRC,      -7, "checksum mismatch")                         \
    X(BITEAR_ERR_UNSUPPORTED, -8, "unknown message type or protocol version")

#define BITEAR_STATUS_ENUM_(name, value, text) name = (value),
enum { BITEAR_STATUS_LIST(BITEAR_STATUS_ENUM_) };
#undef BITEAR_STATUS_ENUM_

/* A short human-readable description of a status code ("unknown status" if not listed). */
static inline const char *bitear_status_str(bitear_status_t status)
{
#define BITEAR_STATUS_CASE_(name, value, text) case (value): return text;
    switch (status) {
        BITEAR_STATUS_LIST(BITEAR_STATUS_CASE_)
        default: return "unknown status";
    }
#undef BITEAR_STATUS_CASE_
}

#endif /* BITEAR_STATUS_H */
