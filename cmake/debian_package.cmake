# `cpack -G DEB` from a build configured with CMAKE_INSTALL_PREFIX=/usr (the
# `package` preset): one alexfs_VERSION_ARCH.deb with /usr/bin/alexfs, the
# mount helper, the systemd unit, libalexfs.so and its headers, CMake package
# and alexfs.pc. Configure-time paths (the unit's ExecStart, the mount helper's
# alexfs) follow CMAKE_INSTALL_PREFIX, so the package installs where it was
# configured for.
set(CPACK_PACKAGE_NAME alexfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "AlexFS maintainers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "key-value store mounted as a directory (FUSE), and its embeddable engine")
set(CPACK_PACKAGE_DESCRIPTION
    "AlexFS presents a durable key-value store as a directory: every key is a file. \
Includes the alexfs program, the mount.fuse.alexfs helper, the alexfs@.service \
systemd unit, and libalexfs (AlexStorage, the engine) with headers for embedding.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
# The library dependencies (libfuse3-3, libspdlog1.10, libfmt9, libsystemd0, libzstd1,
# libstdc++6, libc6) come from dpkg-shlibdeps on the binaries; fuse3 provides
# fusermount3 and /dev/fuse's setup, which no binary links.
find_program(ALEXFS_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(ALEXFS_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "fuse3, libfuse3-3 (>= 3.10), libspdlog1.10, libfmt9, libsystemd0, libzstd1, libstdc++6 (>= 12), libc6 (>= 2.36)")
endif()
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_GENERATOR DEB)
include(CPack)
