/* startup_qemu_mps2.c - vector table of the emulated board QEMU mps2-an386: the Cortex-M core
 * exceptions, then the 32 external interrupts of the MPS2 FPGA image (IRQ 0 is UART0 RX).
 * Reset and fault handlers: startup_cortex_m.c.
 */
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)

#include <stdint.h>

#include "board_cortex_m.h"
#include "board_qemu_mps2.h"

__attribute__((section(".isr_vector"), used)) const bitear_vector_t bitear_vector_table[16 + 32] = {
    BITEAR_CORTEX_M_CORE_VECTORS,
    [16 + 0] = bitear_qemu_uart0_rx_irq,
    [16 + 1] = Fault_Handler,  [16 + 2] = Fault_Handler,  [16 + 3] = Fault_Handler,
    [16 + 4] = Fault_Handler,  [16 + 5] = Fault_Handler,  [16 + 6] = Fault_Handler,
    [16 + 7] = Fault_Handler,  [16 + 8] = Fault_Handler,  [16 + 9] = Fault_Handler,
    [16 + 10] = Fault_Handler, [16 + 11] = Fault_Handler, [16 + 12] = Fault_Handler,
    [16 + 13] = Fault_Handler, [16 + 14] = Fault_Handler, [16 + 15] = Fault_Handler,
    [16 + 16] = Fault_Handler, [16 + 17] = Fault_Handler, [16 + 18] = Fault_Handler,
    [16 + 19] = Fault_Handler, [16 + 20] = Fault_Handler, [16 + 21] = Fault_Handler,
    [16 + 22] = Fault_Handler, [16 + 23] = Fault_Handler, [16 + 24] = Fault_Handler,
    [16 + 25] = Fault_Handler, [16 + 26] = Fault_Handler, [16 + 27] = Fault_Handler,
    [16 + 28] = Fault_Handler, [16 + 29] = Fault_Handler, [16 + 30] = Fault_Handler,
    [16 + 31] = Fault_Handler,
};

#endif /* BITEAR_BOARD_QEMU_MPS2_AN386 */
