/* unity.h - bitear's small C test library with the API of ThrowTheSwitch Unity (a subset).
 *
 * This is NOT Unity's code: it is a short implementation written for bitear (see README.md in
 * this folder for why). It keeps Unity's macro names and its output format, so that
 *   - PlatformIO's Unity result parser reads it (file:line:test:PASS / FAIL: msg / IGNORE and
 *     the closing "N Tests N Failures N Ignored" line), and
 *   - the tests compile unchanged against the real Unity if it is dropped in instead.
 *
 * Use:
 *   void test_something(void) { TEST_ASSERT_EQUAL_INT(4, 2 + 2); }
 *   int main(void) { UNITY_BEGIN(); RUN_TEST(test_something); return UNITY_END(); }
 * A failed assertion ends the current test (longjmp) and the next RUN_TEST goes on.
 * setUp()/tearDown() run around every test; empty weak defaults are provided.
 * Output goes through UNITY_OUTPUT_CHAR(c) (unity_config.h when UNITY_INCLUDE_CONFIG_H is
 * defined; putchar otherwise). No malloc, no printf.
 */
#ifndef UNITY_H
#define UNITY_H

#include <stddef.h>
#include <stdint.h>

#ifdef UNITY_INCLUDE_CONFIG_H
#include "unity_config.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

void setUp(void);
void tearDown(void);

void UnityBegin(const char *file);
int UnityEnd(void);
void UnityDefaultTestRun(void (*test)(void), const char *name, int line);
void UnityFail(const char *message, int line);
void UnityIgnore(const char *message, int line);
void UnityMessage(const char *message, int line);

enum { UNITY_DISPLAY_INT, UNITY_DISPLAY_UINT, UNITY_DISPLAY_HEX };
enum { UNITY_CMP_GT, UNITY_CMP_GE, UNITY_CMP_LT, UNITY_CMP_LE };

void UnityAssertTrue(int condition, const char *what, const char *message, int line);
void UnityAssertEqualNumber(int64_t expected, int64_t actual, int display, const char *message, int line);
void UnityAssertWithin(uint64_t delta, int64_t expected, int64_t actual, int display, const char *message,
                       int line);
void UnityAssertCompare(int64_t threshold, int64_t actual, int cmp, int display, const char *message, int line);
void UnityAssertEqualArray(const void *expected, const void *actual, size_t count, size_t elem_size,
                           int is_signed, const char *message, int line);
void UnityAssertEqualMemory(const void *expected, const void *actual, size_t len, const char *message, int line);
void UnityAssertEqualString(const char *expected, const char *actual, const char *message, int line);
void UnityAssertFloatWithin(float delta, float expected, float actual, const char *message, int line);

#define UNITY_BEGIN() UnityBegin(__FILE__)
#define UNITY_END() UnityEnd()
#define RUN_TEST(fn) UnityDefaultTestRun((fn), #fn, __LINE__)

#define TEST_FAIL_MESSAGE(m) UnityFail((m), __LINE__)
#define TEST_FAIL() UnityFail(NULL, __LINE__)
#define TEST_IGNORE_MESSAGE(m) UnityIgnore((m), __LINE__)
#define TEST_IGNORE() UnityIgnore(NULL, __LINE__)
#define TEST_MESSAGE(m) UnityMessage((m), __LINE__)

#define TEST_ASSERT_MESSAGE(c, m) UnityAssertTrue((c) ? 1 : 0, "Expression Evaluated To FALSE", (m), __LINE__)
#define TEST_ASSERT(c) TEST_ASSERT_MESSAGE(c, NULL)
#define TEST_ASSERT_TRUE_MESSAGE(c, m) UnityAssertTrue((c) ? 1 : 0, "Expected TRUE Was FALSE", (m), __LINE__)
#define TEST_ASSERT_TRUE(c) TEST_ASSERT_TRUE_MESSAGE(c, NULL)
#define TEST_ASSERT_FALSE_MESSAGE(c, m) UnityAssertTrue((c) ? 0 : 1, "Expected FALSE Was TRUE", (m), __LINE__)
#define TEST_ASSERT_FALSE(c) TEST_ASSERT_FALSE_MESSAGE(c, NULL)
#define TEST_ASSERT_NULL_MESSAGE(p, m) UnityAssertTrue((p) == NULL, "Expected NULL", (m), __LINE__)
#define TEST_ASSERT_NULL(p) TEST_ASSERT_NULL_MESSAGE(p, NULL)
#define TEST_ASSERT_NOT_NULL_MESSAGE(p, m) UnityAssertTrue((p) != NULL, "Expected Non-NULL", (m), __LINE__)
#define TEST_ASSERT_NOT_NULL(p) TEST_ASSERT_NOT_NULL_MESSAGE(p, NULL)

