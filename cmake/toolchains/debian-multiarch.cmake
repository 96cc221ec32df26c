# Shared part of the Debian multiarch toolchain files: the including file sets LOA_CROSS_TRIPLET
# (GNU triplet, e.g. aarch64-linux-gnu), LOA_CROSS_QEMU (qemu-user binary) and
# CMAKE_SYSTEM_PROCESSOR. No sysroot: the target's libraries are Debian packages of the foreign
# architecture (libfoo-dev:arm64) in /usr/lib/<triplet>, headers in /usr/include.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${LOA_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${LOA_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${LOA_CROSS_TRIPLET})

# With CMAKE_LIBRARY_ARCHITECTURE set, find_library and find_package(CONFIG) search
# /usr/lib/<triplet> (and its cmake/ directory), never the build machine's
# /usr/lib/x86_64-linux-gnu.

# pkg-config reads the target's .pc files only (Debian multiarch layout).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${LOA_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Test binaries run under qemu-user: ctest and gtest_discover_tests prefix them with this (no
# binfmt_misc needed). No -L /usr/<triplet>: the target's loader and libraries are the multiarch
# packages (libc6:arm64 puts /lib/ld-linux-aarch64.so.1 in place), the same glibc as on the
# device. With -L /usr/aarch64-linux-gnu (libc6-arm64-cross, an older 2.36-8 build) a
# condition-variable wait in MemoryHub's test and gtest's death tests hang under qemu 7.2.
find_program(LOA_QEMU_PROGRAM ${LOA_CROSS_QEMU})
if(LOA_QEMU_PROGRAM)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LOA_QEMU_PROGRAM})
endif()

# The architecture name of the .deb (cmake/packaging.cmake).
if(LOA_CROSS_TRIPLET STREQUAL "aarch64-linux-gnu")
  set(LOA_DEB_ARCHITECTURE arm64)
elseif(LOA_CROSS_TRIPLET STREQUAL "arm-linux-gnueabihf")
  set(LOA_DEB_ARCHITECTURE armhf)
endif()
