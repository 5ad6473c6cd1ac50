/* main.c - the bitear firmware application (skeleton).
 *
 * Prints the ready banner, then handles the serial line one text line at a time:
 *   "ping"      -> "pong ticks=<tick counter> hz=<tick rate>"
 *   "stack"     -> "stack used=<bytes> size=<bytes>"   (0 0 where the board cannot measure)
 *   anything else -> "echo <line>"
 * The banner is the first line the board sends:  bitear ready protocol=0 board=<name>
 * protocol=0 means this skeleton; the streaming protocol (audio in, results out) replaces the
 * line handler in a later version and bumps the number.
 */
#include <stdint.h>
#include <string.h>

#include "bitear_board.h"

#define LINE_MAX 80u

static char line[LINE_MAX + 1u];
static size_t line_len;

static void put_uint(uint32_t v)
{
    char digits[10];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0u) {
        bitear_board_putc((uint8_t)digits[--n]);
    }
}

static void handle_line(const char *text)
{
    if (strcmp(text, "ping") == 0) {
        bitear_board_puts("pong ticks=");
        put_uint(bitear_board_ticks());
        bitear_board_puts(" hz=");
        put_uint(bitear_board_tick_hz());
    } else if (strcmp(text, "stack") == 0) {
        bitear_board_puts("stack used=");
        put_uint((uint32_t)bitear_board_stack_used());
        bitear_board_puts(" size=");
        put_uint((uint32_t)bitear_board_stack_size());
    } else {
        bitear_board_puts("echo ");
        bitear_board_puts(text);
    }
    bitear_board_putc('\n');
}

void bitear_app_setup(void)
{
    bitear_board_init();
    bitear_board_puts("bitear ready protocol=0 board=");
    bitear_board_puts(bitear_board_name());
    bitear_board_putc('\n');
}

void bitear_app_loop(void)
{
    int c;
    bitear_board_wait_for_input();
    while ((c = bitear_board_getc()) >= 0) {
        if (c == '\r') {
            continue;
        }
        if (c == '\n') {
            line[line_len] = '\0';
            handle_line(line);
            line_len = 0u;
        } else if (line_len < LINE_MAX) {
            line[line_len++] = (char)c;
        } /* longer lines are cut at LINE_MAX characters */
    }
}

#if !defined(ARDUINO) /* Arduino cores own main() and call setup()/loop(): see board_arduino */
int main(void)
{
    bitear_app_setup();
    for (;;) {
        bitear_app_loop();
    }
}
#endif
