# `docs`: the API reference of the public headers (ALEXFS_PUBLIC_HEADERS, from
# cmake/engine_library.cmake), rendered by Doxygen into build/docs/html.
# Warnings fail the target when ALEXFS_WERROR is on (the presets, CI).
find_program(ALEXFS_DOXYGEN doxygen)
if(ALEXFS_DOXYGEN)
  list(TRANSFORM ALEXFS_PUBLIC_HEADERS PREPEND "${PROJECT_SOURCE_DIR}/" OUTPUT_VARIABLE doc_inputs)
  list(JOIN doc_inputs " " ALEXFS_DOXYGEN_INPUT)
  if(ALEXFS_WERROR)
    set(ALEXFS_DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)
  else()
    set(ALEXFS_DOXYGEN_WARN_AS_ERROR NO)
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
  add_custom_target(docs
    COMMAND ${ALEXFS_DOXYGEN} ${PROJECT_BINARY_DIR}/Doxyfile
    DEPENDS ${doc_inputs}
    COMMENT "API reference -> ${PROJECT_BINARY_DIR}/docs/html/index.html"
    VERBATIM)
endif()
