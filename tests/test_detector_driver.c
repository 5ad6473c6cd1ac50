/* test_detector_driver.c - runs the C detector over score streams for tests/test_detector.py.
 *
 * Input lines (stdin):
 *   P <classes> <never_mask> <window_ms> <threshold_q15> <suppression_ms> <min_count>
 *       -> "P <status>"                                  (bitear_detector_init)
 *   R <now_ms> <score_0> <score_1> ...  (missing scores are 0)
 *       -> "<status> <label> <score_q15> <is_new>"       (bitear_detector_process)
 *   Z   -> "Z <status>"                                  (bitear_detector_reset)
 * Built by the test with the host gcc, plainly and under -fsanitize=address,undefined.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitear_detector.h"

/* Up to max numbers of a line after its first character. */
static unsigned parse_numbers(const char *s, unsigned long *v, unsigned max)
{
    unsigned n = 0;
    char *end;
    s++;
    while (n < max) {
        const unsigned long x = strtoul(s, &end, 10);
        if (end == s) {
            break;
        }
        v[n++] = x;
        s = end;
    }
    return n;
}

int main(void)
{
    static bitear_detector_t det;
    static char line[4096];
    while (fgets(line, sizeof line, stdin) != NULL) {
        unsigned long v[2 + BITEAR_DETECTOR_MAX_CLASSES] = {0};
        const unsigned n = parse_numbers(line, v, 2 + BITEAR_DETECTOR_MAX_CLASSES);
        if (line[0] == 'P' && n == 6) {
            const bitear_detector_params_t p = {
                .classes = (uint8_t)v[0], .never_mask = (uint32_t)v[1], .window_ms = (uint16_t)v[2],
                .threshold_q15 = (uint16_t)v[3], .suppression_ms = (uint16_t)v[4], .min_count = (uint8_t)v[5]};
            printf("P %ld\n", (long)bitear_detector_init(&det, &p));
        } else if (line[0] == 'R' && n >= 1) {
            uint16_t scores[BITEAR_DETECTOR_MAX_CLASSES];
            bitear_detector_event_t ev;
            for (unsigned c = 0; c < BITEAR_DETECTOR_MAX_CLASSES; c++) {
                scores[c] = (uint16_t)v[1 + c];
            }
            const bitear_status_t st = bitear_detector_process(&det, (uint32_t)v[0], scores, &ev);
            printf("%ld %d %u %u\n", (long)st, ev.label, (unsigned)ev.score_q15, (unsigned)ev.is_new);
        } else if (line[0] == 'Z') {
            printf("Z %ld\n", (long)bitear_detector_reset(&det));
        } else {
            fprintf(stderr, "bad line: %s", line);
            return 2;
        }
    }
    return 0;
}
