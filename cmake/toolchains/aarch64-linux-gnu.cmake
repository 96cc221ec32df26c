# Cross build for 64-bit ARM boards (Debian arm64) with Debian's cross compiler and multiarch
# libraries: apt-get install crossbuild-essential-arm64 qemu-user libopus-dev:arm64 ...
# (scripts/cross-build arm64 installs them). Use with -DLOA_NODE_ONLY=ON.
set(LOA_CROSS_TRIPLET aarch64-linux-gnu)
set(LOA_CROSS_QEMU qemu-aarch64)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
