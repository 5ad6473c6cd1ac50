/* unity.c - implementation of bitear's small Unity-API test library (see unity.h and
 * README.md in this folder). Written for bitear; prints in Unity's format. */
#include "unity.h"

#include <setjmp.h>
#include <string.h>

#ifndef UNITY_OUTPUT_CHAR
#include <stdio.h>
#define UNITY_OUTPUT_CHAR(c) putchar(c)
#endif
#ifndef UNITY_OUTPUT_FLUSH
#define UNITY_OUTPUT_FLUSH()
#endif

static struct {
    const char *file;
    const char *test_name;
    int test_line;
    unsigned tests;
    unsigned failures;
    unsigned ignored;
    int current_failed;
    int current_ignored;
    jmp_buf abort_frame;
} unity;

__attribute__((weak)) void setUp(void) {}
__attribute__((weak)) void tearDown(void) {}

/* ---- printing ------------------------------------------------------------------------- */

static void put_str(const char *s)
{
    while (*s) {
        UNITY_OUTPUT_CHAR(*s++);
    }
}

static void put_u64(uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        UNITY_OUTPUT_CHAR(digits[--n]);
    }
}

static void put_i64(int64_t v)
{
    if (v < 0) {
        UNITY_OUTPUT_CHAR('-');
        put_u64((uint64_t)0 - (uint64_t)v);
    } else {
        put_u64((uint64_t)v);
    }
}

static void put_hex(uint64_t v, int nibbles)
{
    put_str("0x");
    for (int i = nibbles - 1; i >= 0; i--) {
        UNITY_OUTPUT_CHAR("0123456789ABCDEF"[(v >> (4 * i)) & 0xFu]);
    }
}

static void put_number(int64_t v, int display)
{
    if (display == UNITY_DISPLAY_HEX) {
        put_hex((uint64_t)v, (uint64_t)v > 0xFFFFFFFFu ? 16 : 8);
    } else if (display == UNITY_DISPLAY_UINT) {
        put_u64((uint64_t)v);
    } else {
        put_i64(v);
    }
}

static void put_float(float f)
{
    if (f != f) {
        put_str("nan");
        return;
    }
    if (f < 0.0f) {
        UNITY_OUTPUT_CHAR('-');
        f = -f;
    }
    if (f > 1e18f) {
        put_str("inf-or-huge");
        return;
    }
    uint64_t whole = (uint64_t)f;
    uint32_t frac = (uint32_t)((f - (float)whole) * 1000000.0f + 0.5f);
    if (frac >= 1000000u) {
        whole++;
        frac -= 1000000u;
    }
    put_u64(whole);
    UNITY_OUTPUT_CHAR('.');
    for (uint32_t div = 100000u; div > 0u; div /= 10u) {
        UNITY_OUTPUT_CHAR((char)('0' + (frac / div) % 10u));
    }
}

/* "file:line:test:" - the prefix of every result line */
static void put_location(int line)
{
    put_str(unity.file);
    UNITY_OUTPUT_CHAR(':');
    put_u64((uint64_t)line);
    UNITY_OUTPUT_CHAR(':');
    put_str(unity.test_name ? unity.test_name : "(none)");
    UNITY_OUTPUT_CHAR(':');
}

/* ---- failing ---------------------------------------------------------------------------- */

/* Starts a FAIL line; the caller prints the details, then calls fail_end(). */
static void fail_begin(int line)
{
    put_location(line);
    put_str("FAIL: ");
}

static void fail_end(const char *message)
{
    if (message) {
        put_str(". ");
        put_str(message);
    }
    UNITY_OUTPUT_CHAR('\n');
    UNITY_OUTPUT_FLUSH();
    unity.current_failed = 1;
    longjmp(unity.abort_frame, 1);
}

void UnityFail(const char *message, int line)
{
    fail_begin(line);
    put_str(message ? message : "Test failed");
    fail_end(NULL);
}

void UnityIgnore(const char *message, int line)
{
    put_location(line);
    put_str("IGNORE");
    if (message) {
        put_str(": ");
        put_str(message);
    }
    UNITY_OUTPUT_CHAR('\n');
    unity.current_ignored = 1;
    longjmp(unity.abort_frame, 1);
}

void UnityMessage(const char *message, int line)
{
    put_location(line);
    put_str("INFO: ");
    put_str(message);
    UNITY_OUTPUT_CHAR('\n');
}

/* ---- assertions -------------------------------------------------------------------------- */

void UnityAssertTrue(int condition, const char *what, const char *message, int line)
{
    if (!condition) {
        fail_begin(line);
        put_str(what);
        fail_end(message);
    }
}

static void fail_expected_was(int64_t expected, int64_t actual, int display, const char *message, int line)
{
    fail_begin(line);
    put_str("Expected ");
    put_number(expected, display);
    put_str(" Was ");
    put_number(actual, display);
    fail_end(message);
}

void UnityAssertEqualNumber(int64_t expected, int64_t actual, int display, const char *message, int line)
{
    if (expected != actual) {
        fail_expected_was(expected, actual, display, message, line);
    }
}

void UnityAssertWithin(uint64_t delta, int64_t expected, int64_t actual, int display, const char *message, int line)
{
    uint64_t diff = actual > expected ? (uint64_t)actual - (uint64_t)expected : (uint64_t)expected - (uint64_t)actual;
    if (diff > delta) {
        fail_begin(line);
        put_str("Values Not Within Delta ");
        put_u64(delta);
        put_str(" Expected ");
        put_number(expected, display);
        put_str(" Was ");
        put_number(actual, display);
        fail_end(message);
    }
}

