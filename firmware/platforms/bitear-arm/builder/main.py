# SCons build script of the local PlatformIO platform "bitear-arm".
#
# Builds Cortex-M4F firmware with the system toolchain (Debian package gcc-arm-none-eabi +
# libnewlib-arm-none-eabi), so nothing comes from the PlatformIO registry. Targets:
#   (default)  firmware.elf + firmware.bin, then a flash/RAM report from arm-none-eabi-size
#   upload     by the env's upload protocol (upload_protocol, else the board JSON's upload.protocol):
#                qemu    runs firmware.elf in QEMU (the board's machine), its serial line on this terminal
#                dfu     flashes firmware.bin through the STM32 system bootloader's USB DFU (dfu-util)
#                stlink  flashes firmware.bin through an ST-LINK probe (st-flash, Debian stlink-tools)
#   size       prints the flash/RAM report again
# The board JSON (project's boards/ dir) gives the CPU, the linker script, the QEMU machine and
# the flash address.

import os
import subprocess
import sys

from SCons.Script import AlwaysBuild, Builder, Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
platform_dir = env.PioPlatform().get_dir()

CPU_FLAGS = [
    "-mcpu=%s" % board.get("build.cpu", "cortex-m4"),
    "-mthumb",
    "-mfpu=%s" % board.get("build.fpu", "fpv4-sp-d16"),
    "-mfloat-abi=hard",
]

env.Replace(
    PROGNAME="firmware",
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-gcc",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    GDB="gdb-multiarch",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"],
    PROGSUFFIX=".elf",
)

env.Append(
    ASFLAGS=CPU_FLAGS,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=CPU_FLAGS + ["-ffunction-sections", "-fdata-sections", "-g"],
    LINKFLAGS=CPU_FLAGS
    + [
        "--specs=nano.specs",  # newlib-nano; no nosys.specs: a call to malloc/printf fails to link
        "-nostartfiles",  # the board library brings its own vector table and reset handler
        "-Wl,--gc-sections",
        "-Wl,-Map,%s" % os.path.join("$BUILD_DIR", "firmware.map"),
    ],
    LIBS=["c", "m", "gcc"],
)

# Linker script: board_build.ldscript / the board JSON's build.ldscript, looked up in the
# project first and then in this platform's ldscripts/ folder.
ldscript = board.get("build.ldscript", "")
if ldscript and not os.path.isabs(ldscript):
    in_project = os.path.join(env.subst("$PROJECT_DIR"), ldscript)
    ldscript = in_project if os.path.isfile(in_project) else os.path.join(platform_dir, "ldscripts", ldscript)
if ldscript:
    env.Replace(LDSCRIPT_PATH=ldscript)
env.Append(LIBPATH=[os.path.join(platform_dir, "ldscripts")])  # for INCLUDE bitear_cortex_m.ld

env.Append(
    BUILDERS=dict(
        ElfToBin=Builder(
            action=env.VerboseAction("$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"),
            suffix=".bin",
        )
    )
)

target_elf = env.BuildProgram()
target_bin = env.ElfToBin(os.path.join("$BUILD_DIR", "${PROGNAME}"), target_elf)


def print_size(elf):
    """arm-none-eabi-size, then flash and RAM against the budget the linker script enforces."""
    berkeley = subprocess.run([env.subst("$SIZETOOL"), "-B", "-d", elf], check=True, capture_output=True, text=True)
    print(berkeley.stdout.rstrip())
    text, data, bss = (int(v) for v in berkeley.stdout.splitlines()[1].split()[:3])
    nm = subprocess.run(["arm-none-eabi-nm", elf], check=True, capture_output=True, text=True).stdout
    symbols = {parts[2]: int(parts[0], 16) for parts in (line.split() for line in nm.splitlines()) if len(parts) == 3}
    print(
        "bitear size: flash %d bytes (text+data); RAM %d bytes (data+bss, stack %d included) of a %d-byte budget"
        % (text + data, data + bss, symbols.get("__bitear_stack_size", 0), symbols.get("__bitear_ram_budget", 0))
    )


def size_after_link(target, source, env):
    print_size(str(target[0]))


def size_of_source(target, source, env):
    print_size(str(source[0]))


env.AddPostAction(target_elf, env.VerboseAction(size_after_link, "Size of $TARGET"))
AlwaysBuild(env.Alias("size", target_elf, env.VerboseAction(size_of_source, "Size of $SOURCE")))

# "upload": by protocol. pio test never calls it for this platform (it declares no uploader
# package, so PlatformIO treats it as non-embedded and runs test_testing_command instead).
qemu_machine = board.get("build.qemu_machine", "mps2-an386")
flash_address = board.get("upload.flash_address", "0x08000000")
UPLOADERS = {
    "qemu": (
        "qemu-system-arm -M %s -nographic -monitor none %s "
        "-semihosting-config enable=on,target=native -kernel $SOURCE"
        % (qemu_machine, " ".join(["-serial null"] * int(board.get("build.qemu_serial_index", 0))) + " -serial stdio"),
        target_elf,
        "Running $SOURCE in QEMU %s (Ctrl-C quits)" % qemu_machine,
    ),
    # 0483:df11 is the STM32 system bootloader in DFU mode (BOOT0 high at reset); alt 0 is its flash.
    "dfu": (
        "dfu-util -d 0483:df11 -a 0 -s %s:leave -D $SOURCE" % flash_address,
        target_bin,
        "Flashing $SOURCE through USB DFU (dfu-util; BOOT0 high, then reset)",
    ),
    "stlink": ("st-flash --reset write $SOURCE %s" % flash_address, target_bin, "Flashing $SOURCE through an ST-LINK"),
}
protocol = env.subst("$UPLOAD_PROTOCOL") or board.get("upload.protocol", "qemu")
if protocol not in UPLOADERS:
    sys.stderr.write("Error: upload_protocol %s: bitear-arm knows %s\n" % (protocol, ", ".join(sorted(UPLOADERS))))
    env.Exit(1)
upload_cmd, upload_source, upload_message = UPLOADERS[protocol]
env.Replace(UPLOADCMD=upload_cmd)
AlwaysBuild(env.Alias("upload", upload_source, env.VerboseAction("$UPLOADCMD", upload_message)))

Default([target_bin])
