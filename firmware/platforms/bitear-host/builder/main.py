# SCons build script of the local PlatformIO platform "bitear-host".
#
# Builds the firmware's portable C with the system gcc as a program for this machine; it
# stands in for PlatformIO's "native" platform, which would have to come from the registry.
# Targets: (default) the program; "exec" and "upload" run it.

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()

env.Replace(
    AR="gcc-ar",
    AS="gcc",
    CC="gcc",
    CXX="g++",
    RANLIB="gcc-ranlib",
    PROGSUFFIX="",
)
env.Append(CPPDEFINES=["BITEAR_BOARD_HOST"], LIBS=["m"])

target_bin = env.BuildProgram()

run_action = env.VerboseAction("$SOURCE $PROGRAM_ARGS", "Executing $SOURCE")
AlwaysBuild(env.Alias("exec", target_bin, run_action))
AlwaysBuild(env.Alias("upload", target_bin, run_action))

Default([target_bin])