#define UNITY_EQ_(e, a, d, m) UnityAssertEqualNumber((int64_t)(e), (int64_t)(a), (d), (m), __LINE__)
#define TEST_ASSERT_EQUAL_INT_MESSAGE(e, a, m) UNITY_EQ_(e, a, UNITY_DISPLAY_INT, m)
#define TEST_ASSERT_EQUAL_INT(e, a) UNITY_EQ_(e, a, UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_EQUAL_MESSAGE(e, a, m) TEST_ASSERT_EQUAL_INT_MESSAGE(e, a, m)
#define TEST_ASSERT_EQUAL(e, a) TEST_ASSERT_EQUAL_INT(e, a)
#define TEST_ASSERT_EQUAL_INT8(e, a) UNITY_EQ_((int8_t)(e), (int8_t)(a), UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_EQUAL_INT16(e, a) UNITY_EQ_((int16_t)(e), (int16_t)(a), UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_EQUAL_INT32(e, a) UNITY_EQ_((int32_t)(e), (int32_t)(a), UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_EQUAL_INT64(e, a) UNITY_EQ_((int64_t)(e), (int64_t)(a), UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_EQUAL_UINT_MESSAGE(e, a, m) UNITY_EQ_((unsigned)(e), (unsigned)(a), UNITY_DISPLAY_UINT, m)
#define TEST_ASSERT_EQUAL_UINT(e, a) UNITY_EQ_((unsigned)(e), (unsigned)(a), UNITY_DISPLAY_UINT, NULL)
#define TEST_ASSERT_EQUAL_UINT8(e, a) UNITY_EQ_((uint8_t)(e), (uint8_t)(a), UNITY_DISPLAY_UINT, NULL)
#define TEST_ASSERT_EQUAL_UINT16(e, a) UNITY_EQ_((uint16_t)(e), (uint16_t)(a), UNITY_DISPLAY_UINT, NULL)
#define TEST_ASSERT_EQUAL_UINT32_MESSAGE(e, a, m) UNITY_EQ_((uint32_t)(e), (uint32_t)(a), UNITY_DISPLAY_UINT, m)
#define TEST_ASSERT_EQUAL_UINT32(e, a) UNITY_EQ_((uint32_t)(e), (uint32_t)(a), UNITY_DISPLAY_UINT, NULL)
#define TEST_ASSERT_EQUAL_size_t(e, a) UNITY_EQ_((size_t)(e), (size_t)(a), UNITY_DISPLAY_UINT, NULL)
#define TEST_ASSERT_EQUAL_HEX8(e, a) UNITY_EQ_((uint8_t)(e), (uint8_t)(a), UNITY_DISPLAY_HEX, NULL)
#define TEST_ASSERT_EQUAL_HEX16(e, a) UNITY_EQ_((uint16_t)(e), (uint16_t)(a), UNITY_DISPLAY_HEX, NULL)
#define TEST_ASSERT_EQUAL_HEX32(e, a) UNITY_EQ_((uint32_t)(e), (uint32_t)(a), UNITY_DISPLAY_HEX, NULL)

#define TEST_ASSERT_INT_WITHIN_MESSAGE(d, e, a, m) \
    UnityAssertWithin((uint64_t)(d), (int64_t)(e), (int64_t)(a), UNITY_DISPLAY_INT, (m), __LINE__)
#define TEST_ASSERT_INT_WITHIN(d, e, a) TEST_ASSERT_INT_WITHIN_MESSAGE(d, e, a, NULL)
#define TEST_ASSERT_INT32_WITHIN(d, e, a) TEST_ASSERT_INT_WITHIN(d, (int32_t)(e), (int32_t)(a))
#define TEST_ASSERT_UINT_WITHIN(d, e, a) \
    UnityAssertWithin((uint64_t)(d), (int64_t)(e), (int64_t)(a), UNITY_DISPLAY_UINT, NULL, __LINE__)
#define TEST_ASSERT_UINT32_WITHIN(d, e, a) TEST_ASSERT_UINT_WITHIN(d, (uint32_t)(e), (uint32_t)(a))

