/* test_audio_admit_driver.c - runs the board's AUDIO admission rule (bitear_proto_audio_admit,
 * bitear_proto_credit_limit) over commands from stdin for tests/test_audio_admit.py, one per line:
 *   S expected resync_hop frames_dropped audio_frames   set the window and two counters (others 0)
 *   A hop queued capacity                               admit -> "flags expected resync_hop" + counters
 *   L expected queued capacity                          -> the CREDIT limit
 * Built by the test with the host gcc, plainly and with -fsanitize=address,undefined.
 */
#include <stdio.h>
#include <string.h>

#include "bitear_protocol.h"

int main(void)
{
    bitear_proto_audio_window_t w = {0u, 0u};
    bitear_proto_stats_t stats;
    unsigned long a, b, c, d;
    char op;
    memset(&stats, 0, sizeof stats);
    while (scanf(" %c", &op) == 1) {
        if (op == 'S' && scanf("%lu %lu %lu %lu", &a, &b, &c, &d) == 4) {
            memset(&stats, 0, sizeof stats);
            w.expected = (uint32_t)a;
            w.resync_hop = (uint32_t)b;
            stats.frames_dropped = (uint32_t)c;
            stats.audio_frames = (uint32_t)d;
        } else if (op == 'A' && scanf("%lu %lu %lu", &a, &b, &c) == 3) {
            const int flags = bitear_proto_audio_admit(&w, (uint32_t)a, (unsigned)b, (unsigned)c, &stats);
            printf("%d %lu %lu %lu %lu %lu %lu %lu\n", flags, (unsigned long)w.expected, (unsigned long)w.resync_hop,
                   (unsigned long)stats.frames_dropped, (unsigned long)stats.bad_commands,
                   (unsigned long)stats.overruns, (unsigned long)stats.audio_frames, (unsigned long)stats.resyncs);
        } else if (op == 'L' && scanf("%lu %lu %lu", &a, &b, &c) == 3) {
            printf("%lu\n", (unsigned long)bitear_proto_credit_limit((uint32_t)a, (unsigned)b, (unsigned)c));
        } else {
            fprintf(stderr, "bad input\n");
            return 2;
        }
    }
    return 0;
}
