# The loa-node Debian package (CPack DEB): `cpack -G DEB` in a build directory, or
# scripts/cross-build ARCH. Installed layout (node/CMakeLists.txt install rules):
#   /usr/bin/loa-node (stripped), /lib/systemd/system/loa-node.service,
#   /etc/loa/node.conf (conffile, every key commented), /usr/share/doc/loa-node/deployment.md;
# maintainer scripts in packaging/deb/ create the loa-node system user and its state directory.
# `cpack` installs what is built without building everything first (the package needs only
# loa-node: scripts/cross-build builds it and the unit tests, not the integration tests).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME loa-node)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "loa maintainers <loa@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "loa loudspeaker node daemon")
set(CPACK_PACKAGE_DESCRIPTION
    "Plays the bulletins and live streams that a loa controller schedules for\n\
its area, at wall-clock instants, on the device's sound card, and reports\n\
every playback. Install the node's provisioning bundle (loactl node\n\
provision) to /etc/loa, then start loa-node.service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL node)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

# The .deb's architecture: the toolchain file's (arm64, armhf), else the build machine's.
if(LOA_DEB_ARCHITECTURE)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${LOA_DEB_ARCHITECTURE})
else()
  find_program(LOA_DPKG dpkg)
  if(LOA_DPKG)
    execute_process(COMMAND ${LOA_DPKG} --print-architecture
                    OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
endif()

# Library dependencies from dpkg-shlibdeps (also for cross builds: it finds the target's
# libraries through the multiarch packages' shlibs/symbols files). adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/postinst ${PROJECT_SOURCE_DIR}/packaging/deb/prerm
    ${PROJECT_SOURCE_DIR}/packaging/deb/postrm ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
