# Cross build for 32-bit ARM boards with hardware floating point (Debian armhf: ARMv7, e.g. older
# Raspberry Pi OS images) with Debian's cross compiler and multiarch libraries:
# apt-get install crossbuild-essential-armhf qemu-user libopus-dev:armhf ...
# (scripts/cross-build armhf installs them). Use with -DLOA_NODE_ONLY=ON.
set(LOA_CROSS_TRIPLET arm-linux-gnueabihf)
set(LOA_CROSS_QEMU qemu-arm)
set(CMAKE_SYSTEM_PROCESSOR arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
