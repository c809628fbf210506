# KAPPA_SANITIZE: the sanitizers every target of the build is compiled and linked with.
#
#   -DKAPPA_SANITIZE=address,undefined   AddressSanitizer + UndefinedBehaviorSanitizer
#   -DKAPPA_SANITIZE=thread              ThreadSanitizer
#   -DKAPPA_SANITIZE=ON                  the same as address,undefined
#
# Every report is fatal (-fno-sanitize-recover=all): a test that triggers one fails
# instead of printing a warning nobody reads. Frames keep their pointers so the reports'
# stacks are whole. ThreadSanitizer cannot be combined with AddressSanitizer, hence two
# builds (scripts/sanitize). The Debian libraries Kappa links (RocksDB, librdkafka,
# protobuf, Abseil, libstdc++) are not instrumented: their own memory errors go unseen,
# and tests/sanitizers/*.supp names the few reports they cause, each with its reason.
set(KAPPA_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined or thread (empty: none)")
if(KAPPA_SANITIZE STREQUAL "ON")
  set(KAPPA_SANITIZE address,undefined)
elseif(NOT KAPPA_SANITIZE OR KAPPA_SANITIZE STREQUAL "OFF")
  set(KAPPA_SANITIZE "")
endif()
if(KAPPA_SANITIZE)
  string(REPLACE "," ";" kappa_sanitizers "${KAPPA_SANITIZE}")
  foreach(sanitizer IN LISTS kappa_sanitizers)
    if(NOT sanitizer MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "KAPPA_SANITIZE: unknown sanitizer '${sanitizer}' (expected address,undefined or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST kappa_sanitizers AND "address" IN_LIST kappa_sanitizers)
    message(FATAL_ERROR "KAPPA_SANITIZE: thread cannot be combined with address; build them in two directories")
  endif()
  add_compile_options(-fsanitize=${KAPPA_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${KAPPA_SANITIZE})
endif()
