# The installable engine: libalexfs.so (target alexfs_shared, exported as
# AlexFS::engine), its public headers under include/alexfs/, a CMake package
# (find_package(AlexFS CONFIG)) and alexfs.pc for pkg-config.
#
# The shared library is built from the same sources as the static libraries the
# tools and tests link (alexfs_engine and every alexfs_* static library it links),
# so a source added to one of those lands in libalexfs.so too.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# What `#include <alexfs/store.h>` needs, and nothing internal. Each includes
# the others by bare name ("status.h"), so they work in the source tree and
# installed flat.
set(ALEXFS_PUBLIC_HEADERS
  engine/store.h
  engine/env.h
  engine/status.h
  engine/stats.h
  engine/write_batch.h
)

# Collects into `out` the sources (absolute paths) of `target` and of the alexfs
# static libraries it links, and into `out_deps` the other libraries they link.
function(alexfs_collect_static_sources target out out_deps)
  set(pending ${target})
  set(seen "")
  set(sources "")
  set(deps "")
  while(pending)
    list(POP_FRONT pending t)
    if(t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(dir ${t} SOURCE_DIR)
    get_target_property(srcs ${t} SOURCES)
    foreach(s IN LISTS srcs)
      cmake_path(ABSOLUTE_PATH s BASE_DIRECTORY ${dir} NORMALIZE OUTPUT_VARIABLE abs)
      list(APPEND sources ${abs})
    endforeach()
    get_target_property(libs ${t} LINK_LIBRARIES)
    foreach(lib IN LISTS libs)
      if(TARGET ${lib})
        get_target_property(type ${lib} TYPE)
        get_target_property(imported ${lib} IMPORTED)
        if(type STREQUAL "STATIC_LIBRARY" AND NOT imported AND lib MATCHES "^alexfs_")
          list(APPEND pending ${lib})
          continue()
        endif()
      endif()
      list(APPEND deps ${lib})
    endforeach()
  endwhile()
  list(REMOVE_DUPLICATES sources)
  list(REMOVE_DUPLICATES deps)
  set(${out} ${sources} PARENT_SCOPE)
  set(${out_deps} ${deps} PARENT_SCOPE)
endfunction()

alexfs_collect_static_sources(alexfs_engine ALEXFS_ENGINE_SOURCES ALEXFS_ENGINE_DEPS)

# 0.x releases may break the ABI in any minor version, so the soname carries
# major.minor until 1.0, then the major version alone.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(ALEXFS_SOVERSION "${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}")
else()
  set(ALEXFS_SOVERSION "${PROJECT_VERSION_MAJOR}")
endif()

add_library(alexfs_shared SHARED ${ALEXFS_ENGINE_SOURCES})
add_library(AlexFS::engine ALIAS alexfs_shared)
set_target_properties(alexfs_shared PROPERTIES
  OUTPUT_NAME alexfs
  EXPORT_NAME engine
  VERSION ${PROJECT_VERSION}
  SOVERSION ${ALEXFS_SOVERSION})
target_compile_features(alexfs_shared PUBLIC cxx_std_20)
target_include_directories(alexfs_shared
  PRIVATE ${PROJECT_SOURCE_DIR}
  INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# spdlog (and fmt under it) and threads are private: no public header uses
# them, and libalexfs.so records them as its own DT_NEEDED entries, so a
# program linking AlexFS::engine or -lalexfs needs neither their headers nor
# their link flags.
target_link_libraries(alexfs_shared PRIVATE ${ALEXFS_ENGINE_DEPS})

install(TARGETS alexfs_shared EXPORT AlexFSTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(FILES ${ALEXFS_PUBLIC_HEADERS}
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/alexfs COMPONENT dev)

set(ALEXFS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/AlexFS)
install(EXPORT AlexFSTargets NAMESPACE AlexFS:: DESTINATION ${ALEXFS_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/AlexFSConfig.cmake.in
  ${PROJECT_BINARY_DIR}/AlexFSConfig.cmake INSTALL_DESTINATION ${ALEXFS_CMAKE_DIR})
# Before 1.0 a minor release may break the API: only the same minor version matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/AlexFSConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/AlexFSConfig.cmake ${PROJECT_BINARY_DIR}/AlexFSConfigVersion.cmake
  DESTINATION ${ALEXFS_CMAKE_DIR} COMPONENT dev)

# alexfs.pc finds its prefix relative to itself, so an install moved elsewhere
# (or made with `cmake --install --prefix`) still works.
file(RELATIVE_PATH ALEXFS_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" ALEXFS_PC_TO_PREFIX "${ALEXFS_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/alexfs.pc.in ${PROJECT_BINARY_DIR}/alexfs.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/alexfs.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
