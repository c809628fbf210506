# Run by `cmake --install` (see install.cmake): installs kappa/*.h and every header they
# include with #include "kappa/...", transitively, under ${CMAKE_INSTALL_PREFIX}/include
# with the same relative paths. A header is looked up in the source tree, then in the
# build tree (generated headers such as kappa/checkpoint/manifest.pb.h).
#
# Inputs: KAPPA_SOURCE_DIR, KAPPA_BINARY_DIR, KAPPA_INCLUDEDIR.
cmake_policy(PUSH)
cmake_policy(VERSION 3.25)  # install scripts start with old policies (if(IN_LIST) needs 3.3)
file(GLOB public RELATIVE "${KAPPA_SOURCE_DIR}" "${KAPPA_SOURCE_DIR}/kappa/*.h")
set(queue ${public})
set(seen ${public})
set(found)
while(queue)
  list(POP_FRONT queue header)
  if(EXISTS "${KAPPA_SOURCE_DIR}/${header}")
    set(path "${KAPPA_SOURCE_DIR}/${header}")
  elseif(EXISTS "${KAPPA_BINARY_DIR}/${header}")
    set(path "${KAPPA_BINARY_DIR}/${header}")
  else()
    message(FATAL_ERROR "install: ${header} is included by an installed header but exists neither in "
                        "${KAPPA_SOURCE_DIR} nor in ${KAPPA_BINARY_DIR}; build first (cmake --build)")
  endif()
  list(APPEND found "${header}|${path}")
  file(STRINGS "${path}" includes REGEX "^[ \t]*#[ \t]*include[ \t]+\"kappa/[^\"]+\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"(kappa/[^\"]+)\".*$" "\\1" inc "${line}")
    if(NOT inc IN_LIST seen)
      list(APPEND seen "${inc}")
      list(APPEND queue "${inc}")
    endif()
  endforeach()
endwhile()

list(SORT found)
foreach(entry IN LISTS found)
  string(REPLACE "|" ";" pair "${entry}")
  list(GET pair 0 header)
  list(GET pair 1 path)
  get_filename_component(dir "${header}" DIRECTORY)
  file(INSTALL FILES "${path}" DESTINATION "${CMAKE_INSTALL_PREFIX}/${KAPPA_INCLUDEDIR}/${dir}")
endforeach()
cmake_policy(POP)
