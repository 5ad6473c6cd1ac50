# SCons build script of the local PlatformIO platform "bitear-arm".
#
# Builds Cortex-M4F firmware with the system toolchain (Debian package gcc-arm-none-eabi +
# libnewlib-arm-none-eabi), so nothing comes from the PlatformIO registry. Targets:
#   (default)  firmware.elf + firmware.bin, then a flash/RAM report from arm-none-eabi-size
#   upload     runs firmware.elf in QEMU (board "mps2-an386"), UART0 on this terminal
#   size       prints the flash/RAM report again
# The board JSON (project's boards/ dir) gives the CPU, the linker script and the QEMU machine.

import os
import subprocess

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

# "upload" = run in QEMU. pio test never calls it for this platform (it declares no uploader
# package, so PlatformIO treats it as non-embedded and runs test_testing_command instead).
qemu_machine = board.get("build.qemu_machine", "mps2-an386")
env.Replace(
    UPLOADCMD="qemu-system-arm -M %s -nographic -monitor none -serial stdio "
    "-semihosting-config enable=on,target=native -kernel $SOURCE" % qemu_machine
)
AlwaysBuild(
    env.Alias(
        "upload",
        target_elf,
        env.VerboseAction("$UPLOADCMD", "Running $SOURCE in QEMU %s (Ctrl-C quits)" % qemu_machine),
    )
)

Default([target_bin])
