# Cross build for 64-bit Arm (aarch64) with Debian's cross compiler
# (gcc-aarch64-linux-gnu) and the arm64 -dev packages of a multiarch
# system (dpkg --add-architecture arm64; scripts/setup --arm64):
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Programs built here run on this machine under qemu-user-static
# (CMAKE_CROSSCOMPILING_EMULATOR: ctest's own tests go through it).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
find_program(OTELP_AARCH64_CXX aarch64-linux-gnu-g++)
if(OTELP_AARCH64_CXX)
  set(CMAKE_CXX_COMPILER ${OTELP_AARCH64_CXX})
else()
  # No cross C++ compiler (g++-aarch64-linux-gnu): the C++ test programs
  # are left out, rather than built for the build machine.
  set(CMAKE_CXX_COMPILER CMAKE_CXX_COMPILER-NOTFOUND)
endif()
# Headers and libraries: the arm64 packages' multiarch directories
# (/usr/include/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu) and the
# architecture-independent /usr/include; programs (nanopb's generator,
# python3) from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
find_program(OTELP_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(OTELP_QEMU_AARCH64)
  # No -L: the arm64 packages bring the aarch64 loader and C library to
  # their multiarch places (/lib/ld-linux-aarch64.so.1), where qemu finds
  # them (with -L /usr/aarch64-linux-gnu, qemu 7.2 hung in a child whose
  # exec had failed).
  set(CMAKE_CROSSCOMPILING_EMULATOR ${OTELP_QEMU_AARCH64})
endif()