/* Unity's order: (threshold, actual), e.g. TEST_ASSERT_GREATER_THAN(0, n) means n > 0. */
#define UNITY_CMP_(t, a, c, d, m) UnityAssertCompare((int64_t)(t), (int64_t)(a), (c), (d), (m), __LINE__)
#define TEST_ASSERT_GREATER_THAN_MESSAGE(t, a, m) UNITY_CMP_(t, a, UNITY_CMP_GT, UNITY_DISPLAY_INT, m)
#define TEST_ASSERT_GREATER_THAN(t, a) UNITY_CMP_(t, a, UNITY_CMP_GT, UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_GREATER_OR_EQUAL(t, a) UNITY_CMP_(t, a, UNITY_CMP_GE, UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_LESS_THAN_MESSAGE(t, a, m) UNITY_CMP_(t, a, UNITY_CMP_LT, UNITY_DISPLAY_INT, m)
#define TEST_ASSERT_LESS_THAN(t, a) UNITY_CMP_(t, a, UNITY_CMP_LT, UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_LESS_OR_EQUAL_MESSAGE(t, a, m) UNITY_CMP_(t, a, UNITY_CMP_LE, UNITY_DISPLAY_INT, m)
#define TEST_ASSERT_LESS_OR_EQUAL(t, a) UNITY_CMP_(t, a, UNITY_CMP_LE, UNITY_DISPLAY_INT, NULL)
#define TEST_ASSERT_GREATER_THAN_UINT32(t, a) \
    UNITY_CMP_((uint32_t)(t), (uint32_t)(a), UNITY_CMP_GT, UNITY_DISPLAY_UINT, NULL)
#define TEST_ASSERT_LESS_OR_EQUAL_UINT32(t, a) \
    UNITY_CMP_((uint32_t)(t), (uint32_t)(a), UNITY_CMP_LE, UNITY_DISPLAY_UINT, NULL)

#define UNITY_ARR_(e, a, n, T, s, m) \
    UnityAssertEqualArray((e), (a), (size_t)(n), sizeof(T), (s), (m), __LINE__)
#define TEST_ASSERT_EQUAL_INT8_ARRAY(e, a, n) UNITY_ARR_(e, a, n, int8_t, 1, NULL)
#define TEST_ASSERT_EQUAL_INT8_ARRAY_MESSAGE(e, a, n, m) UNITY_ARR_(e, a, n, int8_t, 1, m)
#define TEST_ASSERT_EQUAL_INT16_ARRAY(e, a, n) UNITY_ARR_(e, a, n, int16_t, 1, NULL)
#define TEST_ASSERT_EQUAL_INT32_ARRAY(e, a, n) UNITY_ARR_(e, a, n, int32_t, 1, NULL)
#define TEST_ASSERT_EQUAL_UINT8_ARRAY(e, a, n) UNITY_ARR_(e, a, n, uint8_t, 0, NULL)
#define TEST_ASSERT_EQUAL_UINT16_ARRAY(e, a, n) UNITY_ARR_(e, a, n, uint16_t, 0, NULL)
#define TEST_ASSERT_EQUAL_UINT32_ARRAY(e, a, n) UNITY_ARR_(e, a, n, uint32_t, 0, NULL)
#define TEST_ASSERT_EQUAL_MEMORY_MESSAGE(e, a, len, m) UnityAssertEqualMemory((e), (a), (size_t)(len), (m), __LINE__)
#define TEST_ASSERT_EQUAL_MEMORY(e, a, len) TEST_ASSERT_EQUAL_MEMORY_MESSAGE(e, a, len, NULL)
#define TEST_ASSERT_EQUAL_STRING_MESSAGE(e, a, m) UnityAssertEqualString((e), (a), (m), __LINE__)
#define TEST_ASSERT_EQUAL_STRING(e, a) TEST_ASSERT_EQUAL_STRING_MESSAGE(e, a, NULL)

#define TEST_ASSERT_FLOAT_WITHIN_MESSAGE(d, e, a, m) \
    UnityAssertFloatWithin((float)(d), (float)(e), (float)(a), (m), __LINE__)
#define TEST_ASSERT_FLOAT_WITHIN(d, e, a) TEST_ASSERT_FLOAT_WITHIN_MESSAGE(d, e, a, NULL)
/* Unity's default float precision: equal within 0.00001 of the expected value's magnitude. */
#define TEST_ASSERT_EQUAL_FLOAT(e, a) \
    UnityAssertFloatWithin(0.00001f * (((float)(e)) < 0 ? -(float)(e) : (float)(e)), (float)(e), (float)(a), NULL, __LINE__)

#ifdef __cplusplus
}
#endif

#endif /* UNITY_H */