void UnityAssertCompare(int64_t threshold, int64_t actual, int cmp, int display, const char *message, int line)
{
    static const char *const words[] = {
        [UNITY_CMP_GT] = " to be greater than ",
        [UNITY_CMP_GE] = " to be greater or equal to ",
        [UNITY_CMP_LT] = " to be less than ",
        [UNITY_CMP_LE] = " to be less or equal to ",
    };
    int ok = (cmp == UNITY_CMP_GT && actual > threshold) || (cmp == UNITY_CMP_GE && actual >= threshold) ||
             (cmp == UNITY_CMP_LT && actual < threshold) || (cmp == UNITY_CMP_LE && actual <= threshold);
    if (!ok) {
        fail_begin(line);
        put_str("Expected ");
        put_number(actual, display);
        put_str(words[cmp]);
        put_number(threshold, display);
        fail_end(message);
    }
}

static int64_t load_element(const void *base, size_t index, size_t elem_size, int is_signed)
{
    const uint8_t *p = (const uint8_t *)base + index * elem_size;
    switch (elem_size) {
    case 1: {
        uint8_t v;
        memcpy(&v, p, 1);
        return is_signed ? (int64_t)(int8_t)v : (int64_t)v;
    }
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return is_signed ? (int64_t)(int16_t)v : (int64_t)v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return is_signed ? (int64_t)(int32_t)v : (int64_t)v;
    }
    default: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    }
}

void UnityAssertEqualArray(const void *expected, const void *actual, size_t count, size_t elem_size, int is_signed,
                           const char *message, int line)
{
    if (expected == NULL || actual == NULL) {
        UnityAssertTrue(0, "Array pointer is NULL", message, line);
    }
    for (size_t i = 0; i < count; i++) {
        int64_t e = load_element(expected, i, elem_size, is_signed);
        int64_t a = load_element(actual, i, elem_size, is_signed);
        if (e != a) {
            fail_begin(line);
            put_str("Element ");
            put_u64(i);
            put_str(" Expected ");
            put_number(e, is_signed ? UNITY_DISPLAY_INT : UNITY_DISPLAY_UINT);
            put_str(" Was ");
            put_number(a, is_signed ? UNITY_DISPLAY_INT : UNITY_DISPLAY_UINT);
            fail_end(message);
        }
    }
}

void UnityAssertEqualMemory(const void *expected, const void *actual, size_t len, const char *message, int line)
{
    const uint8_t *e = (const uint8_t *)expected;
    const uint8_t *a = (const uint8_t *)actual;
    if (e == NULL || a == NULL) {
        UnityAssertTrue(0, "Memory pointer is NULL", message, line);
    }
    for (size_t i = 0; i < len; i++) {
        if (e[i] != a[i]) {
            fail_begin(line);
            put_str("Memory Mismatch. Byte ");
            put_u64(i);
            put_str(" Expected ");
            put_hex(e[i], 2);
            put_str(" Was ");
            put_hex(a[i], 2);
            fail_end(message);
        }
    }
}

void UnityAssertEqualString(const char *expected, const char *actual, const char *message, int line)
{
    if (expected == actual) {
        return;
    }
    if (expected == NULL || actual == NULL || strcmp(expected, actual) != 0) {
        fail_begin(line);
        put_str("Expected '");
        put_str(expected ? expected : "(null)");
        put_str("' Was '");
        put_str(actual ? actual : "(null)");
        put_str("'");
        fail_end(message);
    }
}

void UnityAssertFloatWithin(float delta, float expected, float actual, const char *message, int line)
{
    float diff = actual > expected ? actual - expected : expected - actual;
    if (!(diff <= delta)) { /* also fails on NaN */
        fail_begin(line);
        put_str("Values Not Within Delta ");
        put_float(delta);
        put_str(" Expected ");
        put_float(expected);
        put_str(" Was ");
        put_float(actual);
        fail_end(message);
    }
}

/* ---- running ----------------------------------------------------------------------------- */

void UnityBegin(const char *file)
{
    memset(&unity, 0, sizeof unity);
    unity.file = file;
}

void UnityDefaultTestRun(void (*test)(void), const char *name, int line)
{
    unity.test_name = name;
    unity.test_line = line;
    unity.current_failed = 0;
    unity.current_ignored = 0;
    unity.tests++;
    if (setjmp(unity.abort_frame) == 0) {
        setUp();
        test();
    }
    if (setjmp(unity.abort_frame) == 0) { /* a failing tearDown counts as a failure too */
        tearDown();
    }
    if (unity.current_failed) {
        unity.failures++;
    } else if (unity.current_ignored) {
        unity.ignored++;
    } else {
        put_location(line);
        put_str("PASS\n");
    }
    unity.test_name = NULL;
    UNITY_OUTPUT_FLUSH();
}

int UnityEnd(void)
{
    put_str("\n-----------------------\n");
    put_u64(unity.tests);
    put_str(" Tests ");
    put_u64(unity.failures);
    put_str(" Failures ");
    put_u64(unity.ignored);
    put_str(" Ignored \n");
    put_str(unity.failures == 0u ? "OK\n" : "FAIL\n");
    UNITY_OUTPUT_FLUSH();
    return (int)unity.failures;
}
